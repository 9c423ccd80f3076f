// Upgrading from the shared `{ua}` hash tag (before each queue had its own,
// src/queue/queues.ts): jobs still waiting under the old keys are moved to
// each queue's own keys when the delivery workers start. A fan-out job is
// the one that matters: the reconciler restores lost deliveries from
// Postgres, but nothing in Postgres says an event's fan-out never ran.
import tap from 'tap'
import { Queue } from 'bullmq'
import { fanoutJobId, legacyQueuePrefix, QUEUE } from '../src/queue/queues.js'
import { buildTestApp } from './helpers/context.js'
import { createPublished } from './helpers/liaoning.js'
import { startSmtpSink } from './helpers/smtp-sink.js'
import { seedActiveSubscribers } from './helpers/supporters.js'
import { startDelivery } from './helpers/webhooks.js'

const SUPPORTERS = 30

tap.test('a fan-out job left waiting under the old {ua} keys is run once the new workers start', async (t) => {
  const sink = await startSmtpSink(t)
  const ctx = await buildTestApp(t, { SMTP_URL: sink.url })
  const emails = Array.from({ length: SUPPORTERS }, (_, i) => `upgrade${i}@example.org`)
  await seedActiveSubscribers(ctx, emails)
  await createPublished(ctx)
  // What an old worker left behind: its relay marked the event dispatched and
  // put the fan-out job under `{namespace}:fanout:…`; then it was stopped.
  const { rows } = await ctx.pool.query<{ id: string }>('UPDATE events SET dispatched_at = now() WHERE dispatched_at IS NULL RETURNING id')
  t.ok(rows.length > 0, 'the publish wrote an event')
  const legacy = new Queue(QUEUE.fanout, { connection: ctx.redis, prefix: legacyQueuePrefix(ctx.config.queuePrefix) })
  t.teardown(() => legacy.close())
  await legacy.addBulk(rows.map((e) => ({ name: 'appeal.published', data: { eventId: e.id }, opts: { jobId: fanoutJobId(e.id) } })))

  await startDelivery(t, ctx.config)
  await sink.waitForCount(SUPPORTERS, 30_000)
  const reached = new Set(sink.messages.flatMap((m) => m.to))
  t.ok(emails.every((e) => reached.has(e)), 'every supporter got the alert')
  t.equal(await legacy.getJobCountByTypes('waiting', 'prioritized', 'delayed'), 0, 'nothing left waiting under the old keys')
})
