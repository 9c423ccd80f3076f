// Webhook delivery end to end, as deployed: the API, the outbox relay and
// the delivery workers against Postgres and Redis, delivering to a real
// HTTP receiver on loopback; every signature checked with the
// standardwebhooks package exactly as a partner's receiver would.
import tap from 'tap'
import { buildTestApp, type TestApp } from './helpers/context.js'
import { anAppeal, createPublished, expectStatus } from './helpers/liaoning.js'
import { startReceiver } from './helpers/receiver.js'
import { createEndpoint, deliveriesOf, eventually, startDelivery, verify } from './helpers/webhooks.js'

/** The event the partner can also poll from /v1/events, by id. */
async function eventById(ctx: TestApp, id: string): Promise<any> {
  const res = await ctx.request('partner', 'GET', '/v1/events?limit=100')
  return res.json().items.find((e: { id: string }) => e.id === id)
}

tap.test('a published appeal arrives signed; one and two secrets verify; the test ping returns its attempt', async (t) => {
  const ctx = await buildTestApp(t)
  const receiver = await startReceiver(t)
  const endpoint = await createEndpoint(ctx, { url: receiver.url('/a') })
  await startDelivery(t, ctx.config)

  const appeal = await createPublished(ctx)
  await receiver.waitFor(() => receiver.to('/a').length === 1, 10_000, 'the delivery')
  const received = receiver.to('/a')[0]!
  const payload = verify(endpoint.secret, received) as any
  t.equal(received.headers['content-type'], 'application/json')
  t.match(received.headers['webhook-id'], /^msg_[0-9A-Za-z]{26}$/)
  t.equal(payload.type, 'appeal.published')
  t.equal(payload.data.appeal.id, appeal.id)
  const { id: _id, ...polled } = await eventById(ctx, String(received.headers['webhook-id']))
  t.same(payload, polled, 'the body is the event /v1/events serves under that id')
  t.equal(String(received.headers['webhook-signature']).split(' ').length, 1, 'one secret, one signature')

  const delivered = await eventually(async () => {
    const [d] = await deliveriesOf(ctx, endpoint.id)
    return d?.status === 'delivered' ? d : null
  }, 5000, 'the delivery to be recorded')
  t.match(delivered, { eventId: received.headers['webhook-id'], eventType: 'appeal.published', attemptCount: 1, lastError: null })
  t.match(delivered.attempts[0], { trigger: 'scheduled', statusCode: 204, errorClass: null, address: '127.0.0.1', nextAttemptAt: null })

  // Rotation with a grace period: both secrets sign, and either verifies.
  const rotated = expectStatus(t, await ctx.request('partner', 'POST', `/v1/webhooks/${endpoint.id}/rotate-secret`, { graceSeconds: 600 }), 200)
  const attempt = expectStatus(t, await ctx.request('partner', 'POST', `/v1/webhooks/${endpoint.id}/test`), 200)
  t.match(attempt, { trigger: 'test', statusCode: 204, errorClass: null, address: '127.0.0.1', error: null })
  t.ok(attempt.durationMs >= 0 && attempt.durationMs < 5000)
  const ping = receiver.to('/a')[1]!
  t.equal(ping.headers['webhook-id'], attempt.webhookId, 'the attempt names the webhook-id it sent')
  t.equal(String(ping.headers['webhook-signature']).split(' ').length, 2, 'two active secrets, two signatures')
  t.match(verify(rotated.secret, ping), { type: 'webhook.test', data: { endpointId: endpoint.id } }, 'the new secret verifies')
  t.match(verify(endpoint.secret, ping), { type: 'webhook.test' }, 'the old secret still verifies during the grace period')

  // Grace 0: the old secret stops signing at once.
  const again = expectStatus(t, await ctx.request('partner', 'POST', `/v1/webhooks/${endpoint.id}/rotate-secret`, { graceSeconds: 0 }), 200)
  expectStatus(t, await ctx.request('partner', 'POST', `/v1/webhooks/${endpoint.id}/test`), 200)
  const last = receiver.to('/a')[2]!
  t.equal(String(last.headers['webhook-signature']).split(' ').length, 1)
  t.ok(verify(again.secret, last))
  t.throws(() => verify(rotated.secret, last), 'the replaced secret no longer verifies')

  // The partner's view of the test pings, and /metrics.
  const tests = await deliveriesOf(ctx, endpoint.id, 'partner', '?status=delivered')
  t.equal(tests.length, 3)
  t.same(tests.map((d: any) => d.eventType), ['webhook.test', 'webhook.test', 'appeal.published'], 'newest first')
  const metrics = (await ctx.app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /ua_webhook_attempt_duration_seconds_count [1-9]/)
  t.match(metrics, /ua_webhook_attempt_duration_seconds_bucket\{le="\+Inf"\} [1-9]/)
  t.match(metrics, /ua_webhook_attempts_total\{outcome="delivered"\} 3/)
  t.match(metrics, /ua_webhook_deliveries\{status="delivered"\} 3/)
  t.match(metrics, /ua_webhook_endpoints\{state="active"\} 1/)
  t.match(metrics, /ua_webhook_queue_jobs\{state="waiting"\} \d+/)
})
