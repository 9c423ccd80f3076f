// CORS (contract §1.1 PUBLIC_CORS_ORIGINS, §8): browsers on the listed
// origins may call POST /v1/subscriptions and the public GET /v1/appeals
// reads — preflight answered, no credentials — and nothing else is opened:
// another origin, another route, a keyed request or a request for other
// headers gets no CORS header at all. Real preflight and actual requests,
// as a browser sends them.
import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { buildTestApp, type TestApp } from './helpers/context.js'
import { createPublished, expectStatus } from './helpers/liaoning.js'

const NGO = 'https://ngo.example'
const OTHER = 'https://www.other.example'

const corsHeaders = (res: LightMyRequestResponse) =>
  Object.keys(res.headers).filter((h) => h.startsWith('access-control-')).sort()

const preflight = (ctx: TestApp, url: string, origin: string, method: string, headers?: string) => ctx.app.inject({
  method: 'OPTIONS', url,
  headers: { origin, 'access-control-request-method': method, ...(headers ? { 'access-control-request-headers': headers } : {}) },
})

const signup = { email: 'supporter@example.org', language: 'fr', countries: ['CN'], minUrgency: 'high' }

t.test('a listed origin may sign supporters up and read public appeals from a browser', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_CORS_ORIGINS: `${NGO}, https://second.example` })
  const appeal = await createPublished(ctx)

  const pre = await preflight(ctx, '/v1/subscriptions', NGO, 'POST', 'content-type')
  t.equal(pre.statusCode, 204, 'the preflight of a JSON POST is answered')
  t.equal(pre.headers['access-control-allow-origin'], NGO, 'for this origin exactly')
  t.equal(pre.headers['access-control-allow-methods'], 'POST')
  t.equal(pre.headers['access-control-allow-headers'], 'Content-Type')
  t.equal(pre.headers['access-control-max-age'], '600')
  t.notOk(pre.headers['access-control-allow-credentials'], 'never with credentials')
  t.match(String(pre.headers.vary), /Origin/)
  t.equal(pre.body, '')

  const post = await ctx.app.inject({ method: 'POST', url: '/v1/subscriptions', headers: { origin: NGO, 'content-type': 'application/json' }, payload: signup })
  t.equal(post.statusCode, 202, post.body)
  t.equal(post.headers['access-control-allow-origin'], NGO, 'the page may read the neutral answer')
  t.match(String(post.headers['access-control-expose-headers']), /Retry-After/, 'and the rate-limit headers')
  t.notOk(post.headers['access-control-allow-credentials'])
  const invalid = await ctx.app.inject({ method: 'POST', url: '/v1/subscriptions', headers: { origin: NGO, 'content-type': 'application/json' }, payload: { email: 'x' } })
  t.equal(invalid.statusCode, 400)
  t.equal(invalid.headers['access-control-allow-origin'], NGO, 'a problem document is readable too')

  for (const url of ['/v1/appeals', '/v1/appeals?country=CN', `/v1/appeals/${appeal.id}`]) {
    const pre = await preflight(ctx, url, 'https://second.example', 'GET')
    t.equal(pre.statusCode, 204, `${url}: preflight answered for the second origin`)
    t.equal(pre.headers['access-control-allow-methods'], 'GET, HEAD')
    const read = await ctx.app.inject({ method: 'GET', url, headers: { origin: NGO } })
    t.equal(read.statusCode, 200)
    t.equal(read.headers['access-control-allow-origin'], NGO, `${url}: readable from ${NGO}`)
    t.match(String(read.headers.vary), /Origin/, 'shared caches keep one answer per origin')
  }
  const head = await ctx.app.inject({ method: 'HEAD', url: '/v1/appeals', headers: { origin: NGO } })
  t.equal(head.headers['access-control-allow-origin'], NGO, 'HEAD too')
  const missing = await ctx.app.inject({ method: 'GET', url: '/v1/appeals/00000000-0000-4000-8000-000000000000', headers: { origin: NGO } })
  t.equal(missing.statusCode, 404)
  t.equal(missing.headers['access-control-allow-origin'], NGO, 'a 404 is readable: the page can say so')
})

t.test('nothing else is opened: other origins, other routes, keys, other headers', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_CORS_ORIGINS: NGO })
  const appeal = await createPublished(ctx)
  const control = await ctx.app.inject({ method: 'GET', url: '/v1/appeals', headers: { origin: NGO } })
  t.equal(control.headers['access-control-allow-origin'], NGO, 'control: the listed origin reads the public list')

  // An origin not listed: no CORS header, preflight or not.
  const pre = await preflight(ctx, '/v1/subscriptions', OTHER, 'POST', 'content-type')
  t.equal(pre.statusCode, 404, 'its preflight is not answered')
  t.same(corsHeaders(pre), [], 'and carries no CORS header')
  const read = await ctx.app.inject({ method: 'GET', url: '/v1/appeals', headers: { origin: OTHER } })
  t.equal(read.statusCode, 200, 'the read itself works (same-origin and server callers are unaffected)')
  t.same(corsHeaders(read), [], 'but a browser on that origin cannot read it')
  t.same(corsHeaders(await ctx.app.inject({ method: 'GET', url: '/v1/appeals', headers: { origin: 'null' } })), [], 'nor an opaque origin')
  t.same(corsHeaders(await ctx.app.inject({ method: 'GET', url: '/v1/appeals', headers: { origin: `${NGO}.evil.example` } })), [], 'nor a look-alike')

  // A listed origin asking for what is not open.
  const refused: [string, string, string?][] = [
    ['/v1/appeals', 'POST', 'content-type'], // creating an appeal
    [`/v1/appeals/${appeal.id}`, 'PATCH', 'content-type'],
    [`/v1/appeals/${appeal.id}/deliveries`, 'GET'], // a staff read under /v1/appeals
    [`/v1/appeals/${appeal.id}/actions`, 'POST', 'content-type'],
    [`/appeals/${appeal.id}/actions`, 'POST', 'content-type'],
    ['/v1/events', 'GET'],
    ['/v1/subscriptions/x', 'DELETE'],
    ['/v1/subscriptions', 'GET'],
    ['/v1/appeals', 'GET', 'authorization'], // a key from another site's script
    ['/v1/subscriptions', 'POST', 'content-type, x-custom'],
  ]
  for (const [url, method, headers] of refused) {
    const res = await preflight(ctx, url, NGO, method, headers)
    t.equal(res.statusCode, 404, `preflight ${method} ${url}${headers ? ` (${headers})` : ''}: not answered`)
    t.same(corsHeaders(res), [], 'no CORS header')
  }
  // Actual requests from the listed origin to routes that are not open.
  const actual: [string, string, string | null][] = [
    ['GET', '/v1/events', 'partner'],
    ['GET', `/v1/appeals/${appeal.id}/deliveries`, 'editor'],
    ['POST', `/appeals/${appeal.id}/actions`, null],
    ['GET', '/healthz', null],
    ['GET', '/metrics', null],
  ]
  for (const [method, url, key] of actual) {
    const res = await ctx.app.inject({ method: method as 'GET', url, headers: { origin: NGO, ...(key ? { authorization: `Bearer ${ctx.keys[key as 'partner']}` } : {}) } })
    t.ok(res.statusCode < 500, `${method} ${url} → ${res.statusCode}`)
    t.same(corsHeaders(res), [], `${method} ${url}: no CORS header`)
    t.notMatch(String(res.headers.vary ?? ''), /Origin/, `${method} ${url}: not even Vary: Origin`)
  }
  // A keyed read of an open route: staff answers (drafts, counts) are never shared with a page.
  const staff = await ctx.app.inject({ method: 'GET', url: `/v1/appeals/${appeal.id}`, headers: { origin: NGO, authorization: `Bearer ${ctx.keys.editor}` } })
  t.equal(staff.statusCode, 200)
  t.same(corsHeaders(staff), [], 'a request with a key gets no CORS header')
  // OPTIONS that is no preflight is what it was before.
  const plain = await ctx.app.inject({ method: 'OPTIONS', url: '/v1/appeals', headers: { origin: NGO } })
  t.equal(plain.statusCode, 404)
  t.same(corsHeaders(plain), [])
})

t.test('with PUBLIC_CORS_ORIGINS unset (the default) no origin is allowed anything; the API documents who may', async (t) => {
  const ctx = await buildTestApp(t)
  const appeal = await createPublished(ctx)
  const pre = await preflight(ctx, '/v1/subscriptions', NGO, 'POST', 'content-type')
  t.equal(pre.statusCode, 404)
  t.same(corsHeaders(pre), [])
  const read = await ctx.app.inject({ method: 'GET', url: `/v1/appeals/${appeal.id}`, headers: { origin: NGO } })
  expectStatus(t, read, 200)
  t.same(corsHeaders(read), [])
  t.notMatch(String(read.headers.vary ?? ''), /Origin/)

  // The document is the same whatever the deployment's list: the open operations say so, the others do not.
  const document = expectStatus(t, await ctx.app.inject({ method: 'GET', url: '/openapi.json' }), 200)
  const operations = Object.values(document.paths as Record<string, Record<string, { operationId: string; description?: string }>>)
    .flatMap((item) => Object.values(item))
  const open = operations.filter((o) => (o.description ?? '').includes('PUBLIC_CORS_ORIGINS')).map((o) => o.operationId).sort()
  t.same(open, ['getAppeal', 'listAppeals', 'subscribe'], 'exactly the CORS-open operations say browsers on PUBLIC_CORS_ORIGINS may call them')
})
