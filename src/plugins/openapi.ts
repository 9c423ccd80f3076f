// Owns the generated OpenAPI document and Swagger UI. Schemas with a
// `title` are hoisted into named components, so clients get `Appeal`,
// `Problem`… instead of anonymous inline copies. What the routes' schemas
// cannot say is added here by rule, from the routes' own settings, so a new
// route is documented the same way without repeating it: keyless operations
// (`security: []`), the response headers (ETag, Location,
// idempotent-replayed, the rate-limit headers), bodies that may be left out,
// and the event bodies under OpenAPI 3.1 `webhooks`.
import { STATUS_CODES } from 'node:http'
import type { FastifyInstance, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { EVENT_BODY_SCHEMAS, EVENT_ID_PATTERN, type EventType } from '../schemas/event.js'

type Json = Record<string, unknown>

/** Replaces every titled schema (in paths and webhooks) by a `$ref` to one component of that name. */
function hoistNamedSchemas(document: Json): Json {
  const components = ((document.components ??= {}) as Json)
  const schemas = ((components.schemas ??= {}) as Json)
  const seen = new Map<string, string>()
  const visit = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(visit)
    if (node === null || typeof node !== 'object') return node
    const object = node as Json
    const out: Json = {}
    for (const [key, value] of Object.entries(object)) out[key] = visit(value)
    const title = object.title
    const isSchema = typeof title === 'string' && ['type', 'anyOf', 'oneOf', 'allOf'].some((k) => k in object)
    if (!isSchema) return out
    // @fastify/swagger moves a parameter's description out of its schema: compare without it.
    const { description: _d, ...shape } = out
    const serialised = JSON.stringify(shape)
    const previous = seen.get(title)
    if (previous !== undefined && previous !== serialised) {
      throw new Error(`two different schemas are both titled ${title}:\n${previous}\n${serialised}`)
    }
    seen.set(title, serialised)
    if (previous !== undefined) return { $ref: `#/components/schemas/${title}` }
    schemas[title] = out
    return { $ref: `#/components/schemas/${title}` }
  }
  const paths = visit(document.paths) as Json
  const webhooks = document.webhooks === undefined ? undefined : visit(document.webhooks) as Json
  // component schemas may themselves contain titled schemas
  for (const [name, schema] of Object.entries({ ...schemas })) {
    const inner = schema as Json
    const hoisted: Json = {}
    for (const [key, value] of Object.entries(inner)) hoisted[key] = visit(value)
    schemas[name] = hoisted
  }
  return {
    ...document, paths, ...(webhooks ? { webhooks } : {}),
    components: { ...components, schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))) },
  }
}

const PROBLEM_REF = '#/components/schemas/Problem'
const METHODS = new Set(['get', 'put', 'post', 'patch', 'delete', 'options', 'head', 'trace'])
const problemContent = { 'application/problem+json': { schema: { $ref: PROBLEM_REF } } }
const header = (name: string) => ({ $ref: `#/components/headers/${name}` })

/** The response headers, described once and referenced by every response that sends them. */
const RESPONSE_HEADERS: Record<string, Json> = {
  ETag: {
    description: 'The version of the resource returned, `"<version>"`. Send it back in `If-Match` to change the resource only if nobody else has meanwhile.',
    schema: { type: 'string', examples: ['"3"'] },
  },
  Location: {
    description: 'The path of the resource just created.',
    schema: { type: 'string', examples: ['/v1/appeals/ba4a8af2-9eb0-42f6-a0df-988f9e756ae3'] },
  },
  IdempotentReplayed: {
    description: '`true` when this is the stored response to an earlier request with the same `Idempotency-Key`: nothing was done again. Absent on a first response.',
    schema: { type: 'string', enum: ['true'] },
  },
  RateLimitLimit: {
    description: 'Requests allowed per minute in the rate limit that counted this request (keyless requests per client address; supporter endpoints count every request; some partner actions per organisation).',
    schema: { type: 'integer', minimum: 0 },
  },
  RateLimitRemaining: { description: 'Requests left in the current minute.', schema: { type: 'integer', minimum: 0 } },
  RateLimitReset: { description: 'Seconds until the count starts again.', schema: { type: 'integer', minimum: 0 } },
  RetryAfter: { description: 'Seconds to wait before retrying.', schema: { type: 'string', pattern: '^[0-9]+$' } },
}
const RETRY_AFTER = { 'retry-after': header('RetryAfter') }
const RATE_LIMIT_HEADERS = {
  'x-ratelimit-limit': header('RateLimitLimit'),
  'x-ratelimit-remaining': header('RateLimitRemaining'),
  'x-ratelimit-reset': header('RateLimitReset'),
}

/** What the document needs to know about a route beyond its schema; carried on the operation until `describeOperations`. */
interface RouteFacts {
  idempotent: boolean
  /** `public`: the global limit on keyless requests; `own`: a limit of the route's, counting keyed requests too. */
  rateLimit: 'none' | 'public' | 'own'
}
const FACTS = 'x-ua-route'

/** @fastify/swagger's per-route hook: notes the route settings that decide headers. */
function noteRouteFacts({ schema, url, route }: { schema: unknown; url: string; route: RouteOptions }): { schema?: Json; url: string } {
  if (schema === undefined || schema === null) return { url }
  const rateLimit = (route.config as { rateLimit?: unknown } | undefined)?.rateLimit
  const facts: RouteFacts = {
    idempotent: (route.config as { idempotent?: boolean } | undefined)?.idempotent === true,
    rateLimit: rateLimit === false ? 'none' : typeof rateLimit === 'object' && rateLimit !== null ? 'own' : 'public',
  }
  return { schema: { ...(schema as Json), [FACTS]: facts }, url }
}

/** The JSON schema of a response or request body, its `$ref` resolved. */
const jsonSchemaOf = (document: Json, body: Json | undefined): Json | undefined => {
  const schema = (body?.content as Record<string, { schema?: Json }> | undefined)?.['application/json']?.schema
  const ref = schema?.$ref
  if (typeof ref !== 'string') return schema
  return ((document.components as Json).schemas as Json)[ref.split('/').pop()!] as Json | undefined
}
const acceptsEmptyObject = (schema: Json | undefined) =>
  schema !== undefined && schema.type === 'object' && !(Array.isArray(schema.required) && schema.required.length > 0)
  && !(typeof schema.minProperties === 'number' && schema.minProperties > 0)

/**
 * Completes every operation by rule:
 * - `security: []` where the route names none (it takes no key);
 * - error responses as they really leave the API (plugins/problem-details.ts):
 *   `application/problem+json`, plus the 500 any operation can produce (never
 *   with internals) and, on the API, the 503 while Postgres is unreachable;
 * - `ETag` on success responses carrying a versioned resource; `Location` on
 *   a 201 of a collection whose members can be read at `{collection}/{id}`;
 *   `idempotent-replayed` on routes that honour Idempotency-Key; the
 *   rate-limit headers and a 429 on routes that a rate limit counts;
 * - `requestBody.required: false` where an empty body is the same as `{}`.
 */
function describeOperations(document: Json): Json {
  const paths = (document.paths ?? {}) as Record<string, Json>
  ;((document.components ??= {}) as Json).headers = RESPONSE_HEADERS
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, value] of Object.entries(item)) {
      if (!METHODS.has(method)) continue
      const operation = value as Json
      const facts = (operation[FACTS] ?? { idempotent: false, rateLimit: 'none' }) as RouteFacts
      delete operation[FACTS]
      const security = (operation.security ??= []) as Json[]
      const keyless = security.length === 0 || security.some((s) => Object.keys(s).length === 0)
      const rateLimited = facts.rateLimit === 'own' || (facts.rateLimit === 'public' && keyless)
      const responses = (operation.responses ??= {}) as Record<string, Json>
      if (rateLimited) {
        responses['429'] ??= { content: { 'application/json': { schema: { $ref: PROBLEM_REF } } } }
      }
      const createsMember = method === 'post' && `${path}/{id}` in paths && 'get' in (paths[`${path}/{id}`] as Json)
      for (const [status, response] of Object.entries(responses)) {
        const content = response.content as Record<string, { schema?: Json }> | undefined
        if (content?.['application/json']?.schema?.$ref === PROBLEM_REF) {
          const headers = status === '503' ? RETRY_AFTER : status === '429' ? { ...RETRY_AFTER, ...RATE_LIMIT_HEADERS } : undefined
          responses[status] = {
            description: `${STATUS_CODES[Number(status)] ?? 'Error'}: RFC 9457 problem details`,
            ...(headers ? { headers } : {}),
            content: problemContent,
          }
          continue
        }
        if (response.description === 'Default Response') response.description = STATUS_CODES[Number(status)] ?? 'Response'
        if (!/^2/.test(status)) continue
        const headers: Json = { ...(response.headers as Json | undefined) }
        const body = jsonSchemaOf(document, response)
        if (body?.properties !== undefined && 'version' in (body.properties as Json)) headers.etag = header('ETag')
        if (status === '201' && createsMember) headers.location = header('Location')
        if (facts.idempotent) headers['idempotent-replayed'] = header('IdempotentReplayed')
        if (rateLimited) Object.assign(headers, RATE_LIMIT_HEADERS)
        if (Object.keys(headers).length > 0) {
          const { content: c, ...rest } = response
          responses[status] = { ...rest, headers, ...(c ? { content: c } : {}) }
        }
      }
      responses['500'] ??= { description: `${STATUS_CODES[500]}: RFC 9457 problem details; never reveals internals`, content: problemContent }
      if (path.startsWith('/v1/')) {
        responses['503'] ??= { description: `${STATUS_CODES[503]}: a dependency is unreachable; retry after the given delay`, headers: RETRY_AFTER, content: problemContent }
      }
      operation.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)))
      const requestBody = operation.requestBody as Json | undefined
      if (requestBody && acceptsEmptyObject(jsonSchemaOf(document, requestBody))) requestBody.required = false
    }
  }
  // Readers expect the overview first and the reference last.
  const { openapi: version, info, servers, tags, security, paths: _p, webhooks, components, ...rest } = document
  return { openapi: version, info, servers, tags, ...(security ? { security } : {}), paths, ...(webhooks ? { webhooks } : {}), components, ...rest }
}

const EVENT_SUMMARIES: Record<EventType, string> = {
  'appeal.published': 'An appeal was published',
  'appeal.updated': 'A published appeal changed or got a follow-up',
  'appeal.closed': 'An appeal was closed with its outcome',
  'appeal.withdrawn': 'An appeal was withdrawn',
  'webhook.test': 'A test delivery',
}
const camel = (type: string) => type.replace(/[.-](\w)/g, (_m, c: string) => c.toUpperCase())

/**
 * The requests this service makes to partners (contract §5): one POST per
 * event type, its body typed, signed as Standard Webhooks says.
 */
function webhookOperations(): Json {
  const parameters = [
    {
      name: 'webhook-id', in: 'header', required: true,
      description: 'The event id: the same on every retry and for every endpoint. Deduplicate on it (delivery is at least once).',
      schema: { type: 'string', pattern: EVENT_ID_PATTERN, examples: ['msg_01M8FHV543N7M9VJGS8PCASNPX'] },
    },
    {
      name: 'webhook-timestamp', in: 'header', required: true,
      description: 'Unix seconds when this attempt was signed. Reject a timestamp far from your clock (replays).',
      schema: { type: 'string', pattern: '^[0-9]+$', examples: ['1767225600'] },
    },
    {
      name: 'webhook-signature', in: 'header', required: true,
      description: 'Space-separated `v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">` keyed with the endpoint secret (the base64 after `whsec_`); two entries while a rotated secret is in its grace period. Accept the request if any entry matches.',
      schema: { type: 'string', pattern: '^v1,[A-Za-z0-9+/]+={0,2}( v1,[A-Za-z0-9+/]+={0,2})*$' },
    },
  ]
  return Object.fromEntries(Object.entries(EVENT_BODY_SCHEMAS).map(([type, schema]) => [type, {
    post: {
      operationId: `${camel(type)}Webhook`,
      summary: EVENT_SUMMARIES[type as EventType],
      description: `${(schema as { description?: string }).description ?? ''} Sent as a signed POST (Standard Webhooks) to every active endpoint subscribed to \`${type}\`${type === 'webhook.test' ? ' (here: the one tested)' : ''}; the same body is in the event log (\`GET /v1/events\`) with its \`id\`.`.trim(),
      tags: ['webhooks'],
      security: [],
      parameters,
      requestBody: { required: true, content: { 'application/json': { schema } } },
      responses: {
        '2XX': { description: 'Received. Any 2xx is success; the body of the answer is ignored (up to 4 KB is kept in the attempt log).' },
        '410': { description: 'Gone: the endpoint is disabled at once and gets nothing more until it is enabled again.' },
        default: { description: 'Any other answer, a redirect, or none within WEBHOOK_TIMEOUT_MS: retried on WEBHOOK_RETRY_SCHEDULE (±20 % jitter; `Retry-After` honoured within bounds) until the appeal\'s `actionDeadline` has passed.' },
      },
    },
  }]))
}

const TAGS = [
  { name: 'appeals', description: 'Drafting, publishing, following up and closing urgent appeals (staff)' },
  { name: 'events', description: 'The event log: the polling fallback for webhooks' },
  { name: 'administration', description: 'Organisations, API keys and the audit log (admin)' },
  { name: 'webhooks', description: 'Partner webhook endpoints, their secrets and deliveries (Standard Webhooks); the requests sent to them are under `webhooks`' },
  { name: 'subscriptions', description: 'Supporter email subscriptions (public, token-scoped)' },
  { name: 'email-events', description: 'Bounce and complaint events from email providers (Amazon SES through SNS, Postmark, Mailgun, SendGrid), each verified before use; a provider not configured answers 404' },
  { name: 'feeds', description: 'Public feeds for readers and aggregators: Atom, JSON Feed and CAP 1.2 (no key)' },
  { name: 'operations', description: 'Health, readiness and metrics' },
]

/** The finished document from @fastify/swagger's: webhooks added, named schemas hoisted, operations described. */
function finishDocument(document: Json): Json {
  return describeOperations(hoistNamedSchemas({ ...document, webhooks: webhookOperations() }))
}

export const openapi = fp(async (app: FastifyInstance, opts: { version: string; publicBaseUrl: string }) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Urgent Appeals API',
        version: opts.version,
        description: 'Urgent appeals for people at risk: staff publish, partners receive signed webhooks, supporters get email alerts. Errors are RFC 9457 problem documents.',
        license: { name: 'AGPL-3.0-or-later', identifier: 'AGPL-3.0-or-later' },
      },
      servers: [{ url: opts.publicBaseUrl }],
      tags: TAGS,
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'An API key: `Authorization: Bearer ua_…`' },
        },
      },
    },
    transform: noteRouteFacts as never,
    transformObject: (doc) => ('openapiObject' in doc ? finishDocument(doc.openapiObject as Json) : doc.swaggerObject) as never,
  })
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true } })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}, { name: 'openapi' })
