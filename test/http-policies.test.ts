import t from 'tap'
import pino from 'pino'
import { buildApp } from '../src/app.js'
import { WriteBehindRateStore } from '../src/plugins/write-behind-rate-store.js'
import { createFailFastRedis } from '../src/queue/queues.js'
import { buildTestApp, buildTestAppOnPrivateRedis } from './helpers/context.js'
import { eventually } from './helpers/eventually.js'
import { approve, liaoningAppeal } from './helpers/liaoning.js'

t.test('keyless requests share one budget per client address; keys and ops endpoints are not counted', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_RATE_LIMIT: '4' })
  const appeal = (await ctx.request('editor', 'POST', '/v1/appeals', liaoningAppeal())).json()
  await approve(ctx, appeal.id)
  await ctx.request('editor', 'POST', `/v1/appeals/${appeal.id}/publish`)

  // Public appeal reads and supporter routes draw from the same budget.
  const statuses = []
  for (const url of ['/v1/appeals', `/v1/appeals/${appeal.id}`, '/v1/appeals?country=CN', '/subscriptions/not-a-token']) {
    statuses.push((await ctx.request(null, 'GET', url, undefined, { accept: 'application/json' })).statusCode)
  }
  t.notOk(statuses.includes(429), `the first four keyless requests pass (${statuses.join(', ')})`)

  const limited = await ctx.request(null, 'GET', '/v1/appeals')
  t.equal(limited.statusCode, 429)
  t.match(limited.headers['content-type'], /application\/problem\+json/)
  t.equal(limited.json().type, '/problems/rate-limited')
  t.ok(Number(limited.headers['retry-after']) >= 1, 'Retry-After tells when to come back')

  const otherClient = await ctx.app.inject({ method: 'GET', url: '/v1/appeals', remoteAddress: '192.0.2.7' })
  t.equal(otherClient.statusCode, 200, 'another address has its own budget')

  t.equal((await ctx.request('partner', 'GET', '/v1/appeals')).statusCode, 200, 'a keyed caller is not limited by the public budget')
  t.equal((await ctx.request(null, 'GET', '/healthz')).statusCode, 200, 'health checks are never limited')
  t.equal((await ctx.request(null, 'GET', '/metrics')).statusCode, 200, 'metrics scrapes are never limited')
})

t.test('API instances share the public budget through Redis; no request waits for it', async (t) => {
  const a = await buildTestApp(t, { PUBLIC_RATE_LIMIT: '5' })
  // A second `serve` on the same Postgres and Redis.
  const redis = createFailFastRedis(a.config.redisUrl)
  const b = await buildApp({ config: a.config, pool: a.pool, redis, logger: pino({ level: 'silent' }) })
  t.teardown(async () => { await b.close(); redis.disconnect() })
  const counter = `${a.config.queuePrefix}:public-rate-limit:127.0.0.1`

  for (let i = 0; i < 5; i++) t.equal((await a.request(null, 'GET', '/v1/appeals')).statusCode, 200, `request ${i + 1} of 5 on instance A`)
  t.equal((await a.request(null, 'GET', '/v1/appeals')).statusCode, 429, 'A refuses the sixth at once, counting in memory')
  await eventually(async () => Number(await a.redis.get(counter)) === 6, 5000, 'A\'s count reaches Redis')

  // B has not heard of this client: its first request goes through and brings the shared count back.
  const first = await b.inject({ method: 'GET', url: '/v1/appeals' })
  await eventually(async () => Number(await a.redis.get(counter)) === 7, 5000, 'B\'s count reaches Redis')
  await new Promise((resolve) => setImmediate(resolve))
  const second = await b.inject({ method: 'GET', url: '/v1/appeals' })
  t.equal(second.statusCode, 429, `once B has heard from Redis it refuses too (first answer ${first.statusCode}: at most one round trip of grace)`)
  t.equal(second.json().type, '/problems/rate-limited')
  t.ok(Number(await a.redis.pttl(counter)) > 0, 'the shared counter expires with its window')
})

t.test('the write-behind store: exact in one process, a fresh budget once the window ends', async (t) => {
  const ctx = await buildTestApp(t)
  const store = new WriteBehindRateStore(ctx.redis, `${ctx.config.queuePrefix}:store-test:`)
  const incr = (key: string) => new Promise<{ current: number; ttl: number }>((resolve, reject) => {
    store.incr(key, (err, res) => (err ? reject(err) : resolve(res)), 300)
  })
  const burst = await Promise.all(Array.from({ length: 10 }, () => incr('client-a')))
  t.same(burst.map((r) => r.current).sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'ten concurrent requests are counted 1 to 10, none twice')
  t.ok(burst.every((r) => r.ttl > 0 && r.ttl <= 300), 'each answer carries the time left in the window')
  t.equal((await incr('client-b')).current, 1, 'another client has its own count')
  await eventually(async () => Number(await ctx.redis.get(`${ctx.config.queuePrefix}:store-test:client-a`)) === 10, 5000, 'the count in Redis')
  await new Promise((resolve) => setTimeout(resolve, 400))
  t.equal((await incr('client-a')).current, 1, 'after the window the budget starts again')
})

t.test('with Redis down the public limit still holds in each instance', async (t) => {
  const ctx = await buildTestAppOnPrivateRedis(t, { PUBLIC_RATE_LIMIT: '3' })
  await ctx.redisServer.stop()
  const statuses = []
  for (let i = 0; i < 4; i++) statuses.push((await ctx.request(null, 'GET', '/v1/appeals')).statusCode)
  t.same(statuses, [200, 200, 200, 429], 'three pass, the fourth is refused (the Redis-only store let everything through)')
  await ctx.redisServer.start()
})

t.test('a text/plain body is refused with 415 on JSON endpoints', async (t) => {
  const ctx = await buildTestApp(t)
  const res = await ctx.request('admin', 'POST', '/v1/organisations', 'name=x', { 'content-type': 'text/plain' })
  t.equal(res.statusCode, 415)
  t.equal(res.json().type, '/problems/unsupported-media-type')
})

t.test('the router\'s own rejections are problem documents too', async (t) => {
  const ctx = await buildTestApp(t)
  const badEncoding = await ctx.request(null, 'GET', '/v1/appeals/%E0%A4%A')
  t.equal(badEncoding.statusCode, 400)
  t.match(badEncoding.headers['content-type'], /application\/problem\+json/)
  t.equal(badEncoding.json().type, '/problems/malformed-url')

  const tooLong = await ctx.request(null, 'GET', `/v1/appeals/${'a'.repeat(600)}`)
  t.equal(tooLong.statusCode, 414)
  t.equal(tooLong.json().type, '/problems/uri-too-long')
  t.equal(tooLong.json().status, 414)
})
