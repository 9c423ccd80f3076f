// The OpenAPI document tells the truth about the running API: the response
// headers it documents (ETag, Location, idempotent-replayed, the rate-limit
// headers, Retry-After) are the ones sent, the POSTs it says need no body
// work without one, and the event bodies — from the event log and from real
// webhook deliveries — match the published schemas exactly, the log
// carrying everything the webhooks carry.
import t from 'tap'
import { Ajv2020 } from 'ajv/dist/2020.js'
import * as ajvFormats from 'ajv-formats'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { buildTestApp, type Keys, type TestApp } from './helpers/context.js'
import { anAppeal } from './helpers/liaoning.js'
import { startReceiver } from './helpers/receiver.js'
import { seedActiveSubscribers } from './helpers/supporters.js'
import { createEndpoint, deliveriesOf, eventually, startDelivery, verify } from './helpers/webhooks.js'

type Json = Record<string, any>
const METHODS = ['get', 'put', 'post', 'patch', 'delete']
const TRACKED = ['etag', 'location', 'idempotent-replayed', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'retry-after']
const RATE_LIMIT = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']

// ajv-formats is CommonJS; under ESM its plugin sits on `default` (as in plugins/problem-details.ts).
type FormatsPlugin = (ajv: Ajv2020) => Ajv2020
const formatsExport = ajvFormats as unknown as { default: FormatsPlugin | { default: FormatsPlugin } }
const addFormats: FormatsPlugin = typeof formatsExport.default === 'function' ? formatsExport.default : formatsExport.default.default

/** An appeal that needs no second approver (counts no minors), so publishing is one call. */
const appealBody = (title: string) => anAppeal({ title, peopleAtRisk: { total: 7, women: 3, men: 4, nationality: 'North Korean' } })

interface Observation { method: string; url: string; status: number; headers: Record<string, unknown>; keyless: boolean; replay: boolean; bare: boolean }

/** The document's operation for a request, by method and the most specific path template that matches. */
function operationFor(document: Json, method: string, url: string): { path: string; operation: Json } | null {
  const path = url.split('?')[0]!
  const candidates = Object.keys(document.paths)
    .filter((template) => document.paths[template][method.toLowerCase()] && new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path))
    .sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0))
  return candidates[0] ? { path: candidates[0], operation: document.paths[candidates[0]][method.toLowerCase()] } : null
}

function recorder(ctx: TestApp) {
  const observed: Observation[] = []
  async function call(as: keyof Keys | null, method: InjectOptions['method'], url: string, body?: unknown, extra: { headers?: Record<string, string>; replay?: boolean } = {}): Promise<LightMyRequestResponse> {
    const res = await ctx.app.inject({
      method, url,
      headers: { ...(as ? { authorization: `Bearer ${ctx.keys[as]}` } : {}), ...extra.headers },
      ...(body !== undefined ? { payload: body as InjectOptions['payload'] } : {}),
    })
    observed.push({ method: String(method), url, status: res.statusCode, headers: res.headers, keyless: as === null, replay: extra.replay === true, bare: body === undefined })
    return res
  }
  return { observed, call }
}

/** Every disagreement between what was sent and what the document says for that operation and status. */
function headerMismatches(document: Json, observed: Observation[]): string[] {
  const problems: string[] = []
  for (const o of observed) {
    const found = operationFor(document, o.method, o.url)
    const name = `${o.method} ${o.url.split('?')[0]} → ${o.status}`
    if (!found) { problems.push(`${name}: no such operation in the document`); continue }
    const response = found.operation.responses[String(o.status)]
    if (!response) { problems.push(`${name}: status not documented`); continue }
    const documented = new Set(Object.keys(response.headers ?? {}))
    const sent = TRACKED.filter((h) => o.headers[h] !== undefined)
    const success = o.status >= 200 && o.status < 300
    for (const h of sent) {
      // Rate-limit headers also ride on errors a handler raises after the limit counted the request; documented on 2xx and 429.
      if (!success && o.status !== 429 && RATE_LIMIT.includes(h)) continue
      if (!documented.has(h)) problems.push(`${name}: sends ${h}, undocumented`)
    }
    const security = (found.operation.security ?? []) as Json[]
    const keyOnly = security.length > 0 && security.every((s) => Object.keys(s).length > 0)
    for (const h of documented) {
      if (!TRACKED.includes(h)) continue
      const required = h === 'idempotent-replayed' ? o.replay
        : RATE_LIMIT.includes(h) ? o.keyless || keyOnly // a key lifts the public limit; a key-only route's own limit counts every call
          : true
      if (required && o.headers[h] === undefined) problems.push(`${name}: documents ${h}, not sent`)
    }
    if (o.replay && o.headers['idempotent-replayed'] !== 'true') problems.push(`${name}: a replay without idempotent-replayed: true`)
  }
  return problems
}

/** Ajv over the document's components. `strict`: an object without `additionalProperties` accepts nothing it does not name. */
function validatorFor(document: Json, strict: boolean) {
  const components = structuredClone(document.components) as Json
  if (strict) {
    const close = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(close)
      if (node === null || typeof node !== 'object') return
      const schema = node as Json
      if (schema.type === 'object' && schema.properties && schema.additionalProperties === undefined) schema.additionalProperties = false
      Object.values(schema).forEach(close)
    }
    close(components.schemas)
  }
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  addFormats(ajv)
  ajv.addSchema({ $id: 'https://urgent-appeals.invalid/openapi.json', components })
  return (name: string, value: unknown): string[] => {
    const validate = ajv.getSchema(`https://urgent-appeals.invalid/openapi.json#/components/schemas/${name}`)!
    return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`)
  }
}

t.test('headers, bodyless POSTs and event bodies are what the document says', async (t) => {
  const ctx = await buildTestApp(t)
  const document = ctx.app.swagger() as Json
  const { observed, call } = recorder(ctx)
  const receiver = await startReceiver(t)
  const endpoint = await createEndpoint(ctx, { url: receiver.url('/hook'), eventTypes: ['appeal.published', 'appeal.updated', 'appeal.closed', 'appeal.withdrawn'] })
  await startDelivery(t, ctx.config)
  const json = (res: LightMyRequestResponse, status: number) => {
    if (res.statusCode !== status) throw new Error(`expected ${status}, got ${res.statusCode}: ${res.body.slice(0, 400)}`)
    return res.json()
  }

  // ---- An appeal's life, as staff and the public see it --------------------
  const create = await call('editor', 'POST', '/v1/appeals', appealBody('China: seven North Koreans face forced return'), { headers: { 'idempotency-key': 'conformance-1' } })
  const appeal = json(create, 201)
  const replay = await call('editor', 'POST', '/v1/appeals', appealBody('China: seven North Koreans face forced return'), { headers: { 'idempotency-key': 'conformance-1' }, replay: true })
  t.equal(replay.statusCode, 201, 'the replay answers as the first time')
  t.equal(replay.headers.location, `/v1/appeals/${appeal.id}`, 'Location points at the appeal')
  t.equal(replay.headers.etag, create.headers.etag)
  json(await call('editor', 'GET', `/v1/appeals/${appeal.id}`), 200)
  const translated = await call('editor', 'PUT', `/v1/appeals/${appeal.id}/translations/ko`, { title: '중국: 북한 주민 7명 강제송환 위기', summary: '랴오닝성에 구금된 7명.' })
  json(translated, 201)
  // Not needed for an adult case under the default policy, but a colleague may approve any draft (a bare POST).
  json(await call('reviewer', 'POST', `/v1/appeals/${appeal.id}/approve`, undefined, { headers: { 'if-match': String(translated.headers.etag) } }), 200)
  const publish = await call('editor', 'POST', `/v1/appeals/${appeal.id}/publish`) // a bare POST
  t.equal(json(publish, 200).status, 'published')
  json(await call(null, 'GET', `/v1/appeals/${appeal.id}`), 200)
  json(await call(null, 'GET', '/v1/appeals?country=CN'), 200)
  json(await call('editor', 'PATCH', `/v1/appeals/${appeal.id}`, { urgency: 'high' }, { headers: { 'if-match': String(publish.headers.etag) } }), 200)
  json(await call('editor', 'PUT', `/v1/appeals/${appeal.id}/translations/ko`, { title: '중국: 북한 주민 7명 강제송환 위기 (갱신)', summary: '랴오닝성에 구금된 7명.' }), 200)
  json(await call('editor', 'POST', `/v1/appeals/${appeal.id}/updates`, { body: 'Human Rights Watch urges China to let UNHCR meet the seven.', asks: ['Let UNHCR meet them.'] }), 201)
  json(await call('editor', 'POST', `/v1/appeals/${appeal.id}/close`, { outcome: { code: 'unknown', note: 'Closed at the end of the test.' } }), 200)
  json(await call('editor', 'GET', `/v1/appeals/${appeal.id}/deliveries`), 200)

  // A second appeal, published (and delivered) then withdrawn.
  const second = json(await call('editor', 'POST', '/v1/appeals', appealBody('Second appeal, to be withdrawn')), 201)
  json(await call('editor', 'POST', `/v1/appeals/${second.id}/publish`), 200)
  await receiver.waitFor(() => receiver.requests.some((r) => JSON.parse(r.body).data?.appeal?.id === second.id), 15_000, 'the second appeal delivered')
  json(await call('editor', 'POST', `/v1/appeals/${second.id}/withdraw`, { reason: 'Published by mistake.' }), 200)
  json(await call(null, 'POST', '/v1/organisations', undefined), 401) // keyless: the documented 401
  json(await call('admin', 'POST', '/v1/organisations', { name: 'Press Freedom Desk', kind: 'partner', contactEmail: 'desk@example.org' }), 201)

  // ---- Webhooks: a test ping (bare POST), then every event delivered --------
  json(await call('partner', 'POST', `/v1/webhooks/${endpoint.id}/test`), 200)
  const expected = 1 + 5 + 2 // webhook.test; published, 3× updated (edit, translation, follow-up), closed; second published, withdrawn
  await receiver.waitFor(() => receiver.requests.length >= expected, 20_000, `${expected} deliveries`)
  const log = json(await call('partner', 'GET', '/v1/events?limit=100'), 200).items as Json[]

  // ---- The rest of the webhook API ----------------------------------------
  const hook = await call('partner', 'GET', `/v1/webhooks/${endpoint.id}`)
  json(await call('partner', 'PATCH', `/v1/webhooks/${endpoint.id}`, { description: 'Press desk' }, { headers: { 'if-match': String(hook.headers.etag) } }), 200)
  json(await call('partner', 'POST', `/v1/webhooks/${endpoint.id}/rotate-secret`), 200)
  json(await call('partner', 'POST', `/v1/webhooks/${endpoint.id}/enable`), 200)
  const [delivery] = await deliveriesOf(ctx, endpoint.id)
  await eventually(async () => (await deliveriesOf(ctx, endpoint.id)).every((d) => d.status !== 'sending' && d.status !== 'pending'), 10_000, 'deliveries settled')
  json(await call('partner', 'POST', `/v1/webhooks/${endpoint.id}/deliveries/${delivery.id}/resend`), 202)
  json(await call('partner', 'POST', `/v1/webhooks/${endpoint.id}/recover`, { since: '2020-01-01T00:00:00Z' }), 202)

  // ---- Supporters (keyless) -----------------------------------------------
  json(await call(null, 'POST', '/v1/subscriptions', { email: 'supporter@example.org' }), 202)
  const tokens = await seedActiveSubscribers(ctx, ['reader@example.org'])
  const token = tokens.get('reader@example.org')!
  json(await call(null, 'GET', `/v1/subscriptions/${token}`), 200)
  json(await call(null, 'PATCH', `/v1/subscriptions/${token}`, { minUrgency: 'high' }), 200)

  t.test('every response header sent is documented, and every documented one is sent', async (t) => {
    t.same(headerMismatches(document, observed), [])
    const seen = new Set(observed.flatMap((o) => TRACKED.filter((h) => o.headers[h] !== undefined)))
    t.same([...seen].sort(), ['etag', 'idempotent-replayed', 'location', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'], 'the check saw each header')
    // The check is not a rubber stamp: an ETag the document forgot is reported.
    const forgetful = structuredClone(document)
    delete forgetful.paths['/v1/appeals/{id}'].patch.responses['200'].headers.etag
    t.match(headerMismatches(forgetful, observed), [/PATCH \/v1\/appeals\/[^ ]+ → 200: sends etag, undocumented/])
  })

  t.test('POSTs documented as bodyless work without a body', async (t) => {
    const bodyless = Object.entries<Json>(document.paths).flatMap(([path, item]) =>
      METHODS.filter((m) => item[m]?.requestBody?.required === false).map((m) => `${m.toUpperCase()} ${path}`))
    t.ok(bodyless.length >= 4, bodyless.join(', '))
    for (const name of bodyless) {
      const calls = observed.filter((o) => o.bare && `${o.method} ${operationFor(document, o.method, o.url)?.path}` === name)
      t.ok(calls.some((o) => o.status >= 200 && o.status < 300), `${name}: a bare POST succeeded (${calls.map((o) => o.status).join(', ') || 'not called'})`)
    }
  })

  t.test('the event log and the webhooks carry the same, typed bodies; withdrawn ones carry only the stub', async (t) => {
    const loose = validatorFor(document, false)
    const strict = validatorFor(document, true)
    t.same(log.map((e) => e.type).sort(), ['appeal.closed', 'appeal.published', 'appeal.published', 'appeal.updated', 'appeal.updated', 'appeal.updated', 'appeal.withdrawn', 'webhook.test'])
    const received = new Map<string, (typeof receiver.requests)[number]>()
    for (const r of receiver.requests) if (!received.has(String(r.headers['webhook-id']))) received.set(String(r.headers['webhook-id']), r) // first delivery, not a resend
    // Each type's body schema, as the document's `webhooks` name it.
    const bodySchema = (type: string) => String(document.webhooks[type].post.requestBody.content['application/json'].schema.$ref).split('/').pop()!
    for (const event of log) {
      const { id, ...body } = event
      t.same(loose('Event', event), [], `${event.type} ${id}: a valid Event`)
      t.same(strict(bodySchema(event.type), body), [],
        `${event.type} ${id}: nothing the document does not name`)
      const delivered = received.get(id)
      t.ok(delivered, `${event.type} ${id}: delivered`)
      if (!delivered) continue
      const sent = verify(endpoint.secret, delivered) as Json
      t.same(strict('WebhookPayload', sent), [], `${event.type} ${id}: the webhook body matches WebhookPayload`)
      const withdrawnLater = body.data.appealId === second.id
      if (withdrawnLater && event.type === 'appeal.published') {
        // Delivered while public; in the log, reduced to the stub since the withdrawal.
        t.same(body.data, { appealId: second.id, reference: second.reference }, 'an earlier event of a withdrawn appeal keeps only the stub')
        t.equal(sent.data.appeal.id, second.id, 'it was delivered with its content before the withdrawal')
      } else {
        t.same(sent, body, `${event.type} ${id}: the log carries exactly what the webhook carried`)
      }
    }
    const updates = log.filter((e) => e.type === 'appeal.updated')
    t.same(updates.map((e) => e.data.changes), [['urgency'], ['translations/ko'], ['updates', 'asks']], 'changes, as they happened')
    t.match(updates[2]!.data.update, { number: 1, body: 'Human Rights Watch urges China to let UNHCR meet the seven.' }, 'the follow-up itself')
    t.equal(updates[0]!.data.appeal.title, 'China: seven North Koreans face forced return', 'the appeal content')
    t.equal(updates[1]!.data.appeal.translations[0].language, 'ko', 'translations too')
    const closed = log.find((e) => e.type === 'appeal.closed')!
    t.equal(closed.data.appeal.outcome.code, 'unknown', 'the outcome')
    const withdrawn = log.find((e) => e.type === 'appeal.withdrawn')!
    t.same(Object.keys(withdrawn.data).sort(), ['appealId', 'reference'], 'appeal.withdrawn: only { appealId, reference }')
    t.same(JSON.parse(received.get(withdrawn.id)!.body).data, { appealId: second.id, reference: second.reference }, 'and so is its webhook')
    const test = log.find((e) => e.type === 'webhook.test')!
    t.same(Object.keys(test.data).sort(), ['endpointId', 'message'])
    // Validation is not a rubber stamp: a stray field, or content in a withdrawn event, is refused.
    t.ok(strict('AppealWithdrawnEvent', { ...withdrawn, id: undefined, data: { ...withdrawn.data, title: 'leak' } }).length > 0, 'content in appeal.withdrawn is refused')
    t.ok(strict('AppealClosedEvent', { type: closed.type, timestamp: closed.timestamp, data: { appeal: { ...closed.data.appeal, organisationId: 'x' } } }).length > 0, 'an undocumented field is refused')
  })
})

t.test('a rate-limited request gets 429 with Retry-After and the rate-limit headers the document names', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_RATE_LIMIT: '2' })
  const document = ctx.app.swagger() as Json
  const { observed, call } = recorder(ctx)
  for (let i = 0; i < 3; i++) await call(null, 'GET', '/v1/appeals')
  t.same(observed.map((o) => o.status), [200, 200, 429])
  const limited = observed[2]!
  t.match(limited.headers, { 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '0' })
  t.match(String(limited.headers['retry-after']), /^[0-9]+$/)
  t.same(headerMismatches(document, observed), [])
  // With a key, the public limit does not count (and says nothing).
  const keyed = await call('editor', 'GET', '/v1/appeals')
  t.equal(keyed.statusCode, 200)
  t.equal(keyed.headers['x-ratelimit-limit'], undefined)
  t.same(headerMismatches(document, observed), [])
})
