// The fan-out job's order of work (the event comes from a real publish):
// with recording channels, webhooks are frozen first and email's freeze does
// not wait while the webhook chunk jobs are handed to Redis, and a failed
// enqueue still fails the job; with the real webhook channel and worker, the
// first slice reaches its partners before a large audience is frozen.
import pino from 'pino'
import tap from 'tap'
import type { DeliveryChannel } from '../src/delivery/channel.js'
import { createPool } from '../src/db/pool.js'
import { processFanout } from '../src/jobs/fan-out.js'
import { createWorkerRedis } from '../src/queue/queues.js'
import { startWebhookDelivery } from '../src/webhooks/worker.js'
import { buildTestApp } from './helpers/context.js'
import { createPublished } from './helpers/liaoning.js'
import { startReceiver } from './helpers/receiver.js'
import { createEndpoint, eventually } from './helpers/webhooks.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function recordingChannel(name: 'webhook' | 'email', log: string[], enqueue: () => Promise<number>): DeliveryChannel {
  return {
    name,
    async fanOut() {
      log.push(`${name} freeze`)
      const enqueued = (async () => {
        log.push(`${name} enqueue starts`)
        const n = await enqueue()
        log.push(`${name} enqueue done`)
        return n
      })()
      return { count: 1, enqueued }
    },
    async reconcile() { return 0 },
  }
}

async function publishedEventId(ctx: Awaited<ReturnType<typeof buildTestApp>>): Promise<string> {
  await createPublished(ctx)
  const { rows: [event] } = await ctx.pool.query<{ id: string }>(`SELECT id FROM events WHERE type = 'appeal.published' ORDER BY position DESC LIMIT 1`)
  return event!.id
}

tap.test('webhooks freeze first; email freezes while the webhook jobs are still being enqueued', async (t) => {
  const ctx = await buildTestApp(t)
  const eventId = await publishedEventId(ctx)
  const log: string[] = []
  const channels = [
    recordingChannel('webhook', log, async () => { await sleep(300); return 1 }), // Redis slow to take the chunk jobs
    recordingChannel('email', log, async () => 1),
  ]
  t.same(await processFanout({ data: { eventId } }, { pool: ctx.pool, channels }), { webhook: 1, email: 1 })
  t.equal(log[0], 'webhook freeze', 'partners\' audience is frozen first')
  t.ok(log.indexOf('email freeze') < log.indexOf('webhook enqueue done'), `email's freeze does not wait for the webhook enqueue (${log.join(', ')})`)
  t.equal(log.at(-1), 'webhook enqueue done', 'the job ends only once every enqueue has')
})

tap.test('a failed enqueue fails the job (BullMQ retries it), after the later channels were frozen', async (t) => {
  const ctx = await buildTestApp(t)
  const eventId = await publishedEventId(ctx)
  const log: string[] = []
  const channels = [
    recordingChannel('webhook', log, async () => { await sleep(50); throw new Error('Redis refused the chunk jobs') }),
    recordingChannel('email', log, async () => { await sleep(200); return 1 }),
  ]
  await t.rejects(processFanout({ data: { eventId } }, { pool: ctx.pool, channels }), /Redis refused/)
  t.ok(log.includes('email freeze'), 'email was frozen: the retry finds it frozen and enqueues it again')
  t.same(await processFanout({ data: { eventId: 'msg_00000000000000000000000000' } }, { pool: ctx.pool, channels }), {}, 'an event that is not there: nothing to do')
})

tap.test('slices: the first partners are called while the rest of a large audience is still being frozen; each once', async (t) => {
  const ctx = await buildTestApp(t, { WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION: '300' })
  const receiver = await startReceiver(t)
  const endpoints = 250
  for (let i = 0; i < endpoints; i++) await createEndpoint(ctx, { url: receiver.url(`/p/${i}`) })
  // The webhook worker alone (no relay: this test runs the fan-out itself).
  const pool = createPool(ctx.config.databaseUrl, { max: 6 })
  const connection = createWorkerRedis(ctx.config.redisUrl)
  const webhooks = await startWebhookDelivery({ config: ctx.config, pool, logger: pino({ level: 'silent' }), connection })
  t.teardown(async () => { await webhooks.close(); connection.disconnect(); await pool.end() })
  const eventId = await publishedEventId(ctx)
  // A freeze as slow as a large audience's: another transaction has written,
  // and not committed, the row of the last partner in id order, so the slice
  // holding that partner waits on its key until that transaction ends.
  const { rows: ids } = await ctx.pool.query<{ id: string }>('SELECT id FROM webhook_endpoints ORDER BY id')
  const blocker = await ctx.pool.connect()
  t.teardown(() => blocker.release())
  await blocker.query('BEGIN')
  await blocker.query(`INSERT INTO deliveries (event_id, channel, recipient_id, status, next_attempt_at, queued_at)
    VALUES ($1, 'webhook', $2, 'pending', now(), now())`, [eventId, ids.at(-1)!.id])
  const fanOut = processFanout({ data: { eventId } }, { pool: ctx.pool, channels: [webhooks.channel] })
  // Slices of 32 and 200 are written and sent; the third (the last 18) waits.
  await receiver.waitFor(() => receiver.requests.length >= 232, 10_000, 'the first two slices\' partners')
  await sleep(200)
  t.equal(receiver.requests.length, 232, 'the first two slices\' 232 partners are called while the rest of the audience waits to be written')
  await blocker.query('ROLLBACK')
  t.same(await fanOut, { webhook: endpoints }, 'every partner frozen once')
  await receiver.waitFor(() => receiver.requests.length >= endpoints, 10_000, 'every partner')
  await eventually(async () => {
    const { rows } = await ctx.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM deliveries WHERE event_id = $1 AND status = 'delivered'`, [eventId])
    return rows[0]!.n === endpoints
  }, 10_000, 'every delivery recorded')
  await sleep(300) // a second job over any row would have sent by now
  t.equal(receiver.requests.length, endpoints, 'each partner called exactly once')
  t.equal(new Set(receiver.requests.map((r) => r.path)).size, endpoints)
})
