// Limits on partners (issue 9): a cap on webhook endpoints per organisation
// (WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION), held under concurrent creates and
// refused with a precise 409 that writes and audits nothing; and per-
// organisation rate limits on the actions that make the service send or
// re-queue work (test, resend, recover), which count keyed callers — every
// caller of these routes has a key.
import tap from 'tap'
import { buildTestApp, type TestApp } from './helpers/context.js'
import { expectProblem, expectStatus } from './helpers/liaoning.js'
import { PARTNER_ACTION_LIMITS } from '../src/plugins/public-rate-limit.js'

// Connection refused at once: a test ping fails fast, which is all these tests need.
const URL_A = 'http://127.0.0.1:9/hook-a'

async function counts(ctx: TestApp, organisationId: string) {
  const { rows } = await ctx.pool.query<{ endpoints: number; audit: number }>(
    `SELECT (SELECT count(*)::int FROM webhook_endpoints WHERE organisation_id = $1) AS endpoints,
            (SELECT count(*)::int FROM audit_log WHERE action = 'webhook.create' AND organisation_id = $1) AS audit`, [organisationId])
  return rows[0]!
}

const create = (ctx: TestApp, as: 'partner' | 'otherPartner' | 'admin' = 'partner', path = 'hook') =>
  ctx.request(as, 'POST', '/v1/webhooks', { url: `http://127.0.0.1:9/${path}`, eventTypes: ['appeal.published'] })

tap.test('an organisation registers at most WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION endpoints', async (t) => {
  const ctx = await buildTestApp(t, { WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION: '3' })
  const kept = [expectStatus(t, await create(ctx), 201), expectStatus(t, await create(ctx), 201), expectStatus(t, await create(ctx), 201)]

  const refused = await create(ctx, 'partner', 'fourth')
  const problem = expectProblem(t, refused, 409, 'webhook-limit-reached')
  t.match(problem.detail, /already has 3 webhook endpoints/, 'the detail names the limit')
  t.same(await counts(ctx, ctx.orgIds.partner), { endpoints: 3, audit: 3 }, 'the refused create wrote and audited nothing')

  expectStatus(t, await create(ctx, 'otherPartner'), 201, 'another organisation has its own allowance')

  t.equal((await ctx.request('partner', 'DELETE', `/v1/webhooks/${kept[0].id}`)).statusCode, 204)
  expectStatus(t, await create(ctx, 'partner', 'after-delete'), 201, 'deleting one makes room for one')
  expectProblem(t, await create(ctx), 409, 'webhook-limit-reached')

  const spec = ctx.app.swagger() as unknown as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }
  t.ok(spec.paths['/v1/webhooks']!.post!.responses['409'], 'the 409 is in the documented responses of createWebhook')
})

tap.test('concurrent creates at the limit minus one: exactly one succeeds', async (t) => {
  const ctx = await buildTestApp(t, { WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION: '2' })
  expectStatus(t, await create(ctx), 201)
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => create(ctx, 'partner', `race-${i}`)))
  const statuses = results.map((r) => r.statusCode).sort()
  t.same(statuses, [201, 409, 409, 409, 409, 409, 409, 409], 'one 201, every other a 409')
  for (const r of results.filter((r) => r.statusCode === 409)) t.equal(r.json().type, '/problems/webhook-limit-reached')
  t.same(await counts(ctx, ctx.orgIds.partner), { endpoints: 2, audit: 2 }, 'two endpoints, two audit entries')
})

tap.test('test, resend and recover are rate-limited per organisation, keyed callers included', async (t) => {
  const ctx = await buildTestApp(t)
  const endpoint = expectStatus(t, await ctx.request('partner', 'POST', '/v1/webhooks', { url: URL_A, eventTypes: ['appeal.published'] }), 201)
  const second = expectStatus(t, await create(ctx, 'partner', 'hook-b'), 201)
  const theirs = expectStatus(t, await create(ctx, 'otherPartner', 'theirs'), 201)

  // test: the API process itself calls the partner's URL.
  const max = PARTNER_ACTION_LIMITS.test
  for (let i = 0; i < max; i++) {
    const target = i % 2 === 0 ? endpoint.id : second.id
    expectStatus(t, await ctx.request('partner', 'POST', `/v1/webhooks/${target}/test`), 200, `test ${i + 1} of ${max} (either endpoint) passes`)
  }
  const limited = await ctx.request('partner', 'POST', `/v1/webhooks/${second.id}/test`)
  const problem = expectProblem(t, limited, 429, 'rate-limited')
  t.match(problem.detail, new RegExp(`At most ${max} webhook test deliveries per minute per organisation`))
  const retryAfter = Number(limited.headers['retry-after'])
  t.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After in seconds (${limited.headers['retry-after']})`)
  const { rows } = await ctx.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'webhook.test'`)
  t.equal(rows[0]!.n, max, 'the refused test sent nothing and audited nothing')
  expectStatus(t, await ctx.request('otherPartner', 'POST', `/v1/webhooks/${theirs.id}/test`), 200, 'another organisation has its own budget')

  // resend: counted even when the delivery does not exist (the limit comes before the work).
  for (let i = 0; i < PARTNER_ACTION_LIMITS.resend; i++) {
    const res = await ctx.request('partner', 'POST', `/v1/webhooks/${endpoint.id}/deliveries/999999/resend`)
    if (res.statusCode !== 404) { t.fail(`resend ${i + 1}: ${res.statusCode} ${res.body}`); break }
  }
  const resend = expectProblem(t, await ctx.request('partner', 'POST', `/v1/webhooks/${endpoint.id}/deliveries/999999/resend`), 429, 'rate-limited')
  t.match(resend.detail, /resends per minute per organisation/)

  // recover: each call can re-queue thousands.
  const since = new Date(Date.now() - 3_600_000).toISOString()
  for (let i = 0; i < PARTNER_ACTION_LIMITS.recover; i++) {
    expectStatus(t, await ctx.request('partner', 'POST', `/v1/webhooks/${endpoint.id}/recover`, { since }), 202, `recover ${i + 1} passes`)
  }
  const recover = expectProblem(t, await ctx.request('partner', 'POST', `/v1/webhooks/${endpoint.id}/recover`, { since }), 429, 'rate-limited')
  t.match(recover.detail, /recoveries per minute per organisation/)
  expectStatus(t, await ctx.request('admin', 'POST', `/v1/webhooks/${theirs.id}/recover`, { since }), 202,
    'an admin acting on that endpoint counts against the admin\'s own organisation')

  const spec = ctx.app.swagger() as unknown as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }
  for (const path of ['/v1/webhooks/{id}/test', '/v1/webhooks/{id}/deliveries/{deliveryId}/resend', '/v1/webhooks/{id}/recover']) {
    t.ok(spec.paths[path]!.post!.responses['429'], `${path}: the 429 is documented`)
  }
})
