// /metrics is for the operator: with METRICS_TOKEN only a caller holding
// it; without, only this host (a loopback peer no proxy forwarded). And a
// scrape costs Postgres nothing: delivery counts are counters the workers
// keep in Redis, the rest is recounted in the background — so a scrape
// answers even while the big tables are locked.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { buildTestApp } from './helpers/context.js'
import { expectProblem } from './helpers/liaoning.js'

const scrape = (ctx: Awaited<ReturnType<typeof buildTestApp>>, remoteAddress: string, headers: Record<string, string> = {}) =>
  ctx.app.inject({ method: 'GET', url: '/metrics', remoteAddress, headers })

t.test('without METRICS_TOKEN, only this host may scrape', async (t) => {
  const ctx = await buildTestApp(t)
  const ok = await scrape(ctx, '127.0.0.1')
  t.equal(ok.statusCode, 200)
  t.match(ok.body, /ua_http_requests_total/)
  t.equal((await scrape(ctx, '::1')).statusCode, 200, 'IPv6 loopback too')
  expectProblem(t, await scrape(ctx, '203.0.113.5'), 403, 'forbidden')
  expectProblem(t, await scrape(ctx, '127.0.0.1', { 'x-forwarded-for': '203.0.113.5' }), 403, 'forbidden')
  expectProblem(t, await scrape(ctx, '127.0.0.1', { forwarded: 'for=203.0.113.5' }), 403, 'forbidden')
})

t.test('behind a trusted proxy on this host, a forwarded client is not this host', async (t) => {
  const ctx = await buildTestApp(t, { TRUST_PROXY: '127.0.0.1' })
  expectProblem(t, await scrape(ctx, '127.0.0.1', { 'x-forwarded-for': '198.51.100.7' }), 403, 'forbidden')
  t.equal((await scrape(ctx, '127.0.0.1')).statusCode, 200, 'the host itself still may')
})

t.test('with METRICS_TOKEN, the token and nothing else opens it, from anywhere', async (t) => {
  const token = randomBytes(32).toString('base64url')
  const ctx = await buildTestApp(t, { METRICS_TOKEN: token })
  const missing = expectProblem(t, await scrape(ctx, '127.0.0.1'), 401, 'unauthorized')
  t.ok(missing, 'even from loopback, a token is needed once one is set')
  const wrong = await scrape(ctx, '203.0.113.5', { authorization: `Bearer ${token.slice(0, -1)}x` })
  expectProblem(t, wrong, 401, 'unauthorized')
  t.match(String(wrong.headers['www-authenticate']), /^Bearer/)
  expectProblem(t, await scrape(ctx, '203.0.113.5', { authorization: `Bearer ${ctx.keys.admin}` }), 401, 'unauthorized')
  const right = await scrape(ctx, '203.0.113.5', { authorization: `Bearer ${token}` })
  t.equal(right.statusCode, 200)
  t.match(right.body, /ua_email_deliveries_total\{status="sent"\} 0/)
  t.notMatch(right.body, new RegExp(token), 'the token is not echoed')
})

t.test('a scrape reads no table: it answers while deliveries, suppressions and endpoints are locked', async (t) => {
  const ctx = await buildTestApp(t)
  const locker = await ctx.pool.connect()
  await locker.query('BEGIN')
  await locker.query('LOCK TABLE deliveries, email_suppressions, webhook_endpoints IN ACCESS EXCLUSIVE MODE')
  try {
    const answered = await Promise.race([
      scrape(ctx, '127.0.0.1').then((res) => res.statusCode),
      new Promise<'waiting'>((resolve) => setTimeout(() => resolve('waiting'), 5000)),
    ])
    t.equal(answered, 200, 'the scrape did not wait for any of those tables')
  } finally {
    await locker.query('ROLLBACK')
    locker.release()
  }
})
