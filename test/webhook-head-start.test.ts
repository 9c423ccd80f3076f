// The fan-out's head start and its chunk jobs share the work: every
// delivery row of an event is in exactly one webhook job, so no worker
// claims a row a second time (a no-op claim is a Postgres round trip and a
// rewritten row), and an audience within the head start gets no second job.
// A retried fan-out, whose freezes write nothing, still enqueues every
// pending row. No worker runs here: the jobs are read back from the queue.
import tap from 'tap'
import { processFanout } from '../src/jobs/fan-out.js'
import { buildTestApp } from './helpers/context.js'
import { createPublished } from './helpers/liaoning.js'
import { createEndpoint, handDrivenWebhookChannel } from './helpers/webhooks.js'

async function fanOutTo(t: { teardown(fn: () => unknown): void }, endpoints: number) {
  const ctx = await buildTestApp(t, { WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION: '100' })
  for (let i = 0; i < endpoints; i++) await createEndpoint(ctx, { url: `http://127.0.0.1:9/p/${i}` })
  await createPublished(ctx)
  const { eventId, queue, channel } = await handDrivenWebhookChannel(t, ctx)
  const fanOut = () => processFanout({ data: { eventId } }, { pool: ctx.pool, channels: [channel] })
  /** Every job in the queue, with the delivery ids it carries. */
  const jobs = async () => (await queue.getJobs(['waiting', 'prioritized', 'delayed', 'active', 'completed'])).map((j) => ({ id: j.id!, ids: j.data.ids }))
  const rowIds = async () => (await ctx.pool.query<{ id: number }>('SELECT id FROM deliveries WHERE event_id = $1 ORDER BY id', [eventId]))
    .rows.map((r) => Number(r.id))
  return { queue, fanOut, jobs, rowIds }
}

/** How many jobs carry each delivery id. */
function jobsPerRow(jobs: { ids: number[] }[]): Map<number, number> {
  const n = new Map<number, number>()
  for (const job of jobs) for (const id of job.ids) n.set(id, (n.get(id) ?? 0) + 1)
  return n
}

tap.test('40 partners: the head start\'s 32 rows and the other 8 are each in one job', async (t) => {
  const f = await fanOutTo(t, 40)
  t.same(await f.fanOut(), { webhook: 40 })
  const jobs = await f.jobs()
  const rows = await f.rowIds()
  t.equal(rows.length, 40)
  const perRow = jobsPerRow(jobs)
  t.same([...perRow.keys()].sort((a, b) => a - b), rows, 'every row is in a job')
  t.same([...perRow.entries()].filter(([, n]) => n > 1), [], 'no row is in two jobs')
  t.equal(jobs.length, 2, `the head start's job and one chunk (${jobs.map((j) => `${j.id}: ${j.ids.length}`).join(', ')})`)
})

tap.test('an audience within the head start gets one job, not a second one with the same rows', async (t) => {
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
  // Redis lost the jobs: the retried fan-out must not rely on the first run's head start.
  await f.queue.obliterate({ force: true })
  t.same(await f.fanOut(), { webhook: 0 }, 'nothing frozen twice')
  const again = await f.jobs()
  t.ok(first.length > 0)
  t.same([...jobsPerRow(again).keys()].sort((a, b) => a - b), await f.rowIds(), 'every pending row is in a job again')
})
