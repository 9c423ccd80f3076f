// A chunk job longer than one wave of requests (perJob, 32) is claimed in
// two statements: its first partners are called while the rest of the job
// is still being claimed, and nothing else a partner sees changes — every
// due partner called once, rows another worker holds left alone in either
// part, and a job that fails on its second claim has recorded what it sent
// (its retry sends the rest, nobody twice).
//
// To see the order without timing, a test trigger on `deliveries` makes
// claiming any row of the job's second part wait on an advisory lock the
// test holds (or fail): the first requests arrive while that statement is
// stuck, which one claim of the whole job could not allow.
import pg from 'pg'
import { pino } from 'pino'
import tap from 'tap'
import { freezeWebhookAudience, pendingIds } from '../src/repositories/webhook-deliveries.js'
import { createWorkerRedis } from '../src/queue/queues.js'
import { WebhookDeliverer } from '../src/webhooks/deliverer.js'
import { WebhookHttpClient } from '../src/webhooks/http-client.js'
import { createWebhookQueue } from '../src/webhooks/queue.js'
import { buildTestApp } from './helpers/context.js'
import { createPublished } from './helpers/liaoning.js'
import { startReceiver, type Receiver } from './helpers/receiver.js'
import { createEndpoint, eventually } from './helpers/webhooks.js'

type Tap = { teardown(fn: () => unknown): void }

const PARTNERS = 40
const PER_JOB = 32
/** The advisory lock the second part's claim waits on. */
const GATE = 4212

/** 40 partners on one receiver, the published appeal's rows frozen (no worker runs), and a deliverer of our own. */
async function setUp(t: Tap) {
  const ctx = await buildTestApp(t, { WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION: '100' })
  const receiver = await startReceiver(t)
  for (let i = 0; i < PARTNERS; i++) await createEndpoint(ctx, { url: receiver.url(`/p/${i}`) })
  await createPublished(ctx)
  const { rows: [event] } = await ctx.pool.query<{ id: string }>(`SELECT id FROM events WHERE type = 'appeal.published'`)
  await freezeWebhookAudience(ctx.pool, event!.id)
  const ids = await pendingIds(ctx.pool, event!.id)
  const { rows } = await ctx.pool.query<{ id: string; url: string }>(
    `SELECT d.id, w.url FROM deliveries d JOIN webhook_endpoints w ON w.id = d.recipient_id WHERE d.id = ANY($1::bigint[])`, [ids])
  const pathOf = new Map(rows.map((r) => [Number(r.id), new URL(r.url).pathname]))

  const redis = createWorkerRedis(ctx.config.redisUrl)
  const queue = createWebhookQueue(redis, ctx.config.queuePrefix)
  const client = new WebhookHttpClient({
    allowPrivateNetworks: ctx.config.webhook.allowPrivateNetworks, timeoutMs: ctx.config.webhook.timeoutMs, userAgent: 'claim-pipelining-test',
  })
  const deliverer = new WebhookDeliverer({
    config: ctx.config, pool: ctx.pool, client, queue: () => queue, logger: pino({ level: 'silent' }), perJob: PER_JOB,
  })
  const db = async () => {
    const c = new pg.Client({ connectionString: ctx.config.databaseUrl })
    await c.connect()
    t.teardown(() => c.end())
    return c
  }
  t.teardown(async () => {
    await deliverer.close()
    await client.close()
    await queue.close()
    redis.disconnect()
  })
  /** Claiming a row of id ≥ `from` takes the shared advisory lock first, or fails. */
  const gateClaimsFrom = (from: number, action: 'wait' | 'fail') => ctx.pool.query(`
    CREATE OR REPLACE FUNCTION test_claim_gate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN ${action === 'wait' ? `PERFORM pg_advisory_xact_lock_shared(${GATE})` : `RAISE EXCEPTION 'test: claim refused'`}; RETURN NEW; END $$;
    CREATE TRIGGER test_claim_gate BEFORE UPDATE ON deliveries FOR EACH ROW
      WHEN (OLD.status <> 'sending' AND NEW.status = 'sending' AND OLD.id >= ${Number(from)}) EXECUTE FUNCTION test_claim_gate();`)
  const ungate = () => ctx.pool.query('DROP TRIGGER test_claim_gate ON deliveries')
  const statuses = async () => new Map((await ctx.pool.query<{ id: string; status: string }>(
    'SELECT id, status FROM deliveries WHERE id = ANY($1::bigint[])', [ids])).rows.map((r) => [Number(r.id), r.status]))
  return { ctx, receiver, ids, pathOf, deliverer, db, gateClaimsFrom, ungate, statuses }
}

/** Requests each row's partner received. */
const callsTo = (receiver: Receiver, pathOf: Map<number, string>, ids: number[]) => ids.map((id) => receiver.to(pathOf.get(id)!).length)

tap.test('a 40-row job: the first partners are called while the rest is still being claimed; rows held elsewhere are left alone', async (t) => {
  const s = await setUp(t)
  const [head, tail] = [s.ids.slice(0, PER_JOB), s.ids.slice(PER_JOB)]
  // Another worker's claim holds two rows of each part: two already `sending`, two locked in its open transaction.
  const heldSending = [head[2]!, tail[3]!]
  const heldLocked = [head[5]!, tail[6]!]
  await s.ctx.pool.query(`UPDATE deliveries SET status = 'sending' WHERE id = ANY($1::bigint[])`, [heldSending])
  const other = await s.db()
  await other.query('BEGIN')
  await other.query('SELECT id FROM deliveries WHERE id = ANY($1::bigint[]) FOR UPDATE', [heldLocked])
  const held = new Set([...heldSending, ...heldLocked])

  const gate = await s.db()
  await gate.query('SELECT pg_advisory_lock($1)', [GATE])
  await s.gateClaimsFrom(tail[0]!, 'wait')

  let ended = false
  const job = s.deliverer.processJob({ ids: s.ids, trigger: 'scheduled' }).finally(() => { ended = true })
  job.catch(() => {})
  // Released at teardown too, so a failed wait below leaves no job behind.
  t.teardown(async () => { await gate.query('SELECT pg_advisory_unlock_all()').catch(() => {}); await job.catch(() => {}) })

  const firstPart = head.filter((id) => !held.has(id))
  await s.receiver.waitFor(() => s.receiver.requests.length >= firstPart.length, 10_000,
    'the first part\'s partners called while the rest of the job waits to be claimed')
  await eventually(async () => (await gate.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted`, [GATE])).rows[0]!.n > 0,
  5_000, 'the second claim waiting')
  t.same(callsTo(s.receiver, s.pathOf, firstPart), firstPart.map(() => 1), 'every due partner of the first part called once')
  t.equal(s.receiver.requests.length, firstPart.length, 'nobody of the second part called before its rows are claimed')
  t.notOk(ended, 'the job waits for its second claim')

  await gate.query('SELECT pg_advisory_unlock($1)', [GATE])
  t.same(await job, { delivered: PARTNERS - held.size })
  await other.query('ROLLBACK')
  await s.ungate()

  const due = s.ids.filter((id) => !held.has(id))
  t.same(callsTo(s.receiver, s.pathOf, due), due.map(() => 1), 'every due partner called exactly once')
  t.same(callsTo(s.receiver, s.pathOf, [...held]), [...held].map(() => 0), 'no partner whose row another claim holds')
  const status = await s.statuses()
  t.same(due.filter((id) => status.get(id) !== 'delivered'), [], 'every due row delivered')
  t.same(heldSending.map((id) => status.get(id)), ['sending', 'sending'], 'rows another worker claimed stay its own')
  t.same(heldLocked.map((id) => status.get(id)), ['pending', 'pending'], 'locked rows are left for later')
})

tap.test('a job whose second claim fails has recorded what it sent; its retry sends the rest, nobody twice', async (t) => {
  const s = await setUp(t)
  const [head, tail] = [s.ids.slice(0, PER_JOB), s.ids.slice(PER_JOB)]
  await s.gateClaimsFrom(tail[0]!, 'fail')
  const job = { ids: s.ids, trigger: 'scheduled' as const }

  await t.rejects(s.deliverer.processJob(job), /claim refused/, 'the job fails (BullMQ retries it)')
  t.same(callsTo(s.receiver, s.pathOf, head), head.map(() => 1), 'the first part\'s partners were called once')
  t.same(callsTo(s.receiver, s.pathOf, tail), tail.map(() => 0), 'nobody of the second part')
  let status = await s.statuses()
  t.same(head.filter((id) => status.get(id) !== 'delivered'), [], 'what was sent is recorded before the job ends')
  t.same(tail.filter((id) => status.get(id) !== 'pending'), [], 'the second part is still due')

  await s.ungate()
  t.same(await s.deliverer.processJob(job), { delivered: tail.length }, 'the retry: the first part is final, the rest is sent')
  t.same(callsTo(s.receiver, s.pathOf, s.ids), s.ids.map(() => 1), 'every partner called exactly once')
  status = await s.statuses()
  t.same(s.ids.filter((id) => status.get(id) !== 'delivered'), [], 'every row delivered')
})
