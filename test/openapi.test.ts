// The generated OpenAPI document: committed, current, valid, complete, and
// served by the app. Needs no Postgres or Redis: the app is built offline.
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import t from 'tap'
import SwaggerParser from '@apidevtools/swagger-parser'
import {
  OPENAPI_FILE, buildOfflineApp, generateOpenApiDocument, renderOpenApi,
} from '../src/scripts/write-openapi.js'

type Json = Record<string, any>
const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'options', 'head', 'trace']
const PROBLEM_REF = '#/components/schemas/Problem'

function operations(document: Json): { method: string; path: string; operation: Json }[] {
  return Object.entries(document.paths as Json).flatMap(([path, item]) =>
    Object.entries(item as Json).filter(([method]) => METHODS.includes(method))
      .map(([method, operation]) => ({ method, path, operation: operation as Json })))
}

// Generated once for the read-only checks; each caller gets its own copy.
let generated: Promise<Record<string, unknown>> | undefined
const freshDocument = async () => structuredClone(await (generated ??= generateOpenApiDocument()))

const referencesProblem = (response: Json) =>
  Object.values((response.content ?? {}) as Json).some((media) => (media as Json).schema?.$ref === PROBLEM_REF)

t.test('openapi/openapi.json is what `npm run openapi` generates now', async (t) => {
  const committed = readFileSync(OPENAPI_FILE, 'utf8')
  const fresh = renderOpenApi(await freshDocument())
  t.ok(committed === fresh,
    'openapi/openapi.json is out of date with the routes: run `npm run openapi` and commit openapi/openapi.json')
  t.ok(committed.endsWith('}\n'), 'ends with one newline')
  t.equal(committed, `${JSON.stringify(JSON.parse(committed), null, 2)}\n`, 'two-space JSON')
  t.equal(renderOpenApi(await generateOpenApiDocument()), fresh, 'generation is deterministic')
})

t.test('generating the document opens no connection to Postgres or Redis', async (t) => {
  const listen = () => new Promise<{ server: Server; port: number; connections: () => number }>((resolve) => {
    let n = 0
    const server = createServer((socket) => { n++; socket.destroy() })
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port, connections: () => n }))
  })
  const pg = await listen()
  const redis = await listen()
  t.teardown(() => { pg.server.close(); redis.server.close() })
  const document = await generateOpenApiDocument({
    databaseUrl: `postgres://nobody@127.0.0.1:${pg.port}/none`, redisUrl: `redis://127.0.0.1:${redis.port}`,
  })
  t.ok(Object.keys(document.paths as Json).length > 0)
  await new Promise((resolve) => setTimeout(resolve, 50)) // a stray lazy connect would have landed by now
  t.equal(pg.connections(), 0, 'no Postgres connection')
  t.equal(redis.connections(), 0, 'no Redis connection')
})

t.test('the document is valid OpenAPI 3.1', async (t) => {
  const document = await freshDocument()
  t.equal(document.openapi, '3.1.0')
  await t.resolves(SwaggerParser.validate(structuredClone(document) as never))
  // The validator is not a rubber stamp: a dangling $ref and a missing info fail.
  const dangling = structuredClone(document) as Json
  dangling.paths['/v1/appeals'].get.responses['200'].content['application/json'].schema = { $ref: '#/components/schemas/Nope' }
  await t.rejects(SwaggerParser.validate(dangling as never))
  const noInfo = structuredClone(document) as Json
  delete noInfo.info
  await t.rejects(SwaggerParser.validate(noInfo as never))
})

t.test('every operation is named, summarised, tagged and documents its problems', async (t) => {
  const document = await freshDocument()
  const declaredTags = new Set((document.tags as Json[]).map((tag) => tag.name))
  const ops = operations(document)
  t.ok(ops.length >= 15, `${ops.length} operations`)
  const ids = ops.map(({ operation }) => operation.operationId)
  t.same(ids.filter((id, i) => ids.indexOf(id) !== i), [], 'operationIds are unique')
  for (const { method, path, operation } of ops) {
    const name = `${method.toUpperCase()} ${path}`
    t.match(operation.operationId, /^[a-z][A-Za-z0-9]+$/, `${name}: camelCase operationId`)
    t.ok(typeof operation.summary === 'string' && operation.summary.length > 5, `${name}: summary`)
    t.ok(Array.isArray(operation.tags) && operation.tags.length > 0, `${name}: tags`)
    for (const tag of operation.tags ?? []) t.ok(declaredTags.has(tag), `${name}: tag ${tag} is declared with a description`)
    const responses = Object.entries(operation.responses as Json)
    t.ok(responses.some(([status]) => /^2/.test(status)), `${name}: a success response`)
    const problems = responses.filter(([status]) => /^[45]/.test(status))
    for (const [status, response] of problems) {
      t.ok(referencesProblem(response as Json), `${name} ${status}: references the Problem component`)
      t.ok((response as Json).content?.['application/problem+json'], `${name} ${status}: application/problem+json`)
    }
    t.ok(problems.some(([status]) => status === '500'), `${name}: documents the generic 500`)
    // The ops probes take no input and no key, so only the API can answer 4xx.
    if (path.startsWith('/v1/')) {
      t.ok(problems.some(([status]) => /^4/.test(status)), `${name}: at least one 4xx problem`)
      t.ok((operation.responses as Json)['503']?.headers?.['retry-after'], `${name}: 503 with Retry-After`)
    }
  }
})

t.test('named components exist and are referenced, not copied', async (t) => {
  const document = await freshDocument()
  const schemas = (document.components as Json).schemas as Json
  for (const name of ['Appeal', 'StaffAppeal', 'Approval', 'AppealPage', 'CreateAppeal', 'PatchAppeal', 'Problem', 'FieldError', 'PeopleAtRisk', 'Target', 'Source', 'Translation', 'Outcome', 'Urgency', 'AppealStatus', 'Event', 'EventPage', 'ApiKey', 'Organisation', 'Readiness', 'Health']) {
    t.ok(schemas[name], `components.schemas.${name}`)
  }
  t.same(Object.keys(schemas), Object.keys(schemas).sort((a, b) => a.localeCompare(b)), 'components sorted by name')
  t.ok(schemas.Problem.properties.errors, 'Problem carries validation errors')
  t.ok((document.components as Json).securitySchemes.apiKey, 'the bearer scheme')
  const text = JSON.stringify(document.paths)
  t.notOk(text.includes('"title":"Appeal"'), 'no inline copy of Appeal in paths')
  const createAppeal = operations(document).find(({ operation }) => operation.operationId === 'createAppeal')!.operation
  t.equal(createAppeal.responses['201'].content['application/json'].schema.$ref, '#/components/schemas/StaffAppeal')
  t.equal(createAppeal.requestBody.content['application/json'].schema.$ref, '#/components/schemas/CreateAppeal')
  t.same(Object.keys(document).slice(0, 4), ['openapi', 'info', 'servers', 'tags'], 'overview first')
})

t.test('GET /docs serves Swagger UI and GET /openapi.json the same document', async (t) => {
  const { app, close } = await buildOfflineApp()
  t.teardown(close)
  const docs = await app.inject('/docs')
  t.equal(docs.statusCode, 200)
  t.match(docs.headers['content-type'], /^text\/html/)
  t.match(docs.body, /<div id="swagger-ui">/)
  // Every script the page loads is served from our origin, so the CSP (script-src 'self') allows it.
  const scripts = [...docs.body.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]!)
  t.ok(scripts.length > 0)
  for (const src of scripts) {
    t.match(src, /^\/docs\//, `${src} is same-origin`)
    const asset = await app.inject(src)
    t.equal(asset.statusCode, 200, `${src} is served`)
  }
  t.match(docs.headers['content-security-policy'], /script-src 'self'/)

  const served = await app.inject('/openapi.json')
  t.equal(served.statusCode, 200)
  t.match(served.headers['content-type'], /^application\/json/)
  t.same(served.json(), await freshDocument(), 'the generated document')
})

/** A URL for the operation: path parameters filled with well-formed values of nobody's. */
function sampleUrl(path: string): string {
  const values: Record<string, string> = { id: '00000000-0000-4000-8000-000000000000', deliveryId: '1', language: 'fr', token: 'x'.repeat(43) }
  return path.replace(/\{(\w+)\}/g, (_m, name: string) => values[name] ?? 'x')
}

t.test('every operation says who may call it; keyless ones say `security: []`, and the app agrees', async (t) => {
  const document = await freshDocument()
  const { app, close } = await buildOfflineApp()
  t.teardown(close)
  const keyless: string[] = []
  for (const { method, path, operation } of operations(document)) {
    const name = `${method.toUpperCase()} ${path}`
    t.ok(Array.isArray(operation.security), `${name}: security is stated`)
    const security = operation.security as Json[]
    const optional = security.length === 0 || security.some((s) => Object.keys(s).length === 0)
    if (security.length === 0) keyless.push(name)
    t.notOk(security.length > 0 && security.every((s) => Object.keys(s).length === 0), `${name}: [] rather than [{}]`)
    // No key at all: a key-only operation is a 401 before anything else; the others never are.
    const res = await app.inject({ method: method.toUpperCase() as 'GET', url: sampleUrl(path) })
    if (optional) t.not(res.statusCode, 401, `${name} needs no key (answered ${res.statusCode})`)
    else t.equal(res.statusCode, 401, `${name} needs a key`)
  }
  for (const name of ['GET /healthz', 'GET /readyz', 'POST /v1/subscriptions', 'GET /v1/subscriptions/{token}', 'POST /subscriptions/{token}/unsubscribe']) {
    t.ok(keyless.includes(name), `${name} is keyless: security: []`)
  }
})

t.test('response headers are documented where the API sends them, once, as components', async (t) => {
  const document = await freshDocument()
  const components = document.components as Json
  for (const name of ['ETag', 'Location', 'IdempotentReplayed', 'RateLimitLimit', 'RateLimitRemaining', 'RateLimitReset', 'RetryAfter']) {
    t.ok(components.headers[name]?.description, `components.headers.${name}`)
  }
  const byId = new Map(operations(document).map(({ operation }) => [operation.operationId as string, operation]))
  const headersOf = (id: string, status: string) => Object.keys(byId.get(id)?.responses[status]?.headers ?? {}).sort()
  t.same(headersOf('createAppeal', '201'), ['etag', 'idempotent-replayed', 'location'])
  t.same(headersOf('publishAppeal', '200'), ['etag', 'idempotent-replayed'])
  t.same(headersOf('updateAppeal', '200'), ['etag'])
  t.same(headersOf('createWebhook', '201'), ['etag', 'location'])
  t.same(headersOf('createOrganisation', '201'), [], 'no Location where the member cannot be read at {collection}/{id}')
  t.same(headersOf('getAppeal', '200'), ['etag', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'])
  t.same(headersOf('subscribe', '202'), ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'])
  t.same(headersOf('listEvents', '200'), [], 'a keyed read: no rate limit, no ETag')
  t.same(headersOf('getHealth', '200'), [], 'the ops probes are not counted')
  for (const id of ['listAppeals', 'getAppeal', 'subscribe', 'getSubscription', 'unsubscribeOneClick']) {
    t.same(headersOf(id, '429'), ['retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'], `${id}: 429 with Retry-After`)
  }
  t.notOk(JSON.stringify(document).includes('x-ua-route'), 'the transform\'s private notes are gone')
})

t.test('bodyless POSTs do not require a body; the others do', async (t) => {
  const document = await freshDocument()
  const bodyless = operations(document).filter(({ operation }) => operation.requestBody?.required === false)
    .map(({ operation }) => operation.operationId).sort()
  t.same(bodyless, ['approveAppeal', 'enableWebhook', 'publishAppeal', 'resendWebhookDelivery', 'rotateWebhookSecret', 'testWebhook'])
  for (const { operation } of operations(document)) {
    if (operation.requestBody && !bodyless.includes(operation.operationId)) t.equal(operation.requestBody.required, true, `${operation.operationId}: body required`)
  }
})

t.test('event payloads are typed per type and listed under `webhooks`', async (t) => {
  const document = await freshDocument()
  const schemas = (document.components as Json).schemas as Json
  const webhooks = document.webhooks as Json
  t.same(Object.keys(webhooks), ['appeal.published', 'appeal.updated', 'appeal.closed', 'appeal.withdrawn', 'webhook.test'])
  for (const [type, item] of Object.entries(webhooks)) {
    const post = (item as Json).post
    t.equal(post.requestBody.required, true, `${type}: a body`)
    const ref = post.requestBody.content['application/json'].schema.$ref as string
    const body = schemas[ref.split('/').pop()!]
    t.same(body.properties.type.enum, [type], `${type}: its body names its type`)
    t.same(body.required, ['type', 'timestamp', 'data'])
    t.ok(body.properties.data.$ref || body.properties.data.oneOf, `${type}: data is typed`)
    t.same(post.parameters.map((p: Json) => [p.name, p.in, p.required]),
      [['webhook-id', 'header', true], ['webhook-timestamp', 'header', true], ['webhook-signature', 'header', true]], `${type}: Standard Webhooks headers`)
    t.same(post.security, [], `${type}: no API key (the signature authenticates)`)
    t.ok(post.responses['2XX'] && post.responses['410'] && post.responses.default, `${type}: what the answers mean`)
  }
  const branches = (schemas.WebhookPayload.oneOf as Json[]).map((s) => schemas[String(s.$ref).split('/').pop()!])
  t.same(branches.map((b) => b.properties.type.enum), Object.keys(webhooks).map((type) => [type]), 'one branch per type, told apart by `type`')
  t.same(schemas.Event.allOf[0].required, ['id'])
  t.same(schemas.Event.allOf[1], { $ref: '#/components/schemas/WebhookPayload' }, 'a log item is a webhook body with its id')
  t.same(schemas.WithdrawnAppealData.required, ['appealId', 'reference'])
  t.equal(schemas.WithdrawnAppealData.additionalProperties, false, 'withdrawn: nothing else')
  t.ok(schemas.AppealUpdatedData.properties.update && schemas.AppealUpdatedData.properties.changes, 'appeal.updated: changes and the follow-up')
})
