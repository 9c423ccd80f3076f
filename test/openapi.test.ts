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
  for (const name of ['Appeal', 'AppealPage', 'CreateAppeal', 'PatchAppeal', 'Problem', 'FieldError', 'PeopleAtRisk', 'Target', 'Source', 'Translation', 'Outcome', 'Urgency', 'AppealStatus', 'Event', 'EventPage', 'ApiKey', 'Organisation', 'Readiness', 'Health']) {
    t.ok(schemas[name], `components.schemas.${name}`)
  }
  t.same(Object.keys(schemas), Object.keys(schemas).sort((a, b) => a.localeCompare(b)), 'components sorted by name')
  t.ok(schemas.Problem.properties.errors, 'Problem carries validation errors')
  t.ok((document.components as Json).securitySchemes.apiKey, 'the bearer scheme')
  const text = JSON.stringify(document.paths)
  t.notOk(text.includes('"title":"Appeal"'), 'no inline copy of Appeal in paths')
  const createAppeal = operations(document).find(({ operation }) => operation.operationId === 'createAppeal')!.operation
  t.equal(createAppeal.responses['201'].content['application/json'].schema.$ref, '#/components/schemas/Appeal')
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
