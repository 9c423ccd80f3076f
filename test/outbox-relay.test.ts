// The worker's outbox relay (architecture: "Postgres is the truth; Redis is
// a timer"): committed events reach the fan-out queue quickly, exactly once,
// through Redis outages, several workers and crashes.
import t from 'tap'
import pg from 'pg'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildTestApp, buildTestAppOnPrivateRedis, startTestSweeper, type TestApp } from './helpers/context.js'
import { approve, liaoningAppeal } from './helpers/liaoning.js'
import { withTransaction } from '../src/db/pool.js'
import { appendEvent } from '../src/services/events.js'
import { claimUndispatched } from '../src/repositories/events.js'
import { createFailFastRedis, createFanoutQueue, fanoutJobId } from '../src/queue/queues.js'
import { dispatchPendingEvents } from '../src/jobs/outbox-relay.js'
import { eventually } from './helpers/eventually.js'

const LISTENER = 'urgent-appeals-listener'

/** Polls `check` until it returns a truthy value; fails after `timeoutMs`. */
const waitFor = <T>(check: () => Promise<T | null | undefined | false>, what: string, timeoutMs = 10_000) =>
  eventually(check, timeoutMs, what, { intervalMs: 20 })

/** A draft created and published through the API, as an editor does it; returns the appeal id. */
async function publishAppeal(ctx: TestApp): Promise<string> {
  const { reference: _reference, ...body } = liaoningAppeal()
  const created = await ctx.request('editor', 'POST', '/v1/appeals', body)
  if (created.statusCode !== 201) throw new Error(`create: ${created.statusCode} ${created.body}`)
  const id = created.json().id as string
  await approve(ctx, id) // a child case: a second key approves it
  const published = await ctx.request('editor', 'POST', `/v1/appeals/${id}/publish`)
  if (published.statusCode !== 200) throw new Error(`publish: ${published.statusCode} ${published.body}`)
  return id
}

interface OutboxRow { id: string; type: string; dispatched: boolean }

async function eventsOfAppeal(ctx: TestApp, appealId: string): Promise<OutboxRow[]> {
  const { rows } = await ctx.pool.query<OutboxRow>(
    'SELECT id, type, dispatched_at IS NOT NULL AS dispatched FROM events WHERE appeal_id = $1 ORDER BY position', [appealId])
  return rows
}

async function undispatchedCount(ctx: TestApp): Promise<number> {
  const { rows } = await ctx.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM events WHERE dispatched_at IS NULL')
  return rows[0]!.n
}

/** Backend pids of the relay's LISTEN connections on this test's database. */
async function listenerPids(ctx: TestApp): Promise<number[]> {
  const { rows } = await ctx.pool.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 ORDER BY pid`, [LISTENER])
  return rows.map((r) => r.pid)
}

/** Many events at once, each in its own transaction, like concurrent editors. */
async function appendTestEvents(ctx: TestApp, n: number): Promise<string[]> {
  const rows = await Promise.all(Array.from({ length: n }, (_, i) =>
    withTransaction(ctx.pool, (tx) => appendEvent(tx, 'webhook.test', { n: i }, { organisationId: ctx.orgIds.partner }))))
  return rows.map((r) => r.id)
}

/** What BullMQ recorded on the queue's event stream, per job id. */
async function streamEvents(ctx: TestApp, eventsKey: string): Promise<{ added: Map<string, number>; duplicated: number }> {
  const entries = await ctx.redis.xrange(eventsKey, '-', '+')
  const added = new Map<string, number>()
  let duplicated = 0
  for (const [, fields] of entries) {
    const f: Record<string, string> = {}
    for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!
    if (f.event === 'added') added.set(f.jobId!, (added.get(f.jobId!) ?? 0) + 1)
    if (f.event === 'duplicated') duplicated++
  }
  return { added, duplicated }
}

t.test('publishing relays its event to the fan-out queue as job fanout-<eventId> and marks it dispatched', async (t) => {
  const ctx = await buildTestApp(t)
  const worker = await startTestSweeper(t, ctx.config)
  const appealId = await publishAppeal(ctx)

  const [event] = await waitFor(async () => {
    const rows = await eventsOfAppeal(ctx, appealId)
    return rows.length === 1 && rows[0]!.dispatched ? rows : null
  }, 'the appeal.published event to be dispatched')
  t.equal(event!.type, 'appeal.published')
  t.match(event!.id, /^msg_[0-9A-Za-z]{26}$/)

  const job = await worker.queue.getJob(fanoutJobId(event!.id))
  t.ok(job, 'a fan-out job exists for the event')
  t.equal(job!.id, `fanout-${event!.id}`)
  t.same(job!.data, { eventId: event!.id }, 'job data holds the event id only, never the payload')
  t.equal(job!.name, 'appeal.published')
})

t.test('LISTEN/NOTIFY wakes the relay well before the sweep timer would', async (t) => {
  const ctx = await buildTestApp(t)
  const worker = await startTestSweeper(t, { ...ctx.config, sweepIntervalMs: 60_000 })
  await waitFor(async () => (await listenerPids(ctx)).length === 1, 'the LISTEN connection')
  await worker.sweeper.sweep() // the start-up catch-up sweep is done

  const started = Date.now()
  const appealId = await publishAppeal(ctx)
  await waitFor(async () => (await eventsOfAppeal(ctx, appealId))[0]?.dispatched, 'the event to be dispatched', 5_000)
  const latency = Date.now() - started
  t.ok(latency < 2_000, `dispatched ${latency} ms after the publish (sweep interval 60 s)`)
})

t.test('a lost LISTEN connection is replaced by exactly one new one, which still wakes the relay', async (t) => {
  const ctx = await buildTestApp(t)
  await startTestSweeper(t, { ...ctx.config, sweepIntervalMs: 60_000 })
  const [first] = await waitFor(async () => {
    const pids = await listenerPids(ctx)
    return pids.length === 1 ? pids : null
  }, 'the LISTEN connection')
  await ctx.pool.query('SELECT pg_terminate_backend($1)', [first])

  await waitFor(async () => {
    const pids = await listenerPids(ctx)
    return pids.length > 0 && !pids.includes(first!)
  }, 'a new LISTEN connection')
  // Watch for a while: a reconnect scheduled twice shows up as a second listener.
  let most = 0
  for (const until = Date.now() + 1_000; Date.now() < until;) {
    most = Math.max(most, (await listenerPids(ctx)).length)
    await sleep(50)
  }
  t.equal(most, 1, 'one LISTEN connection after the reconnect, not several')

  const started = Date.now()
  const appealId = await publishAppeal(ctx)
  await waitFor(async () => (await eventsOfAppeal(ctx, appealId))[0]?.dispatched, 'the event to be dispatched', 5_000)
  t.ok(Date.now() - started < 2_000, 'the new connection wakes the relay')
})

t.test('a LISTEN connection that reports its loss more than once is replaced once', async (t) => {
  // pg may emit 'error' several times for one lost connection (an error
  // message, then the socket's own error); each must not schedule a reconnect.
  const listeners: pg.Client[] = []
  const connect = pg.Client.prototype.connect
  pg.Client.prototype.connect = function (this: pg.Client, ...args: unknown[]) {
    if ((this as unknown as { connectionParameters: { application_name?: string } }).connectionParameters.application_name === LISTENER) listeners.push(this)
    return (connect as unknown as (...a: unknown[]) => Promise<void>).apply(this, args)
  } as unknown as typeof connect
  t.teardown(() => { pg.Client.prototype.connect = connect })

  const ctx = await buildTestApp(t)
  await startTestSweeper(t, { ...ctx.config, sweepIntervalMs: 60_000 })
  await waitFor(async () => (await listenerPids(ctx)).length === 1, 'the LISTEN connection')
  t.equal(listeners.length, 1)
  const lost = listeners[0]!
  lost.emit('error', new Error('terminating connection due to administrator command'))
  lost.emit('error', new Error('read ECONNRESET'))
  lost.emit('error', new Error('Connection terminated unexpectedly'))

  await waitFor(async () => listeners.length > 1 && (await listenerPids(ctx)).length > 0, 'a new LISTEN connection')
  let most = 0
  for (const until = Date.now() + 1_000; Date.now() < until;) {
    most = Math.max(most, (await listenerPids(ctx)).length)
    await sleep(50)
  }
  t.equal(most, 1, 'one LISTEN connection on the server')
  t.equal(listeners.length, 2, 'one reconnect for one lost connection')

  const started = Date.now()
  const appealId = await publishAppeal(ctx)
  await waitFor(async () => (await eventsOfAppeal(ctx, appealId))[0]?.dispatched, 'the event to be dispatched', 5_000)
  t.ok(Date.now() - started < 2_000, 'the new connection wakes the relay')
})

t.test('closing the worker closes its LISTEN connection and it does not come back', async (t) => {
  const ctx = await buildTestApp(t)
  const worker = await startTestSweeper(t, ctx.config)
  await waitFor(async () => (await listenerPids(ctx)).length === 1, 'the LISTEN connection')
  // Close right after losing the connection: the pending reconnect must be cancelled.
  await ctx.pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1', [LISTENER])
  await worker.close()
  let most = 0
  for (const until = Date.now() + 900; Date.now() < until;) {
    most = Math.max(most, (await listenerPids(ctx)).length)
    await sleep(50)
  }
  t.equal(most, 0, 'no LISTEN connection after close')
})

t.test('Redis down: publishing still succeeds, and the event is relayed once Redis is back, without a restart', async (t) => {
  const ctx = await buildTestAppOnPrivateRedis(t)
  const worker = await startTestSweeper(t, ctx.config)
  const consoleErrors = t.capture(console, 'error')
  await ctx.redisServer.stop()

  const appealId = await publishAppeal(ctx) // throws unless 201 then 200
  const appeal = await ctx.request(null, 'GET', `/v1/appeals/${appealId}`)
  t.equal(appeal.json().status, 'published', 'the publish is committed')
  await worker.sweeper.sweep() // a relay attempt while Redis is down fails quietly
  const during = await eventsOfAppeal(ctx, appealId)
  t.equal(during.length, 1, 'the event row exists')
  t.equal(during[0]!.dispatched, false, 'and is not marked dispatched while Redis is down')
  await waitFor(async () => ctx.redis.status !== 'ready' && ctx.redis.status !== 'connect', 'the clients to notice the outage')
  await worker.sweeper.sweep()
  t.same(consoleErrors.args(), [], 'the outage is not sprayed on stderr (the relay logs it, rate-limited)')

  await ctx.redisServer.start()
  await waitFor(async () => (await eventsOfAppeal(ctx, appealId))[0]?.dispatched, 'the event to be dispatched after Redis returns', 15_000)
  const job = await worker.queue.getJob(fanoutJobId(during[0]!.id))
  t.ok(job, 'the fan-out job is in the restarted Redis')
  t.same(job!.data, { eventId: during[0]!.id })
})

t.test('a worker started while Redis is down holds no event hostage and relays once Redis is up', async (t) => {
  const ctx = await buildTestAppOnPrivateRedis(t)
  await ctx.redisServer.stop()
  const worker = await startTestSweeper(t, ctx.config)
  const appealId = await publishAppeal(ctx)
  await worker.sweeper.sweep()

  // Withdrawing rewrites the appeal's earlier events: it must not wait on a relay stuck on Redis.
  const started = Date.now()
  const withdrawn = await ctx.request('editor', 'POST', `/v1/appeals/${appealId}/withdraw`, { reason: 'Family request.' })
  t.equal(withdrawn.statusCode, 200, 'the withdrawal succeeds')
  t.ok(Date.now() - started < 1_000, `the withdrawal answered in ${Date.now() - started} ms`)
  const closing = Date.now()
  await worker.close()
  t.ok(Date.now() - closing < 1_000, 'the worker closes promptly during the outage')

  const again = await startTestSweeper(t, ctx.config)
  await ctx.redisServer.start()
  await waitFor(async () => (await undispatchedCount(ctx)) === 0, 'both events to be dispatched', 15_000)
  for (const e of await eventsOfAppeal(ctx, appealId)) t.ok(await again.queue.getJob(fanoutJobId(e.id)), `${e.type} relayed`)
})

t.test('a Redis that hangs does not hold claimed events: the relay gives up, the next sweep finishes', async (t) => {
  const ctx = await buildTestAppOnPrivateRedis(t)
  const redis = createFailFastRedis(ctx.config.redisUrl)
  const queue = createFanoutQueue(redis, ctx.config.queuePrefix)
  t.teardown(async () => { await queue.close(); redis.disconnect() })
  await queue.waitUntilReady()
  const ids = await appendTestEvents(ctx, 3)

  await ctx.redis.call('CLIENT', 'PAUSE', '1500', 'ALL') // Redis accepts connections but answers nothing
  const started = Date.now()
  await t.rejects(dispatchPendingEvents(ctx.pool, queue, 100, 300), { name: 'RedisUnavailableError' })
  t.ok(Date.now() - started < 1_000, 'the relay gives up at its deadline')
  const { rows } = await ctx.pool.query('SELECT id FROM events WHERE dispatched_at IS NULL FOR UPDATE NOWAIT')
  t.equal(rows.length, 3, 'the events are undispatched and not locked')

  // The jobs sent before the deadline land when Redis wakes up; the retry must not duplicate them.
  await waitFor(async () => (await Promise.all(ids.map((id) => queue.getJob(fanoutJobId(id))))).every(Boolean), 'Redis to answer again')
  t.equal(await dispatchPendingEvents(ctx.pool, queue, 100, 300), 3)
  t.equal(await undispatchedCount(ctx), 0)
  const stream = await streamEvents(ctx, queue.keys.events!)
  t.same([...stream.added.keys()].sort(), ids.map(fanoutJobId).sort(), 'one job per event')
  t.ok([...stream.added.values()].every((n) => n === 1))
})

t.test('two workers on the same database and Redis relay each event exactly once', async (t) => {
  const ctx = await buildTestApp(t)
  const a = await startTestSweeper(t, ctx.config)
  const b = await startTestSweeper(t, ctx.config)
  const ids = await appendTestEvents(ctx, 60)
  const appealId = await publishAppeal(ctx)
  ids.push((await eventsOfAppeal(ctx, appealId))[0]!.id)

  await waitFor(async () => (await undispatchedCount(ctx)) === 0, 'every event to be dispatched')
  const counts = await a.queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed')
  t.equal(Object.values(counts).reduce((x, y) => x + y, 0), ids.length, 'one job per event')
  for (const id of ids) {
    const job = await b.queue.getJob(fanoutJobId(id))
    if (!job || job.data.eventId !== id) t.fail(`no fan-out job for ${id}`)
  }
  const stream = await streamEvents(ctx, a.queue.keys.events!)
  t.equal(stream.added.size, ids.length, 'every event was enqueued')
  t.ok([...stream.added.values()].every((n) => n === 1), 'no event was enqueued twice')
  t.equal(stream.duplicated, 0, 'no relay tried to enqueue an event another had already relayed')
})

t.test('events committed while no worker runs are relayed when a worker starts again', async (t) => {
  const ctx = await buildTestApp(t)
  const first = await startTestSweeper(t, ctx.config)
  const before = await publishAppeal(ctx)
  await waitFor(async () => (await eventsOfAppeal(ctx, before))[0]?.dispatched, 'the first event to be dispatched')
  await first.close()

  const during = [await publishAppeal(ctx), await publishAppeal(ctx)]
  const ids = [...await appendTestEvents(ctx, 5)]
  for (const appealId of during) ids.push((await eventsOfAppeal(ctx, appealId))[0]!.id)
  t.equal(await undispatchedCount(ctx), 7, 'nothing relays them while no worker runs')

  const second = await startTestSweeper(t, ctx.config)
  await waitFor(async () => (await undispatchedCount(ctx)) === 0, 'the backlog to be dispatched')
  for (const id of ids) t.ok(await second.queue.getJob(fanoutJobId(id)), `job for ${id}`)
})

t.test('a worker that dies after claiming events, even after enqueueing them, loses and duplicates nothing', async (t) => {
  const ctx = await buildTestApp(t)
  const ids = await appendTestEvents(ctx, 4)
  const survivor = await startTestSweeper(t, ctx.config)
  await survivor.sweeper.sweep()
  t.equal(await undispatchedCount(ctx), 0, 'sanity: the survivor relays on its own')

  // Now a second batch, claimed by a relay that then dies before committing.
  await survivor.close()
  const more = await appendTestEvents(ctx, 4)
  const dying = new pg.Client({ connectionString: ctx.config.databaseUrl })
  dying.on('error', () => {})
  await dying.connect()
  t.teardown(() => dying.end().catch(() => {}))
  await dying.query('BEGIN')
  const claimed = await claimUndispatched(dying, 100)
  t.same(claimed.map((e) => e.id).sort(), [...more].sort(), 'the dying relay holds the new events')
  const queue = createFanoutQueue(ctx.redis, ctx.config.queuePrefix)
  t.teardown(() => queue.close())
  await queue.add('webhook.test', { eventId: more[0]! }, { jobId: fanoutJobId(more[0]!) }) // enqueued just before dying

  const next = await startTestSweeper(t, ctx.config)
  await next.sweeper.sweep()
  t.equal(await undispatchedCount(ctx), 4, 'a live worker skips events another relay has locked')

  await ctx.pool.query('SELECT pg_terminate_backend($1)', [(dying as unknown as { processID: number }).processID])
  await waitFor(async () => (await undispatchedCount(ctx)) === 0, 'the dead relay\'s events to be dispatched')

  for (const id of [...ids, ...more]) {
    const job = await next.queue.getJob(fanoutJobId(id))
    if (!job || job.data.eventId !== id) t.fail(`no fan-out job for ${id}`)
  }
  const counts = await next.queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed')
  t.equal(Object.values(counts).reduce((x, y) => x + y, 0), 8, 'one job per event, the re-enqueued one included')
})
