// HTTP quality across the API: security headers, liveness and readiness
// (including with Postgres or Redis down), Prometheus metrics by route
// template, 5xx that never leak internals, and logs that never carry keys
// or supporter tokens.
import { Writable } from 'node:stream'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { buildApp } from '../src/app.js'
import { generateApiKey } from '../src/auth/api-keys.js'
import { createPool } from '../src/db/pool.js'
import { createLogger } from '../src/logger.js'
import { createFailFastRedis } from '../src/queue/queues.js'
import { freePort } from './harness/services.js'
import { buildTestApp, createTestDatabase, servers, testConfig } from './helpers/context.js'
import { liaoningAppeal } from './helpers/liaoning.js'

interface Tap { teardown(fn: () => unknown): void }

/**
 * The real app on the given Postgres and Redis (either may be unreachable),
 * with `extend` run before `ready` to add test-only routes.
 */
async function appOn(t: Tap, opts: {
  databaseUrl: string; redisUrl: string
  logger?: ReturnType<typeof createLogger>
  extend?: (app: FastifyInstance, pool: ReturnType<typeof createPool>) => void
}): Promise<FastifyInstance> {
  const config = await testConfig(opts.databaseUrl, { REDIS_URL: opts.redisUrl })
  const pool = createPool(opts.databaseUrl, { max: 2 })
  const redis = createFailFastRedis(opts.redisUrl)
  const app = await buildApp({ config, pool, redis, logger: opts.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) })
  opts.extend?.(app, pool)
  await app.ready()
  t.teardown(async () => {
    await app.close()
    redis.disconnect()
    await pool.end()
  })
  return app
}

/** A loopback port with nothing listening: connections are refused at once. */
async function closedPort(): Promise<number> {
  return freePort()
}

function expectProblem(t: Tap & { equal: Function; match: Function }, response: Awaited<ReturnType<FastifyInstance['inject']>>, status: number) {
  t.equal(response.statusCode, status, response.body)
  t.match(response.headers['content-type'], /^application\/problem\+json/)
  const body = response.json()
  t.equal(body.status, status)
  t.match(body, { type: String, title: String, detail: String })
  return body
}

t.test('security headers on API, problem and docs responses', async (t) => {
  const ctx = await buildTestApp(t)
  for (const url of ['/v1/appeals', '/v1/appeals/not-a-uuid', '/no/such/route', '/healthz']) {
    const res = await ctx.request(null, 'GET', url)
    t.equal(res.headers['x-content-type-options'], 'nosniff', `${url}: nosniff`)
    const csp = String(res.headers['content-security-policy'])
    t.match(csp, /default-src 'self'/, `${url}: CSP default-src`)
    t.match(csp, /frame-ancestors 'none'/, `${url}: CSP frame-ancestors`)
    t.match(csp, /object-src 'none'/, `${url}: CSP object-src`)
    t.notMatch(csp, /upgrade-insecure-requests/, `${url}: no upgrade over plain-http PUBLIC_BASE_URL`)
    t.equal(res.headers['referrer-policy'], 'no-referrer', `${url}: no referrer (tokens travel in URLs)`)
    t.equal(res.headers['x-frame-options'], 'SAMEORIGIN', `${url}: x-frame-options`)
    t.match(res.headers['strict-transport-security'], /max-age=\d+/, `${url}: HSTS`)
    t.equal(res.headers['cross-origin-opener-policy'], 'same-origin', `${url}: COOP`)
    t.notOk(res.headers['x-powered-by'], `${url}: no x-powered-by`)
  }
})

t.test('an https PUBLIC_BASE_URL adds upgrade-insecure-requests', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_BASE_URL: 'https://alerts.example.org' })
  const res = await ctx.request(null, 'GET', '/healthz')
  t.match(res.headers['content-security-policy'], /upgrade-insecure-requests/)
})

t.test('/healthz and /readyz with everything up', async (t) => {
  const ctx = await buildTestApp(t)
  const health = await ctx.request(null, 'GET', '/healthz')
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok' })
  const ready = await ctx.request(null, 'GET', '/readyz')
  t.equal(ready.statusCode, 200, ready.body)
  t.same(ready.json(), { status: 'ready', checks: { postgres: 'ok', redis: 'ok' } })
})

t.test('/readyz is a 503 problem with Retry-After when Redis is unreachable', async (t) => {
  const app = await appOn(t, { databaseUrl: await createTestDatabase(t), redisUrl: `redis://127.0.0.1:${await closedPort()}` })
  const started = Date.now()
  const ready = await app.inject('/readyz')
  const body = expectProblem(t, ready, 503)
  t.equal(ready.headers['retry-after'], '5')
  t.match(body.detail, /Redis/)
  t.notMatch(body.detail, /Postgres/, 'Postgres is fine')
  t.ok(Date.now() - started < 3000, 'answers within the probe timeout')
  const again = Date.now()
  t.equal((await app.inject('/readyz')).statusCode, 503, 'still not ready while Redis stays down')
  t.ok(Date.now() - again < 1000, 'between reconnect attempts it fails fast')
  t.equal((await app.inject('/healthz')).statusCode, 200, 'still alive')
})

t.test('/readyz is a 503 problem when Postgres is unreachable', async (t) => {
  const { redisUrl } = await servers()
  const app = await appOn(t, { databaseUrl: `postgres://postgres@127.0.0.1:${await closedPort()}/nothing`, redisUrl })
  const ready = await app.inject('/readyz')
  const body = expectProblem(t, ready, 503)
  t.equal(ready.headers['retry-after'], '5')
  t.match(body.detail, /Postgres/)
  t.notMatch(body.detail, /Redis/, 'Redis is fine')
  t.notMatch(ready.body, /ECONNREFUSED|127\.0\.0\.1/, 'no connection internals')
  t.equal((await app.inject('/healthz')).statusCode, 200, 'still alive')
})

t.test('a Postgres outage on an API route is a 503 problem, not a 500', async (t) => {
  const { redisUrl } = await servers()
  const app = await appOn(t, { databaseUrl: `postgres://postgres:hunter2@127.0.0.1:${await closedPort()}/nothing`, redisUrl })
  const list = await app.inject('/v1/appeals')
  const body = expectProblem(t, list, 503)
  t.equal(list.headers['retry-after'], '5')
  t.equal(body.type, '/problems/service-unavailable')
  t.notMatch(list.body, /ECONNREFUSED|hunter2|127\.0\.0\.1|stack/)
  // Authentication itself reads Postgres: still a 503, never a 401 or 500.
  const authed = await app.inject({ method: 'POST', url: '/v1/appeals', headers: { authorization: `Bearer ${generateApiKey().key}` }, payload: liaoningAppeal() })
  t.equal(authed.statusCode, 503, authed.body)
})

t.test('/metrics: Prometheus text by route template, never raw URLs', async (t) => {
  const ctx = await buildTestApp(t)
  const created = await ctx.request('editor', 'POST', '/v1/appeals', liaoningAppeal())
  t.equal(created.statusCode, 201, created.body)
  const id = created.json().id as string
  t.equal((await ctx.request('editor', 'GET', `/v1/appeals/${id}`)).statusCode, 200)
  t.equal((await ctx.request(null, 'GET', '/v1/appeals/00000000-0000-4000-8000-000000000000')).statusCode, 404)
  t.equal((await ctx.request(null, 'GET', '/subscriptions/tok_SECRET_in_path/nowhere')).statusCode, 404)

  const res = await ctx.request(null, 'GET', '/metrics')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const text = res.body
  t.match(text, /# TYPE ua_http_requests_total counter/)
  t.match(text, /ua_http_requests_total\{method="POST",route="\/v1\/appeals",status="201"\} 1/)
  t.match(text, /ua_http_requests_total\{method="GET",route="\/v1\/appeals\/:id",status="200"\} 1/)
  t.match(text, /ua_http_requests_total\{method="GET",route="\/v1\/appeals\/:id",status="404"\} 1/)
  t.match(text, /# TYPE ua_http_request_duration_seconds histogram/)
  t.match(text, /ua_http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/v1\/appeals\/:id"\} \d+/)
  t.match(text, /ua_http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/v1\/appeals\/:id"\} 2/)
  t.match(text, /ua_http_request_duration_seconds_count\{method="GET",route="\/v1\/appeals\/:id"\} 2/)
  t.match(text, /ua_process_cpu_seconds_total/, 'default process metrics')
  t.notOk(text.includes(id), 'no raw appeal id')
  t.notOk(text.includes('00000000-0000-4000-8000-000000000000'), 'no raw id of a miss')
  t.notOk(text.includes('tok_SECRET_in_path'), 'no raw path of an unmatched route')
  for (const line of text.split('\n').filter((l) => l.startsWith('ua_http_requests_total{'))) {
    const route = /route="([^"]*)"/.exec(line)?.[1]
    t.ok(route === 'unmatched' || /^\/[a-z0-9/:._-]*$/.test(route ?? ''), `route label is a template: ${route}`)
  }
})

t.test('a 5xx never leaks internals', async (t) => {
  const databaseUrl = await createTestDatabase(t)
  const { redisUrl } = await servers()
  const lines: string[] = []
  const logger = createLogger('info', new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done() } }))
  const app = await appOn(t, {
    databaseUrl, redisUrl, logger,
    extend(app, pool) {
      app.get('/test/throws', async () => { throw new Error('secret detail: password=hunter2 at /srv/app/db.ts:42') })
      app.get('/test/bad-sql', async () => (await pool.query('SELECT * FROM secret_internal_table')).rows)
      app.get('/test/upstream', async () => { throw Object.assign(new Error('upstream said hunter2'), { statusCode: 502 }) })
      app.get('/test/rejects-string', async () => Promise.reject('hunter2 as a bare string'))
    },
  })
  for (const url of ['/test/throws', '/test/bad-sql', '/test/upstream', '/test/rejects-string']) {
    const res = await app.inject(url)
    const body = expectProblem(t, res, 500)
    t.same(Object.keys(body).sort(), ['detail', 'status', 'title', 'type'], `${url}: only the problem fields`)
    t.equal(body.type, '/problems/internal-error')
    t.equal(body.detail, 'Something went wrong on our side; it has been logged.')
    t.notMatch(res.body, /hunter2|secret_internal_table|srv\/app|stack|at \//, `${url}: nothing internal`)
  }
  // …but the operator sees what happened.
  const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'unhandled error')
  t.equal(logged.length, 4, 'each 500 is logged once')
  t.match(logged[0].err.message, /hunter2/)
  t.equal(logged[0].level, 50)
})

t.test('request logs never carry the API key or a supporter token', async (t) => {
  const ctx = await buildTestApp(t)
  const { redisUrl } = await servers()
  const lines: string[] = []
  const logger = createLogger('trace', new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done() } }))
  const app = await appOn(t, { databaseUrl: ctx.config.databaseUrl, redisUrl, logger })
  const token = 'sub_TOKEN_4f9a8b7c6d5e4f3a2b1c'
  const urls = [
    `/subscriptions/${token}`, `/subscriptions/confirm/${token}`, `/subscriptions/${token}/unsubscribe`,
    `/v1/subscriptions/${token}`, `/v1/subscriptions/${token}/export?x=1`,
  ]
  for (const url of urls) {
    await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${ctx.keys.editor}`, cookie: 'session=COOKIE_VALUE' } })
  }
  await app.inject({ method: 'GET', url: '/v1/appeals', headers: { authorization: 'Bearer ua_not_a_real_key_SECRETSECRET' } })
  const output = lines.join('')
  t.ok(lines.length >= urls.length * 2, `${lines.length} lines logged`)
  const incoming = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'incoming request')
  t.same(incoming.map((l) => l.req.url), [
    '/subscriptions/[redacted]', '/subscriptions/confirm/[redacted]', '/subscriptions/[redacted]/unsubscribe',
    '/v1/subscriptions/[redacted]', '/v1/subscriptions/[redacted]/export?x=1', '/v1/appeals',
  ], 'the route shape survives, the token does not')
  t.notOk(output.includes(token), 'no supporter token')
  t.notOk(output.includes(ctx.keys.editor), 'no API key')
  t.notOk(output.includes(ctx.keys.editor.slice(-20)), 'not even the key secret part')
  t.notOk(output.includes('SECRETSECRET'), 'no invalid key either')
  t.notOk(output.includes('COOKIE_VALUE'), 'no cookie')
})

t.test('the logger redacts secrets that callers log as fields', async (t) => {
  const lines: string[] = []
  const logger = createLogger('info', new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done() } }))
  logger.info({
    subscriber: { email: 'ada@example.org', token: 'TOKEN1' },
    endpoint: { secret: 'whsec_SECRET2', url: 'https://partner.example/hook' },
    config: { databaseUrl: 'postgres://u:PASSWORD3@db/x', smtpUrl: 'smtp://u:PASSWORD4@relay' },
    req: { headers: { authorization: 'Bearer KEY5' } },
    headers: { authorization: 'Bearer KEY6' },
    request: { headers: { authorization: 'Bearer KEY7', cookie: 'COOKIE8' } },
  }, 'something')
  // The same fields at the top level of a line, as `request.log.warn({ email }, …)` would write them.
  logger.warn({ email: 'min-ji@example.org', token: 'TOKEN9', secret: 'whsec_SECRET10', smtpUrl: 'smtp://u:PASSWORD11@relay' }, 'top level')
  const output = lines.join('')
  for (const secret of ['ada@example.org', 'TOKEN1', 'whsec_SECRET2', 'PASSWORD3', 'PASSWORD4', 'KEY5', 'KEY6', 'KEY7', 'COOKIE8', 'min-ji@example.org', 'TOKEN9', 'whsec_SECRET10', 'PASSWORD11']) {
    t.notOk(output.includes(secret), `${secret} is redacted`)
  }
  t.ok(output.includes('https://partner.example/hook'), 'harmless fields stay')
})
