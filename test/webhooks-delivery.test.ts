// Webhook delivery end to end, as deployed: the API, the outbox relay and
// the delivery workers against Postgres and Redis, delivering to a real
// HTTP receiver on loopback; every signature checked with the
// standardwebhooks package exactly as a partner's receiver would.
import tap from 'tap'
import { buildTestApp, type TestApp } from './helpers/context.js'
import { anAppeal, createPublished, expectProblem, expectStatus, requestWithKey } from './helpers/liaoning.js'
import { startReceiver } from './helpers/receiver.js'
import { startSmtpSink } from './helpers/smtp-sink.js'
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
  }, 15_000, 'the delivery to be recorded')
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
  // Counters are added by whoever attempted (API or worker) just after recording; gauges recounted in the background.
  const metrics = await eventually(async () => {
    const body = (await ctx.app.inject({ method: 'GET', url: '/metrics' })).body
    return /ua_webhook_deliveries_total\{status="delivered"\} 3/.test(body) && /ua_webhook_endpoints\{state="active"\} 1/.test(body) ? body : null
  }, 15_000, 'metrics up to date')
  t.match(metrics, /ua_webhook_attempt_duration_seconds_count [1-9]/)
  t.match(metrics, /ua_webhook_attempt_duration_seconds_bucket\{le="\+Inf"\} [1-9]/)
  t.match(metrics, /ua_webhook_attempts_total\{outcome="delivered"\} 3/)
  t.match(metrics, /ua_webhook_deliveries_total\{status="delivered"\} 3/)
  t.match(metrics, /ua_webhook_deliveries_total\{status="cancelled"\} 0/)
  t.match(metrics, /ua_webhook_endpoints\{state="active"\} 1/)
  t.match(metrics, /ua_webhook_queue_jobs\{state="waiting"\} \d+/)
})

tap.test('a 5xx is retried on the schedule with the same webhook-id and a new timestamp; Retry-After is honoured', async (t) => {
  const ctx = await buildTestApp(t, { WEBHOOK_RETRY_SCHEDULE: '2,2' })
  const receiver = await startReceiver(t)
  receiver.answer('/flaky', (_req, nth) => (nth === 0 ? { status: 503, headers: { 'retry-after': '3' }, body: 'busy' }
    : nth === 1 ? { status: 500, body: 'oops' } : { status: 200, body: 'ok' }))
  const endpoint = await createEndpoint(ctx, { url: receiver.url('/flaky') })
  await startDelivery(t, ctx.config)
  await createPublished(ctx)
  await receiver.waitFor(() => receiver.to('/flaky').length === 3, 15_000, 'three attempts')
  const [first, second, third] = receiver.to('/flaky')
  t.equal(second!.headers['webhook-id'], first!.headers['webhook-id'], 'the same webhook-id on every retry')
  t.equal(third!.headers['webhook-id'], first!.headers['webhook-id'])
  t.ok(Number(second!.headers['webhook-timestamp']) > Number(first!.headers['webhook-timestamp']), 'a new timestamp per attempt')
  t.ok(Number(third!.headers['webhook-timestamp']) > Number(second!.headers['webhook-timestamp']))
  for (const r of [first!, second!, third!]) t.ok(verify(endpoint.secret, r), 'each attempt is signed for its own timestamp')
  t.ok(second!.at - first!.at >= 2900, `Retry-After: 3 lengthened the 2 s step (${second!.at - first!.at} ms)`)
  const gap = third!.at - second!.at
  t.ok(gap >= 1500 && gap <= 3000, `the second retry waited 2 s ± 20 % (${gap} ms)`)

  const delivery = await eventually(async () => {
    const [d] = await deliveriesOf(ctx, endpoint.id)
    return d?.status === 'delivered' ? d : null
  }, 15_000, 'delivered')
  t.equal(delivery.attemptCount, 3)
  t.same(delivery.attempts.map((a: any) => [a.statusCode, a.errorClass, a.trigger]),
    [[503, 'http', 'scheduled'], [500, 'http', 'scheduled'], [200, null, 'scheduled']])
  t.equal(delivery.attempts[0].response, 'busy', 'the response body is kept')
  t.ok(delivery.attempts[0].nextAttemptAt && delivery.attempts[1].nextAttemptAt && !delivery.attempts[2].nextAttemptAt, 'next attempt times recorded')
  const endpointNow = expectStatus(t, await ctx.request('partner', 'GET', `/v1/webhooks/${endpoint.id}`), 200)
  t.equal(endpointNow.failingSince, null, 'a success ends the failing run')
})

tap.test('410 Gone disables the endpoint at once; later deliveries are skipped, not sent', async (t) => {
  const ctx = await buildTestApp(t)
  const receiver = await startReceiver(t)
  receiver.answer('/gone', { status: 410 })
  const endpoint = await createEndpoint(ctx, { url: receiver.url('/gone'), eventTypes: ['appeal.published', 'appeal.closed'] })
  await startDelivery(t, ctx.config)
  const appeal = await createPublished(ctx)
  const disabled = await eventually(async () => {
    const e = (await ctx.request('partner', 'GET', `/v1/webhooks/${endpoint.id}`)).json()
    return e.status === 'disabled' ? e : null
  }, 10_000, 'disabled')
  t.match(disabled, { disabledReason: 'gone' })
  t.ok(disabled.disabledAt)
  const [failed] = await deliveriesOf(ctx, endpoint.id)
  t.match(failed, { status: 'failed', attemptCount: 1 })
  t.match(failed.lastError, /410/)
  const audit = expectStatus(t, await ctx.request('admin', 'GET', `/v1/audit-log?action=webhook.disable&resourceId=${endpoint.id}`), 200)
  t.match(audit.items, [{ actorRole: 'operator', details: { reason: 'gone' } }], 'the disablement is audited')

  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${appeal.id}/close`, { outcome: { code: 'released' } }), 200)
  const skipped = await eventually(async () => {
    const items = await deliveriesOf(ctx, endpoint.id)
    return items.length === 2 ? items[0] : null
  }, 10_000, 'the second delivery')
  t.match(skipped, { eventType: 'appeal.closed', status: 'skipped', attemptCount: 0, lastError: 'endpoint disabled' })
  t.equal(receiver.to('/gone').length, 1, 'nothing more was sent to a disabled endpoint')
  const resend = await ctx.request('partner', 'POST', `/v1/webhooks/${endpoint.id}/deliveries/${skipped.id}/resend`)
  t.equal(resend.statusCode, 409, 'resend needs the endpoint enabled first')
})

tap.test('a hanging endpoint times out while healthy endpoints are served promptly', async (t) => {
  const ctx = await buildTestApp(t, { WEBHOOK_TIMEOUT_MS: '1500' })
  const receiver = await startReceiver(t)
  receiver.answer('/hang', { hang: true })
  const hanging = await createEndpoint(ctx, { url: receiver.url('/hang') })
  const healthy: { id: string }[] = []
  for (let i = 0; i < 20; i++) healthy.push(await createEndpoint(ctx, { url: receiver.url(`/ok-${i}`) }))
  await startDelivery(t, ctx.config)
  await createPublished(ctx)
  await receiver.waitFor(() => receiver.requests.length === 21, 10_000, 'every endpoint reached')
  const started = receiver.to('/hang')[0]!.at
  const lastHealthy = Math.max(...receiver.requests.filter((r) => r.path !== '/hang').map((r) => r.at))
  t.ok(lastHealthy - started < 1000, `healthy endpoints served within ${lastHealthy - started} ms of the hanging one`)
  // Their outcomes are recorded without waiting for the hanging attempt's deadline.
  await eventually(async () => {
    const states = await Promise.all(healthy.map(async (e) => (await deliveriesOf(ctx, e.id))[0]?.status))
    return states.every((s) => s === 'delivered')
  }, 1200, 'healthy outcomes recorded before the deadline')
  t.equal((await deliveriesOf(ctx, hanging.id))[0].status, 'sending', 'while the hanging attempt is still in flight')
  const timedOut = await eventually(async () => {
    const [d] = await deliveriesOf(ctx, hanging.id)
    return d?.status === 'retrying' ? d : null
  }, 15_000, 'the timeout')
  t.match(timedOut.attempts[0], { errorClass: 'timeout', statusCode: null, address: '127.0.0.1' })
  t.ok(timedOut.attempts[0].durationMs >= 1450 && timedOut.attempts[0].durationMs < 3000, `cut at the deadline (${timedOut.attempts[0].durationMs} ms)`)
})

tap.test('redirects are not followed; a huge response is read only up to 4 KB', async (t) => {
  const ctx = await buildTestApp(t)
  const receiver = await startReceiver(t)
  receiver.answer('/moved', { status: 302, headers: { location: receiver.url('/target') } })
  receiver.answer('/huge', { status: 200, headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(2_000_000) })
  receiver.answer('/nul', { status: 500, body: Buffer.from([0x61, 0x00, 0x62, 0xff, 0xfe]) })
  const moved = await createEndpoint(ctx, { url: receiver.url('/moved') })
  const huge = await createEndpoint(ctx, { url: receiver.url('/huge') })
  const hostile = await createEndpoint(ctx, { url: receiver.url('/nul') })
  await startDelivery(t, ctx.config)
  await createPublished(ctx)
  const settled = async (id: string) => eventually(async () => {
    const [d] = await deliveriesOf(ctx, id)
    return d && d.status !== 'pending' && d.status !== 'sending' ? d : null
  }, 10_000, 'an outcome')
  const redirect = await settled(moved.id)
  t.match(redirect, { status: 'retrying' })
  t.match(redirect.attempts[0], { statusCode: 302, errorClass: 'redirect' })
  t.equal(receiver.to('/target').length, 0, 'the redirect target was never called')
  const big = await settled(huge.id)
  t.equal(big.status, 'delivered')
  t.equal(big.attempts[0].response, 'x'.repeat(4096), 'exactly the first 4 KB kept')
  const odd = await settled(hostile.id)
  t.match(odd.attempts[0], { statusCode: 500, errorClass: 'http' })
  t.notOk(odd.attempts[0].response.includes('\u0000'), 'NUL bytes cannot break the attempt log')
})

tap.test('failing for WEBHOOK_DISABLE_AFTER disables and emails the contact; enable, recover and resend bring it all back', async (t) => {
  const sink = await startSmtpSink(t)
  const ctx = await buildTestApp(t, { WEBHOOK_RETRY_SCHEDULE: '1,1,1,1,1,1,1,1', WEBHOOK_DISABLE_AFTER: '2', SMTP_URL: sink.url })
  // A partner organisation with a contact address, as an admin sets it up.
  const org = expectStatus(t, await ctx.request('admin', 'POST', '/v1/organisations', { name: 'Coastal Watch', kind: 'partner', contactEmail: 'ops@coastal.example' }), 201)
  const { key } = expectStatus(t, await ctx.request('admin', 'POST', '/v1/api-keys', { organisationId: org.id, role: 'partner', name: 'hooks' }), 201)
  const as = (method: 'GET' | 'POST', url: string, body?: unknown) => requestWithKey(ctx, key, method, url, body)
  const receiver = await startReceiver(t)
  let up = false
  receiver.answer('/down', () => (up ? { status: 200 } : { status: 500, body: 'down for maintenance' }))
  const created = await as('POST', '/v1/webhooks', { url: receiver.url('/down'), eventTypes: ['appeal.published'], description: 'Coastal intake' })
  const endpoint = expectStatus(t, created, 201)
  await startDelivery(t, ctx.config)

  const since = new Date(Date.now() - 1000).toISOString()
  await createPublished(ctx)
  const disabled = await eventually(async () => {
    const e = (await as('GET', `/v1/webhooks/${endpoint.id}`)).json()
    return e.status === 'disabled' ? e : null
  }, 15_000, 'disabled after the window')
  t.equal(disabled.disabledReason, 'failing')
  t.ok(Date.parse(disabled.disabledAt) - Date.parse(disabled.failingSince) >= 2000, 'only after failing for WEBHOOK_DISABLE_AFTER')
  const notice = await sink.waitFor('ops@coastal.example', 10_000)
  const mail = await notice.parsed()
  t.match(mail.subject, /Webhook endpoint disabled/)
  t.match(mail.text, /Coastal intake/)
  t.match(mail.text, /recover/)
  const failedAttempts = receiver.to('/down').length
  t.ok(failedAttempts >= 3, `${failedAttempts} attempts failed first`)

  await createPublished(ctx, anAppeal({ title: 'Second appeal while the endpoint is disabled' }))
  const skipped = await eventually(async () => {
    const items = (await as('GET', `/v1/webhooks/${endpoint.id}/deliveries?status=skipped`)).json().items
    return items.length === 2 ? items : null
  }, 10_000, 'both deliveries skipped')
  t.equal(receiver.to('/down').length, failedAttempts, 'nothing sent while disabled')
  expectProblem(t, await as('POST', `/v1/webhooks/${endpoint.id}/recover`, { since }), 409, 'webhook-disabled')

  up = true
  t.match(expectStatus(t, await as('POST', `/v1/webhooks/${endpoint.id}/enable`), 200), { status: 'active', disabledReason: null })
  const recovered = expectStatus(t, await as('POST', `/v1/webhooks/${endpoint.id}/recover`, { since }), 202)
  t.equal(recovered.recovered, 2)
  await receiver.waitFor(() => receiver.to('/down').length === failedAttempts + 2, 10_000, 'the recovered deliveries')
  const replayed = receiver.to('/down').slice(failedAttempts)
  t.same(replayed.map((r) => r.headers['webhook-id']).sort(), skipped.map((d: any) => d.eventId).sort(), 'the same webhook-ids as the originals')
  for (const r of replayed) t.ok(verify(endpoint.secret, r))
  const recoveryMail = await eventually(async () => (sink.to('ops@coastal.example').length === 2 ? sink.to('ops@coastal.example')[1] : null), 10_000, 'the recovery email')
  t.match((await recoveryMail!.parsed()).subject, /recovered/)

  const all = (await as('GET', `/v1/webhooks/${endpoint.id}/deliveries`)).json().items
  t.ok(all.every((d: any) => d.status === 'delivered'), 'every delivery delivered in the end')
  t.equal(all.find((d: any) => d.attempts.some((a: any) => a.trigger === 'recover')) !== undefined, true, 'recover attempts are marked')
  const first = all[all.length - 1]
  const resent = expectStatus(t, await as('POST', `/v1/webhooks/${endpoint.id}/deliveries/${first.id}/resend`), 202)
  t.equal(resent.id, first.id)
  await receiver.waitFor(() => receiver.to('/down').length === failedAttempts + 3, 10_000, 'the resend')
  t.equal(receiver.to('/down').at(-1)!.headers['webhook-id'], first.eventId)
  const afterResend = await eventually(async () => {
    const d = (await as('GET', `/v1/webhooks/${endpoint.id}/deliveries`)).json().items.find((x: any) => x.id === first.id)
    return d.attempts.at(-1).trigger === 'manual' && d.status === 'delivered' ? d : null
  }, 15_000, 'the manual attempt recorded')
  t.equal(afterResend.attempts.at(-1).statusCode, 200)
})

tap.test('filters: event type, country, theme and minimum urgency decide who receives what', async (t) => {
  const ctx = await buildTestApp(t)
  const receiver = await startReceiver(t)
  const specs: Record<string, Record<string, unknown>> = {
    all: {},
    cn: { countries: ['CN'] },
    fr: { countries: ['FR'] },
    torture: { themes: ['torture'] },
    climate: { themes: ['climate'] },
    critical: { minUrgency: 'critical' },
    high: { minUrgency: 'high' },
    closed: { eventTypes: ['appeal.closed'] },
    withdrawnCN: { eventTypes: ['appeal.withdrawn'], countries: ['CN'] },
    withdrawnFR: { eventTypes: ['appeal.withdrawn'], countries: ['FR'] },
  }
  const ids: Record<string, string> = {}
  for (const [name, spec] of Object.entries(specs)) ids[name] = (await createEndpoint(ctx, { url: receiver.url(`/${name}`), ...spec })).id
  await startDelivery(t, ctx.config)

  const china = await createPublished(ctx) // CN+KP, refoulement/torture/children, critical
  const france = await createPublished(ctx, anAppeal({ countries: ['FR'], subdivisions: [], themes: ['housing'], urgency: 'normal', title: 'France: evictions' }))
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${china.id}/close`, { outcome: { code: 'released' } }), 200)
  const allDelivered = () => eventually(async () => {
    const { rows } = await ctx.pool.query(`SELECT count(*)::int AS n FROM deliveries WHERE status <> 'delivered'`)
    return rows[0].n === 0
  }, 15_000, 'all deliveries settled')
  // Delivered before the withdrawal: once it commits, what is still due of an appeal is cancelled (withdrawal.test.ts).
  // First every event fanned out (the unfiltered endpoint has both publications, the closed-only one the closure):
  // with no rows written yet, "nothing undelivered" would hold before the later events' rows exist.
  await receiver.waitFor(() => receiver.to('/all').length === 2 && receiver.to('/closed').length === 1, 15_000, 'every event fanned out')
  await allDelivered()
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${france.id}/withdraw`, { reason: 'published in error' }), 200)
  await receiver.waitFor(() => receiver.to('/withdrawnFR').length === 1, 10_000, 'the last event delivered')
  // Every event has fanned out by now (they are relayed in order); count what each endpoint got.
  await allDelivered()
  // Earlier events' bodies are redacted by the withdrawal, not what was sent: identify appeals either way.
  const got = (name: string) => receiver.to(`/${name}`).map((r) => {
    const e = JSON.parse(r.body) as { type: string; data: any }
    return { ...e, appealId: (e.data.appeal?.id ?? e.data.appealId) as string }
  })
  const describe = (name: string) => got(name).map((e) => `${e.type}:${e.appealId}`)
  t.same(got('all').map((e) => e.appealId).sort(), [china.id, france.id].sort(), 'no filter: both published appeals')
  t.same(got('cn').map((e) => e.appealId), [china.id], 'country CN')
  t.same(got('fr').map((e) => e.appealId), [france.id], 'country FR')
  t.same(got('torture').map((e) => e.appealId), [china.id], 'theme torture')
  t.same(got('climate'), [], `theme climate: nothing (${describe('climate')})`)
  t.same(got('critical').map((e) => e.appealId), [china.id], 'at least critical')
  t.same(got('high').map((e) => e.appealId), [china.id], 'at least high: the normal appeal is not sent')
  t.same(got('closed').map((e) => [e.type, e.appealId]), [['appeal.closed', china.id]], 'appeal.closed only')
  t.same(got('withdrawnFR').map((e) => [e.type, e.appealId]), [['appeal.withdrawn', france.id]], 'a withdrawal matches on the appeal\'s countries')
  t.same(got('withdrawnFR')[0]!.data, { appealId: france.id, reference: france.reference }, 'and carries no content')
  t.same(got('withdrawnCN'), [], 'not the CN subscriber')

  const page1 = (await ctx.request('partner', 'GET', `/v1/webhooks/${ids.all}/deliveries?limit=1`)).json()
  t.equal(page1.items.length, 1)
  t.equal(page1.items[0].eventType, 'appeal.published')
  const page2 = (await ctx.request('partner', 'GET', `/v1/webhooks/${ids.all}/deliveries?limit=1&cursor=${page1.nextCursor}`)).json()
  t.equal(page2.items.length, 1)
  t.not(page2.items[0].id, page1.items[0].id)
  t.ok(page2.items[0].id < page1.items[0].id, 'keyset: older next')
  t.equal(page2.nextCursor, null)
  t.same((await ctx.request('partner', 'GET', `/v1/webhooks/${ids.all}/deliveries?status=failed`)).json().items, [], 'status filter')
  t.equal((await ctx.request('partner', 'GET', `/v1/webhooks/${ids.all}/deliveries?status=delivered`)).json().items.length, 2)
})
