// The webhook fan-out freezes its audience in slices (32, 200, 400, …
// partners) and enqueues each slice's chunk jobs at once: every delivery row
// of an event is in exactly one webhook job, so no worker claims a row a
// second time (a no-op claim is a Postgres round trip and a rewritten row).
// A retried fan-out, whose freezes write nothing, still enqueues every
// pending row. No worker runs here: the jobs are read back from the queue.
import tap from 'tap'
import { processFanout } from '../src/jobs/fan-out.js'
import { freezeWebhookAudience } from '../src/repositories/webhook-deliveries.js'
import { buildTestApp } from './helpers/context.js'
import { createPublished } from './helpers/liaoning.js'
import { createEndpoint, handDrivenWebhookChannel } from './helpers/webhooks.js'

async function fanOutTo(t: { teardown(fn: () => unknown): void }, endpoints: number) {
  const ctx = await buildTestApp(t, { WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION: '300' })
  for (let i = 0; i < endpoints; i++) await createEndpoint(ctx, { url: `http://127.0.0.1:9/p/${i}` })
  await createPublished(ctx)
  const { eventId, queue, channel } = await handDrivenWebhookChannel(t, ctx)
  const fanOut = () => processFanout({ data: { eventId } }, { pool: ctx.pool, channels: [channel] })
  /** Every job in the queue, with the delivery ids it carries. */
  const jobs = async () => (await queue.getJobs(['waiting', 'prioritized', 'delayed', 'active', 'completed'])).map((j) => ({ id: j.id!, ids: j.data.ids }))
  const rowIds = async () => (await ctx.pool.query<{ id: number }>('SELECT id FROM deliveries WHERE event_id = $1 ORDER BY id', [eventId]))
    .rows.map((r) => Number(r.id))
  return { queue, fanOut, jobs, rowIds, pool: ctx.pool, eventId }
}

/** How many jobs carry each delivery id. */
function jobsPerRow(jobs: { ids: number[] }[]): Map<number, number> {
  const n = new Map<number, number>()
  for (const job of jobs) for (const id of job.ids) n.set(id, (n.get(id) ?? 0) + 1)
  return n
}

tap.test('250 partners: slices of 32, 200 and the last 18, each row in one job', async (t) => {
  const f = await fanOutTo(t, 250)
  t.same(await f.fanOut(), { webhook: 250 })
  const jobs = await f.jobs()
  const rows = await f.rowIds()
  t.equal(rows.length, 250)
  const perRow = jobsPerRow(jobs)
  t.same([...perRow.keys()].sort((a, b) => a - b), rows, 'every row is in a job')
  t.same([...perRow.entries()].filter(([, n]) => n > 1), [], 'no row is in two jobs')
  t.same(jobs.map((j) => j.ids.length).sort((a, b) => a - b), [18, 32, 200], `one job per slice (${jobs.map((j) => `${j.id}: ${j.ids.length}`).join(', ')})`)
  t.same(jobs.find((j) => j.ids.length === 32)!.ids, rows.slice(0, 32), 'the first slice is the first partners in id order')
})

tap.test('an audience within the first slice gets one job', async (t) => {
  const f = await fanOutTo(t, 5)
  t.same(await f.fanOut(), { webhook: 5 })
  const jobs = await f.jobs()
  t.equal(jobs.length, 1, `one job (${jobs.map((j) => `${j.id}: ${j.ids.length}`).join(', ')})`)
  t.same(jobs[0]!.ids, await f.rowIds())
})

tap.test('a retried fan-out (its freezes write nothing) enqueues every pending row again', async (t) => {
  const f = await fanOutTo(t, 40)
  await f.fanOut()
  const first = await f.jobs()
  // Redis lost the jobs: the retried fan-out must not rely on the first run's.
  await f.queue.obliterate({ force: true })
  t.same(await f.fanOut(), { webhook: 0 }, 'nothing frozen twice')
  const again = await f.jobs()
  t.ok(first.length > 0)
  t.same([...jobsPerRow(again).keys()].sort((a, b) => a - b), await f.rowIds(), 'every pending row is in a job again')
})

tap.test('a fan-out that stopped after its first slice, retried: the rest is written, and every pending row is in a job', async (t) => {
  const f = await fanOutTo(t, 40)
  // The first run wrote the first slice, then died before its job reached Redis.
  t.equal((await freezeWebhookAudience(f.pool, f.eventId, { after: null, limit: 32 })).count, 32)
  t.same(await f.fanOut(), { webhook: 8 }, 'the retry writes only the 8 rows the first run did not')
  t.same([...jobsPerRow(await f.jobs()).keys()].sort((a, b) => a - b), await f.rowIds(), 'all 40 pending rows are in jobs')
})
