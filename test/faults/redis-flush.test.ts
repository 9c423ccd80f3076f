// Fault: FLUSHALL in the middle of a fan-out. Every queued chunk job (and
// the reconciler's own schedule) vanishes from Redis; Postgres still knows
// which deliveries are due, so the reconciler re-enqueues them and every
// supporter and partner gets the alert, once.
import tap from 'tap'
import { Redis } from 'ioredis'
import { buildTestApp, startPrivateRedis } from '../helpers/context.js'
import { createPublished } from '../helpers/liaoning.js'
import { startReceiver } from '../helpers/receiver.js'
import { startSmtpSink } from '../helpers/smtp-sink.js'
import { createEndpoint } from '../helpers/webhooks.js'
import { emailStatus, roleEnv, seedSupporters, startWorkerProcess, tally, until } from './helpers.js'

const SUPPORTERS = 5000
const PARTNERS = 20

tap.test('FLUSHALL mid-fan-out: the reconciler restores every delivery', async (t) => {
  const redisServer = await startPrivateRedis(t)
  // A slow relay keeps the fan-out running long enough to flush in the middle of it.
  const sink = await startSmtpSink(t, { delayMs: 5 })
  const receiver = await startReceiver(t)
  // Partners answer slowly: some webhook chunks are still queued at the flush.
  for (let i = 0; i < PARTNERS; i++) receiver.answer(`/partner/${i}`, { status: 204, delayMs: 300 })
  const ctx = await buildTestApp(t, { REDIS_URL: redisServer.url, SMTP_URL: sink.url })
  const intended = await seedSupporters(ctx.pool, SUPPORTERS)
  for (let i = 0; i < PARTNERS; i++) await createEndpoint(ctx, { url: receiver.url(`/partner/${i}`) })
  const worker = await startWorkerProcess(t, roleEnv({ DATABASE_URL: ctx.config.databaseUrl, REDIS_URL: redisServer.url, SMTP_URL: sink.url }))

  const started = Date.now()
  await createPublished(ctx)
  await sink.waitForCount(Math.round(SUPPORTERS * 0.2), 60_000)
  const redis = new Redis(redisServer.url)
  t.teardown(() => redis.disconnect())
  await redis.flushall()
  const atFlush = { mails: sink.messages.length, webhooks: receiver.requests.length, rows: await emailStatus(ctx.pool) }
  t.comment(`FLUSHALL at ${JSON.stringify(atFlush)} (${Date.now() - started} ms after publishing)`)
  t.ok(atFlush.mails < SUPPORTERS, 'the fan-out was still running')

  const result = await until(() => {
    const r = tally(sink.messages, intended)
    return r.missing.length === 0 && new Set(receiver.requests.map((q) => q.path)).size === PARTNERS ? r : undefined
  }, 150_000, 'every supporter and partner reached', () => ({ mails: sink.messages.length, webhooks: receiver.requests.length }))
  t.comment(`all delivered ${Date.now() - started} ms after publishing; ${result.duplicates} duplicate mails`)
  const final = await until(async () => {
    const s = await emailStatus(ctx.pool)
    return s.sent === SUPPORTERS ? s : undefined
  }, 30_000, 'every row recorded as sent')
  t.same(final, { sent: SUPPORTERS }, 'every email row ends sent')
  t.equal(result.missing.length, 0, 'every supporter got the alert')
  t.equal(result.strays, 0, 'nobody else got it')
  // The flush loses jobs, not claims: rows being sent at the flush finish and are recorded.
  t.equal(result.duplicates, 0, 'no supporter got it twice')
  const perPartner = new Map<string, number>()
  for (const r of receiver.requests) perPartner.set(r.path, (perPartner.get(r.path) ?? 0) + 1)
  t.ok([...perPartner.values()].every((n) => n === 1), `each partner exactly once: ${JSON.stringify([...perPartner.values()])}`)
  const scheduler = await redis.keys('*repeat*')
  t.ok(scheduler.length > 0, 'the reconciler schedule is back in Redis')
  t.match(worker.stdout() + worker.stderr(), /reconciler schedule was missing from Redis; restored/, 'the worker noticed the lost schedule')
})
