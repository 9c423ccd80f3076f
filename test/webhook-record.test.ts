// Recording webhook outcomes (src/webhooks/record.ts) when endpoint health
// changed while the batch was in flight: a batch of successes on endpoints
// that were healthy when claimed is written as one statement that changes
// no endpoint, yet an endpoint another batch flagged since the claim must
// still have its failing run ended by these successes — also when the
// reconciler revived the row meanwhile (its attempt was made all the same).
import tap from 'tap'
import { pino } from 'pino'
import { buildTestApp, type TestApp } from './helpers/context.js'
import { createPublished, expectStatus } from './helpers/liaoning.js'
import { createEndpoint } from './helpers/webhooks.js'
import { applyEndpointHealth, claimDeliveries, reviveStaleSending, type HealthTransition } from '../src/repositories/webhook-deliveries.js'
import { afterAttempt } from '../src/webhooks/outcome.js'
import { OutcomeRecorder } from '../src/webhooks/record.js'

type Tap = Parameters<typeof expectStatus>[0]

const failingSince = async (t: Tap, ctx: TestApp, id: string): Promise<string | null> =>
  expectStatus(t, await ctx.request('partner', 'GET', `/v1/webhooks/${id}`), 200).failingSince

tap.test('successes recorded after another batch flagged their endpoints since the claim end the failing run', async (t) => {
  const ctx = await buildTestApp(t)
  const [flagged, revived, healthy] = [
    await createEndpoint(ctx, { url: 'https://flagged.example/hook' }),
    await createEndpoint(ctx, { url: 'https://revived.example/hook' }),
    await createEndpoint(ctx, { url: 'https://healthy.example/hook' }),
  ]
  await createPublished(ctx)
  const { rows: [event] } = await ctx.pool.query<{ id: string }>(`SELECT id FROM events WHERE type = 'appeal.published'`)
  const { rows: written } = await ctx.pool.query<{ id: number; recipient_id: string }>(
    `INSERT INTO deliveries (event_id, channel, recipient_id, status, next_attempt_at, queued_at)
     SELECT $1, 'webhook', id, 'pending', now(), now() FROM unnest($2::uuid[]) AS id RETURNING id, recipient_id`,
    [event!.id, [flagged.id, revived.id, healthy.id]])
  const claimed = await claimDeliveries(ctx.pool, written.map((r) => Number(r.id)))
  t.equal(claimed.length, 3)
  t.ok(claimed.every((r) => !r.endpointFlagged), 'all three endpoints were healthy when their rows were claimed')

  // While the requests run: another batch's failures flag two of the endpoints, and the
  // reconciler takes one row back (as if its worker had stalled past the stale-`sending` bound).
  const startedAt = Date.now()
  await applyEndpointHealth(ctx.pool, [flagged.id, revived.id].map((endpointId) => ({ endpointId, ok: false, gone: false, firstFailureAt: startedAt - 5000 })),
    ctx.config.webhook.disableAfterSeconds)
  t.ok(await failingSince(t, ctx, flagged.id), 'the other batch flagged the endpoint')
  await ctx.pool.query(`UPDATE deliveries SET updated_at = now() - interval '1 hour' WHERE recipient_id = $1`, [revived.id])
  t.equal(await reviveStaleSending(ctx.pool, 600), 1, 'the reconciler revived one row')

  const transitions: HealthTransition[] = []
  const recorder = new OutcomeRecorder({
    config: ctx.config, pool: ctx.pool, logger: pino({ level: 'silent' }), onTransitions: (ts) => transitions.push(...ts),
    queue: () => { throw new Error('a batch of successes enqueues no retry') },
  })
  // A response body with what a Postgres array literal must escape: it is logged exactly.
  const response = 'said "ok", {1,2} \\ NULL\n'
  await Promise.all(claimed.map((row) => recorder.record(afterAttempt(row, {
    ok: true, statusCode: 200, errorClass: null, error: null, address: '203.0.113.9', durationMs: 12, response, retryAfterSeconds: null,
  }, { trigger: 'scheduled', startedAt, now: startedAt + 12, scheduleSeconds: [10] }))))
  await recorder.close()

  t.equal(await failingSince(t, ctx, flagged.id), null, 'the success ends the run the other batch started')
  t.equal(await failingSince(t, ctx, revived.id), null, 'so does the success of the revived row: its attempt was made')
  t.equal(await failingSince(t, ctx, healthy.id), null, 'the healthy endpoint stays healthy')
  t.same(transitions, [], 'no endpoint was disabled or recovered')
  const { rows } = await ctx.pool.query<{ recipient_id: string; status: string; attempts: number }>(
    `SELECT recipient_id, status, attempts FROM deliveries WHERE event_id = $1 ORDER BY recipient_id`, [event!.id])
  t.same(Object.fromEntries(rows.map((r) => [r.recipient_id, [r.status, r.attempts]])), {
    [flagged.id]: ['delivered', 1], [healthy.id]: ['delivered', 1], [revived.id]: ['pending', 0],
  }, 'the rows still `sending` are delivered; the revived one is left for its next attempt')
  const { rows: attempts } = await ctx.pool.query(
    `SELECT trigger, address, status_code, error_class, error, duration_ms, response, next_attempt_at, at FROM webhook_attempts ORDER BY delivery_id`)
  t.equal(attempts.length, 3, 'every attempt is in the log')
  t.same(attempts[0], {
    trigger: 'scheduled', address: '203.0.113.9', status_code: 200, error_class: null, error: null, duration_ms: 12, response,
    next_attempt_at: null, at: new Date(startedAt),
  }, 'as it was made')
})
