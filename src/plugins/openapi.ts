// Owns the generated OpenAPI document and Swagger UI. Schemas with a
// `title` are hoisted into named components, so clients get `Appeal`,
// `Problem`… instead of anonymous inline copies.
import { STATUS_CODES } from 'node:http'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'

type Json = Record<string, unknown>

/** Replaces every titled schema by a `$ref` to one component of that name. */
export function hoistNamedSchemas(document: Json): Json {
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
    const isSchema = typeof title === 'string' && ('type' in object || 'anyOf' in object || 'oneOf' in object)
    if (!isSchema) return out
    // @fastify/swagger moves a parameter's description out of its schema: compare without it.
    const { description: _d, ...shape } = out
    const serialised = JSON.stringify(shape)
    const previous = seen.get(title)
    if (previous !== undefined && previous !== serialised) {
      throw new Error(`two different schemas are both titled ${title}`)
    }
    seen.set(title, serialised)
    if (previous !== undefined) return { $ref: `#/components/schemas/${title}` }
    schemas[title] = out
    return { $ref: `#/components/schemas/${title}` }
  }
  const paths = visit(document.paths) as Json
  // component schemas may themselves contain titled schemas
  for (const [name, schema] of Object.entries({ ...schemas })) {
    const inner = schema as Json
    const hoisted: Json = {}
    for (const [key, value] of Object.entries(inner)) hoisted[key] = visit(value)
    schemas[name] = hoisted
  }
  return { ...document, paths, components: { ...components, schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))) } }
}

const PROBLEM_REF = '#/components/schemas/Problem'
const METHODS = new Set(['get', 'put', 'post', 'patch', 'delete', 'options', 'head', 'trace'])
const problemContent = { 'application/problem+json': { schema: { $ref: PROBLEM_REF } } }
const RETRY_AFTER = { 'retry-after': { description: 'seconds to wait before retrying', schema: { type: 'string' } } }

/**
 * Error responses as they really leave the API (plugins/problem-details.ts):
 * `application/problem+json`, described by status; plus the 5xx that the one
 * error handler can produce on any operation — 500 (never with internals) and,
 * on the API, 503 while Postgres is unreachable.
 */
export function describeProblemResponses(document: Json): Json {
  const paths = (document.paths ?? {}) as Record<string, Json>
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!METHODS.has(method)) continue
      const responses = ((operation as Json).responses ??= {}) as Record<string, Json>
      for (const [status, response] of Object.entries(responses)) {
        const content = response.content as Record<string, { schema?: Json }> | undefined
        if (content?.['application/json']?.schema?.$ref === PROBLEM_REF) {
          responses[status] = {
            description: `${STATUS_CODES[Number(status)] ?? 'Error'}: RFC 9457 problem details`,
            ...(status === '503' || status === '429' ? { headers: RETRY_AFTER } : {}),
            content: problemContent,
          }
        } else if (response.description === 'Default Response') {
          response.description = STATUS_CODES[Number(status)] ?? 'Response'
        }
      }
      responses['500'] ??= { description: `${STATUS_CODES[500]}: RFC 9457 problem details; never reveals internals`, content: problemContent }
      if (path.startsWith('/v1/')) {
        responses['503'] ??= { description: `${STATUS_CODES[503]}: a dependency is unreachable; retry after the given delay`, headers: RETRY_AFTER, content: problemContent }
      }
      ;(operation as Json).responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)))
    }
  }
  // Readers expect the overview first and the reference last.
  const { openapi: version, info, servers, tags, security, paths: _p, components, ...rest } = document
  return { openapi: version, info, servers, tags, ...(security ? { security } : {}), paths, components, ...rest }
}

export const TAGS = [
  { name: 'appeals', description: 'Drafting, publishing, following up and closing urgent appeals (staff)' },
  { name: 'events', description: 'The event log: the polling fallback for webhooks' },
  { name: 'administration', description: 'Organisations, API keys and the audit log (admin)' },
  { name: 'webhooks', description: 'Partner webhook endpoints, their secrets and deliveries (Standard Webhooks)' },
  { name: 'subscriptions', description: 'Supporter email subscriptions (public, token-scoped)' },
  { name: 'operations', description: 'Health, readiness and metrics' },
]

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
    transformObject: (doc) => ('openapiObject' in doc ? describeProblemResponses(hoistNamedSchemas(doc.openapiObject as Json)) : doc.swaggerObject) as never,
  })
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true } })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}, { name: 'openapi' })
