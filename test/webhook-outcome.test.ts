// Unit tests of the outcome rules (src/webhooks/outcome.ts): what becomes
// of a claimed webhook delivery after its attempt, or without one, and what
// a batch does to each endpoint's health. Pure: no database, the clock and
// the jitter passed in.
import tap from 'tap'
import type { ClaimedDelivery } from '../src/repositories/webhook-deliveries.js'
import type { AttemptResult } from '../src/webhooks/http-client.js'
import {
  afterAttempt, carriesAppealContent, changesNoEndpoint, closedWithoutAttempt, closeReasonAtClaim, endpointHealth, type Finished,
} from '../src/webhooks/outcome.js'

const NOW = Date.parse('2026-03-10T12:00:00Z')
const SCHEDULE = [60, 300, 1800]
const midJitter = () => 0.5 // no jitter: the schedule's own step

function row(over: Partial<ClaimedDelivery> = {}): ClaimedDelivery {
  return {
    id: 7, eventId: 'msg_01', eventType: 'appeal.published', payload: {}, endpointId: 'e1', attempts: 0, previousStatus: 'pending',
    endpointStatus: 'active', url: 'https://partner.example/hook', secretCurrent: Buffer.alloc(60), secretPrevious: null, previousActive: false,
    actionDeadline: null, appealWithdrawn: false, endpointFlagged: false, ...over,
  }
}

function result(over: Partial<AttemptResult> = {}): AttemptResult {
  return {
    ok: false, statusCode: 503, errorClass: 'http', error: 'HTTP 503', address: '203.0.113.5', durationMs: 40, response: null,
    retryAfterSeconds: null, ...over,
  }
}

const ctx = { trigger: 'scheduled' as const, startedAt: NOW - 40, now: NOW, scheduleSeconds: SCHEDULE, random: midJitter }

tap.test('a 2xx is delivered: no next attempt, no error, the attempt logged, a success for the endpoint', async (t) => {
  const f = afterAttempt(row(), result({ ok: true, statusCode: 204, errorClass: null, error: null }), ctx)
  t.same(f.outcome, { id: 7, status: 'delivered', attempted: 1, nextAttemptAt: null, lastError: null })
  t.match(f.attempt, { deliveryId: 7, trigger: 'scheduled', statusCode: 204, at: NOW - 40, nextAttemptAt: null, address: '203.0.113.5' })
  t.equal(f.health, 'ok')
})

tap.test('a failure is retried on the schedule, from when the answer came', async (t) => {
  const first = afterAttempt(row(), result(), ctx)
  t.same(first.outcome, { id: 7, status: 'retrying', attempted: 1, nextAttemptAt: NOW + 60_000, lastError: 'HTTP 503' })
  t.equal(first.attempt!.nextAttemptAt, NOW + 60_000, 'the attempt log says when the next try is')
  t.equal(first.health, 'failing')
  const third = afterAttempt(row({ attempts: 2, previousStatus: 'retrying' }), result(), ctx)
  t.equal(third.outcome.nextAttemptAt, NOW + 1_800_000, 'the third failure waits the third step')
})

tap.test('Retry-After lengthens the wait but never shortens it', async (t) => {
  const longer = afterAttempt(row(), result({ statusCode: 429, retryAfterSeconds: 600 }), ctx)
  t.match(longer.outcome, { status: 'retrying', nextAttemptAt: NOW + 600_000 })
  const shorter = afterAttempt(row(), result({ statusCode: 429, retryAfterSeconds: 5 }), ctx)
  t.match(shorter.outcome, { status: 'retrying', nextAttemptAt: NOW + 60_000 }, 'a receiver cannot make us hammer it')
})

tap.test('failed once the schedule is used up', async (t) => {
  const f = afterAttempt(row({ attempts: 3, previousStatus: 'retrying' }), result({ statusCode: 500, error: 'HTTP 500' }), ctx)
  t.same(f.outcome, { id: 7, status: 'failed', attempted: 1, nextAttemptAt: null, lastError: 'HTTP 500' })
  t.equal(f.health, 'failing', 'it still counts against the endpoint')
})

tap.test('expired when the next try would fall past the action deadline (the end of that day, UTC)', async (t) => {
  // A deadline of 2026-03-10 ends at 2026-03-11T00:00Z; the first retry waits 60 s.
  const today = afterAttempt(row({ actionDeadline: '2026-03-10' }), result(), ctx)
  t.equal(today.outcome.status, 'retrying', 'a minute later is still within the deadline day')
  const lateCtx = { ...ctx, now: Date.parse('2026-03-10T23:59:30Z') }
  const late = afterAttempt(row({ actionDeadline: '2026-03-10' }), result(), lateCtx)
  t.same(late.outcome, { id: 7, status: 'expired', attempted: 1, nextAttemptAt: null, lastError: 'HTTP 503' })
})

tap.test('410 Gone fails the delivery at once and marks the endpoint gone', async (t) => {
  const f = afterAttempt(row(), result({ statusCode: 410, error: 'HTTP 410' }), ctx)
  t.same(f.outcome, { id: 7, status: 'failed', attempted: 1, nextAttemptAt: null, lastError: 'HTTP 410: the endpoint is gone; it has been disabled' })
  t.equal(f.health, 'gone')
})

tap.test('a refused (blocked) address is a failure like any other: retried, counted against the endpoint', async (t) => {
  const f = afterAttempt(row(), result({
    statusCode: null, errorClass: 'blocked', error: 'refused to connect to 10.0.0.1 (private address)', address: null, durationMs: 2,
  }), ctx)
  t.match(f.outcome, { status: 'retrying', attempted: 1, nextAttemptAt: NOW + 60_000, lastError: /private address/ })
  t.match(f.attempt, { errorClass: 'blocked', statusCode: null, address: null })
  t.equal(f.health, 'failing')
})

tap.test('closed at claim: withdrawn appeal, deleted or disabled endpoint, a retry past the deadline', async (t) => {
  t.equal(closeReasonAtClaim(row(), 'scheduled', NOW), null, 'a due row is attempted')
  t.equal(closeReasonAtClaim(row({ appealWithdrawn: true }), 'scheduled', NOW), 'withdrawn')
  t.equal(closeReasonAtClaim(row({ appealWithdrawn: true, eventType: 'appeal.withdrawn' }), 'scheduled', NOW), null,
    'the withdrawal itself still goes out')
  t.equal(closeReasonAtClaim(row({ appealWithdrawn: true, eventType: 'webhook.test' }), 'manual', NOW), null)
  t.equal(closeReasonAtClaim(row({ endpointStatus: null, url: null }), 'scheduled', NOW), 'endpoint-deleted')
  t.equal(closeReasonAtClaim(row({ endpointStatus: 'disabled' }), 'scheduled', NOW), 'endpoint-disabled')
  const overdue = row({ actionDeadline: '2026-03-09', previousStatus: 'retrying', attempts: 1 })
  t.equal(closeReasonAtClaim(overdue, 'scheduled', NOW), 'deadline-passed')
  t.equal(closeReasonAtClaim(overdue, 'manual', NOW), null, 'a partner\'s resend still goes')
  t.equal(closeReasonAtClaim(overdue, 'recover', NOW), null, 'a partner\'s recover still goes')
  t.equal(closeReasonAtClaim({ ...overdue, previousStatus: 'pending' }, 'scheduled', NOW), null, 'a first attempt is not a retry')

  t.same(closedWithoutAttempt(row(), 'withdrawn').outcome, { id: 7, status: 'cancelled', attempted: 0, nextAttemptAt: null, lastError: 'the appeal was withdrawn' })
  t.match(closedWithoutAttempt(row(), 'endpoint-deleted').outcome, { status: 'skipped', lastError: 'endpoint deleted' })
  t.match(closedWithoutAttempt(row(), 'endpoint-disabled').outcome, { status: 'skipped', lastError: 'endpoint disabled' })
  t.match(closedWithoutAttempt(row(), 'deadline-passed').outcome, { status: 'expired', lastError: /deadline has passed/ })
  t.match(closedWithoutAttempt(row(), 'secret-unreadable').outcome, { status: 'failed', attempted: 0, lastError: /SECRETS_KEY/ })
  for (const reason of ['withdrawn', 'endpoint-deleted', 'secret-unreadable'] as const) {
    const f = closedWithoutAttempt(row(), reason)
    t.equal(f.attempt, null, `${reason}: no attempt logged`)
    t.equal(f.health, 'none', `${reason}: the endpoint's health is untouched`)
  }
  t.ok(carriesAppealContent(row()))
  t.notOk(carriesAppealContent(row({ eventType: 'appeal.withdrawn' })))
})

tap.test('a batch\'s effect per endpoint: the latest outcome, when its final failures began, any 410', async (t) => {
  const at = (n: number, f: Finished) => ({ ...f, attempt: { ...f.attempt!, at: n } })
  const ok = (endpointId: string, n: number) => at(n, afterAttempt(row({ endpointId }), result({ ok: true, statusCode: 200, error: null }), ctx))
  const fail = (endpointId: string, n: number) => at(n, afterAttempt(row({ endpointId }), result(), ctx))
  const gone = (endpointId: string, n: number) => at(n, afterAttempt(row({ endpointId }), result({ statusCode: 410 }), ctx))
  const health = endpointHealth([
    fail('a', 1), ok('a', 2), fail('a', 3), fail('a', 4), // ends failing, since 3
    fail('b', 1), ok('b', 2), // recovered within the batch
    gone('c', 1), ok('c', 2), // a 410 is not undone by a later success
    closedWithoutAttempt(row({ endpointId: 'd' }), 'endpoint-disabled'), // no attempt: no effect
  ], NOW)
  t.same(health, [
    { endpointId: 'a', ok: false, gone: false, firstFailureAt: 3 },
    { endpointId: 'b', ok: true, gone: false, firstFailureAt: null },
    { endpointId: 'c', ok: false, gone: true, firstFailureAt: NOW },
  ])
  t.ok(changesNoEndpoint([ok('a', 1), closedWithoutAttempt(row(), 'withdrawn')]), 'successes on healthy endpoints and closed rows change no endpoint')
  t.notOk(changesNoEndpoint([ok('a', 1), fail('b', 2)]), 'a failure starts or continues a failing run')
  t.notOk(changesNoEndpoint([gone('c', 1)]), 'a 410 disables')
  const flagged = afterAttempt(row({ endpointFlagged: true }), result({ ok: true, statusCode: 200, error: null }), ctx)
  t.notOk(changesNoEndpoint([flagged]), 'a success on an endpoint that was failing (or owed a recovery notice) ends its run')
  t.ok(changesNoEndpoint([closedWithoutAttempt(row({ endpointFlagged: true }), 'endpoint-disabled')]), 'no attempt: no change')
})
