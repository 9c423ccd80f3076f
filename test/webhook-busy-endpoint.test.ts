// A chunk job whose endpoint stays busy hands the waiting rows back: due
// again in 2 s, in a delayed job of their own, never left `sending` — also
// when the job fails on its outcome write (its retry skips rows still
// `sending`, which would otherwise wait minutes for the stale sweep).
import { pino } from 'pino'
import tap from 'tap'
import { createWorkerRedis } from '../src/queue/queues.js'
import { WebhookDeliverer } from '../src/webhooks/deliverer.js'
import { WebhookHttpClient } from '../src/webhooks/http-client.js'
import { createWebhookQueue } from '../src/webhooks/queue.js'
import { buildTestApp } from './helpers/context.js'
import { createPublished } from './helpers/liaoning.js'
import { startReceiver } from './helpers/receiver.js'
import { createEndpoint } from './helpers/webhooks.js'

type Tap = { teardown(fn: () => unknown): void }

/** One endpoint that answers after 1.5 s (past the 1 s a row waits for its slot), three events' rows to it, and a deliverer allowing one request per endpoint. */
async function setUp(t: Tap) {
  const ctx = await buildTestApp(t)
  const receiver = await startReceiver(t)
  receiver.answer('/slow', { status: 204, delayMs: 1500 })
  const endpoint = await createEndpoint(ctx, { url: receiver.url('/slow') })
  for (let i = 0; i < 3; i++) await createPublished(ctx)
  const { rows } = await ctx.pool.query<{ id: number }>(
    `INSERT INTO deliveries (event_id, channel, recipient_id, status, next_attempt_at, queued_at)
     SELECT id, 'webhook', $1, 'pending', now(), now() FROM events WHERE type = 'appeal.published' ORDER BY position
     RETURNING id`, [endpoint.id])
  const ids = rows.map((r) => Number(r.id))
  const redis = createWorkerRedis(ctx.config.redisUrl)
  const queue = createWebhookQueue(redis, ctx.config.queuePrefix)
  const client = new WebhookHttpClient({ allowPrivateNetworks: ctx.config.webhook.allowPrivateNetworks, timeoutMs: ctx.config.webhook.timeoutMs })
  const deliverer = new WebhookDeliverer({
    config: ctx.config, pool: ctx.pool, client, queue: () => queue, logger: pino({ level: 'silent' }), perEndpoint: 1, perJob: 4,
  })
  t.teardown(async () => {
    await deliverer.close()
    await client.close()
    await queue.close()
    redis.disconnect()
  })
  const statuses = async () => (await ctx.pool.query<{ id: number; status: string; due_in_ms: number }>(
    `SELECT id, status, (extract(epoch FROM next_attempt_at - now()) * 1000)::int AS due_in_ms FROM deliveries WHERE id = ANY($1::bigint[]) ORDER BY id`,
    [ids])).rows
  const deferredJobs = async () => (await queue.getJobs(['delayed'])).filter((j) => j.id!.startsWith('whd-')).map((j) => j.data.ids)
  return { ctx, receiver, deliverer, ids, statuses, deferredJobs }
}

tap.test('rows whose endpoint stays busy are handed back, due again shortly in a job of their own', async (t) => {
  const s = await setUp(t)
  t.same(await s.deliverer.processJob({ ids: s.ids, trigger: 'scheduled' }), { delivered: 1, deferred: 2 })
  t.equal(s.receiver.requests.length, 1, 'one request at a time to the busy endpoint')
  const rows = await s.statuses()
  t.equal(rows[0]!.status, 'delivered')
  t.same(rows.slice(1).map((r) => r.status), ['pending', 'pending'], 'the other two are due again, not held')
  t.ok(rows.slice(1).every((r) => r.due_in_ms > 0 && r.due_in_ms <= 2000), `due within 2 s (${rows.map((r) => r.due_in_ms).join(', ')} ms)`)
  t.same(await s.deferredJobs(), [s.ids.slice(1)], 'in one delayed job')
})

tap.test('a job that fails on its outcome write still hands its busy endpoint\'s rows back', async (t) => {
  const s = await setUp(t)
  // Postgres refuses the attempt log from now on, as a full disk would.
  await s.ctx.pool.query(`CREATE FUNCTION ua_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'no space left (test)'; END $$`)
  await s.ctx.pool.query('CREATE TRIGGER ua_test_refuse BEFORE INSERT ON webhook_attempts FOR EACH STATEMENT EXECUTE FUNCTION ua_test_refuse()')
  await t.rejects(s.deliverer.processJob({ ids: s.ids, trigger: 'scheduled' }), /no space left/, 'the job fails (BullMQ retries it)')
  t.equal(s.receiver.requests.length, 1)
  const rows = await s.statuses()
  t.equal(rows[0]!.status, 'sending', 'the attempted row, its outcome unwritten, is left for the stale sweep (at least once)')
  t.same(rows.slice(1).map((r) => r.status), ['pending', 'pending'], 'the two it never attempted are due again, not held `sending`')
  t.same(await s.deferredJobs(), [s.ids.slice(1)], 'in one delayed job')
})
