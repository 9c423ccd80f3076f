// The send-time withdrawal check (src/delivery/withdrawal-check.ts) against
// the real Postgres: a wave of questions is one query, no answer comes from
// a query that started before its question, its reserved connection can be
// lost without losing the process, and it hands that connection back.
import t from 'tap'
import type pg from 'pg'
import { createPool } from '../src/db/pool.js'
import { WithdrawalCheck, type ClientSource } from '../src/delivery/withdrawal-check.js'
import { buildTestApp, type TestApp } from './helpers/context.js'
import { createPublished, expectStatus } from './helpers/liaoning.js'

/** Every query the check sends, with the events it asked about, and when it was sent. */
interface Sent { eventIds: string[]; seq: number }

/** The real pool, seen from the side: the queries the check's clients send (and a hook run before each goes out). */
function watched(pool: pg.Pool, before: (sent: Sent) => void = () => {}): ClientSource & { sent: Sent[]; clock: () => number } {
  const sent: Sent[] = []
  let seq = 0
  return {
    sent,
    clock: () => ++seq,
    async connect() {
      const client = await pool.connect()
      const { query, release } = client
      const patched = client as unknown as { query: unknown; release: unknown }
      patched.query = (config: { values?: unknown[] }, ...rest: unknown[]) => {
        const s = { eventIds: [...(config.values?.[0] as string[])], seq: ++seq }
        sent.push(s)
        before(s)
        return (query as (...args: unknown[]) => unknown).call(client, config, ...rest)
      }
      // The pool lends the same client again later: it goes back as it came.
      patched.release = (...args: unknown[]) => {
        patched.query = query
        patched.release = release
        return (release as (...args: unknown[]) => unknown).apply(client, args)
      }
      return client
    },
  } as ClientSource & { sent: Sent[]; clock: () => number }
}

async function eventOf(ctx: TestApp, appealId: string): Promise<string> {
  const { rows: [row] } = await ctx.pool.query<{ id: string }>(`SELECT id FROM events WHERE appeal_id = $1 AND type = 'appeal.published'`, [appealId])
  return row!.id
}

t.test('withdrawal check', async (t) => {
  const ctx = await buildTestApp(t)
  const kept = await createPublished(ctx)
  const withdrawn = await createPublished(ctx)
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${withdrawn.id}/withdraw`, { reason: 'It endangers a relative' }), 200)
  const keptEvent = await eventOf(ctx, kept.id)
  const withdrawnEvent = await eventOf(ctx, withdrawn.id)
  const pool = createPool(ctx.config.databaseUrl, { max: 2 })
  t.teardown(() => pool.end())

  t.test('a wave of questions about several events is answered by one query', async (t) => {
    const source = watched(pool)
    const check = new WithdrawalCheck(source)
    t.teardown(() => check.close())
    const questions = [keptEvent, withdrawnEvent, keptEvent, withdrawnEvent, withdrawnEvent, keptEvent]
    const answers = await Promise.all(questions.map((id) => check.isWithdrawn(id)))
    t.same(answers, questions.map((id) => id === withdrawnEvent), 'each answer right')
    t.equal(source.sent.length, 1, 'one query for the wave')
    t.same(source.sent[0]!.eventIds.sort(), [keptEvent, withdrawnEvent].sort(), 'each event asked once')
  })

  t.test('a full batch does not wait for the window', async (t) => {
    const source = watched(pool)
    const check = new WithdrawalCheck(source, { windowMs: 60_000, maxQuestions: 3 })
    t.teardown(() => check.close())
    const answers = await Promise.all([check.isWithdrawn(keptEvent), check.isWithdrawn(withdrawnEvent), check.isWithdrawn(keptEvent)])
    t.same(answers, [false, true, false])
    t.equal(source.sent.length, 1)
  })

  t.test('a question asked while a query runs is answered by a query that starts after it', async (t) => {
    let check!: WithdrawalCheck
    const askedAt = new Map<string, number>()
    let late: Promise<boolean> | undefined
    const source = watched(pool, (s) => {
      if (late) return
      // The first query is on its way: a question about another event arrives now.
      askedAt.set(withdrawnEvent, source.clock())
      late = check.isWithdrawn(withdrawnEvent)
    })
    check = new WithdrawalCheck(source)
    t.teardown(() => check.close())
    t.equal(await check.isWithdrawn(keptEvent), false)
    t.equal(await late, true)
    const answeredBy = source.sent.filter((s) => s.eventIds.includes(withdrawnEvent))
    t.equal(answeredBy.length, 1, 'asked once')
    t.ok(answeredBy[0]!.seq > askedAt.get(withdrawnEvent)!, 'by a query sent after the question')
    t.notOk(source.sent[0]!.eventIds.includes(withdrawnEvent), 'not by the query already on its way')
  })

  t.test('its connection terminated, the next question is answered on a new one', async (t) => {
    const own = createPool(ctx.config.databaseUrl, { max: 1, applicationName: 'withdrawal-check-test' })
    t.teardown(() => own.end())
    const check = new WithdrawalCheck(own)
    t.teardown(() => check.close())
    t.equal(await check.isWithdrawn(withdrawnEvent), true)
    const { rows } = await ctx.pool.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE application_name = 'withdrawal-check-test' AND datname = current_database()`)
    t.equal(rows.length, 1, 'the check holds one connection')
    await ctx.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid])
    await new Promise((resolve) => setTimeout(resolve, 100)) // the client sees its socket close (and must not crash the process)
    t.equal(await check.isWithdrawn(withdrawnEvent), true, 'answered after the loss')
    t.equal(await check.isWithdrawn(keptEvent), false)
  })

  t.test('the reserved connection goes back to the pool: when idle, and at close', async (t) => {
    const one = createPool(ctx.config.databaseUrl, { max: 1 })
    t.teardown(() => one.end())
    const idle = new WithdrawalCheck(one, { idleReleaseMs: 50 })
    t.equal(await idle.isWithdrawn(withdrawnEvent), true)
    const borrowed = await one.connect() // waits until the check lets go (the pool's timeout is 5 s)
    borrowed.release()
    await idle.close()

    const closing = new WithdrawalCheck(one, { idleReleaseMs: 60_000 })
    const answer = closing.isWithdrawn(keptEvent)
    await closing.close()
    t.equal(await answer, false, 'close answers what was waiting')
    const started = Date.now()
    const again = await one.connect()
    again.release()
    t.ok(Date.now() - started < 1000, 'the pool has its connection back at once')
  })
})
