// Postgres is the truth, Redis a timer: deliveries whose job was lost (Redis
// flushed) or whose worker died mid-attempt are found by the webhook
// channel's reconcile() and delivered — exactly the rows that are due.
import tap from 'tap'
import { pino } from 'pino'
import { startDeliveryWorkers } from '../src/delivery/workers.js'
import { createPool } from '../src/db/pool.js'
import { freezeWebhookAudience } from '../src/repositories/webhook-deliveries.js'
import { buildTestApp } from './helpers/context.js'
import { createPublished } from './helpers/liaoning.js'
import { startReceiver } from './helpers/receiver.js'
import { createEndpoint, deliveriesOf, eventually, handDrivenWebhookChannel, verify } from './helpers/webhooks.js'

tap.test('reconcile re-enqueues due deliveries without a job and revives stale in-flight ones', async (t) => {
  const ctx = await buildTestApp(t)
  const receiver = await startReceiver(t)
  const lost = await createEndpoint(ctx, { url: receiver.url('/lost') })
  const crashed = await createEndpoint(ctx, { url: receiver.url('/crashed') })
  const later = await createEndpoint(ctx, { url: receiver.url('/later') })
  // No outbox relay: the event is frozen by hand and its jobs never reach Redis.
  await createPublished(ctx)
  const { eventId, channel } = await handDrivenWebhookChannel(t, ctx)
  t.equal((await freezeWebhookAudience(ctx.pool, eventId)).count, 3)
  t.equal((await freezeWebhookAudience(ctx.pool, eventId)).count, 0, 'freezing twice inserts nothing')
  t.equal(await channel.reconcile(), 0, 'rows just frozen count as queued: the reconciler leaves them to their jobs')
  // Time passes (every row was stamped queued when frozen): one row's job was lost, one row's worker died mid-attempt, one row is not due yet.
  await ctx.pool.query(`UPDATE deliveries SET next_attempt_at = now() - interval '5 minutes', queued_at = now() - interval '5 minutes'`)
  await ctx.pool.query(`UPDATE deliveries SET status = 'sending', attempts = 1, updated_at = now() - interval '10 minutes' WHERE recipient_id = $1`, [crashed.id])
  await ctx.pool.query(`UPDATE deliveries SET status = 'retrying', attempts = 1, next_attempt_at = now() + interval '1 hour' WHERE recipient_id = $1`, [later.id])

  t.equal(await channel.reconcile(), 1, 'the overdue row is re-enqueued; the stale in-flight one is made due again')
  await ctx.pool.query(`UPDATE deliveries SET next_attempt_at = now() - interval '5 minutes', queued_at = now() - interval '5 minutes' WHERE recipient_id = $1`, [crashed.id])
  t.equal(await channel.reconcile(), 1, 'and enqueued on the next sweep once overdue')
  t.equal(receiver.requests.length, 0, 'nothing sent yet: no worker is running')

  // The delivery workers (whose own reconciler also runs on start) pick the jobs up.
  const pool = createPool(ctx.config.databaseUrl, { max: 4 })
  const workers = await startDeliveryWorkers({ config: ctx.config, pool, logger: pino({ level: 'silent' }) })
  t.teardown(async () => { await workers.close(); await pool.end() })
  await receiver.waitFor(() => receiver.to('/lost').length === 1 && receiver.to('/crashed').length === 1, 10_000, 'both deliveries')
  t.ok(verify(lost.secret, receiver.to('/lost')[0]!))
  t.ok(verify(crashed.secret, receiver.to('/crashed')[0]!))
  await eventually(async () => (await deliveriesOf(ctx, crashed.id))[0]?.status === 'delivered', 5000, 'recorded')
  t.equal(receiver.to('/later').length, 0, 'a retry that is not due yet is left alone')
  t.equal(await channel.reconcile(), 0, 'nothing else is due')
})
