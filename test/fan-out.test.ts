// The fan-out job's order of work, with recording channels in place of the
// webhook and email channels (the event comes from a real publish): webhooks
// are frozen first, and email's freeze does not wait while the webhook
// chunk jobs are handed to Redis; a failed enqueue still fails the job.
import tap from 'tap'
import type { DeliveryChannel } from '../src/delivery/channel.js'
import { processFanout } from '../src/jobs/fan-out.js'
import { buildTestApp } from './helpers/context.js'
import { createPublished } from './helpers/liaoning.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function recordingChannel(name: 'webhook' | 'email', log: string[], enqueue: () => Promise<number>): DeliveryChannel {
  return {
    name,
    async freeze() { log.push(`${name} freeze`); return 1 },
    async enqueue() {
      log.push(`${name} enqueue starts`)
      const n = await enqueue()
      log.push(`${name} enqueue done`)
      return n
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
