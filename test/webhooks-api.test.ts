// Webhook endpoint management (contract §5) with the SSRF guard on, as in
// production: registration, secrets shown once, filters, ETags, rotation,
// every bad input as a precise problem, roles and tenant isolation, audit.
// No delivery happens here (no worker): see webhooks-delivery.test.ts.
import tap from 'tap'
import { buildTestApp, type TestApp } from './helpers/context.js'
import { expectInvalid, expectProblem, expectStatus } from './helpers/liaoning.js'

const PUBLIC_URL = 'https://93.184.216.34/hooks/ua'

async function counts(ctx: TestApp) {
  const { rows } = await ctx.pool.query<{ endpoints: number; audit: number }>(
    `SELECT (SELECT count(*)::int FROM webhook_endpoints) AS endpoints, (SELECT count(*)::int FROM audit_log WHERE resource_type = 'webhook') AS audit`)
  return rows[0]!
}

tap.test('webhook endpoints: create, read, list, patch, delete — scoped, versioned, audited', async (t) => {
  const ctx = await buildTestApp(t, { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false' })
  const created = expectStatus(t, await ctx.request('partner', 'POST', '/v1/webhooks', {
    url: PUBLIC_URL, description: 'Refugee desk intake', eventTypes: ['appeal.published', 'appeal.closed'],
    countries: ['CN', 'KP'], themes: ['refoulement'], minUrgency: 'high',
  }), 201)
  t.match(created.secret, /^whsec_[A-Za-z0-9+/]{43}=$/, 'the secret is shown once, in Standard Webhooks form')
  t.match(created, {
    url: PUBLIC_URL, description: 'Refugee desk intake', eventTypes: ['appeal.published', 'appeal.closed'], countries: ['CN', 'KP'],
    themes: ['refoulement'], minUrgency: 'high', status: 'active', disabledReason: null, failingSince: null, version: 1,
    organisationId: ctx.orgIds.partner,
  })
  const { rows } = await ctx.pool.query<{ sealed: Buffer }>('SELECT secret_current AS sealed FROM webhook_endpoints WHERE id = $1', [created.id])
  t.notOk(rows[0]!.sealed.includes(Buffer.from(created.secret)), 'the secret is encrypted at rest')

  const got = await ctx.request('partner', 'GET', `/v1/webhooks/${created.id}`)
  const body = expectStatus(t, got, 200)
  t.equal(body.secret, undefined, 'never shown again')
  t.equal(got.headers.etag, '"1"')

  await ctx.request('partner', 'POST', '/v1/webhooks', { url: 'https://93.184.216.34/second', eventTypes: ['appeal.updated'] })
  const page1 = expectStatus(t, await ctx.request('partner', 'GET', '/v1/webhooks?limit=1'), 200)
  t.equal(page1.items.length, 1)
  t.equal(page1.items[0].url, 'https://93.184.216.34/second', 'newest first')
  const page2 = expectStatus(t, await ctx.request('partner', 'GET', `/v1/webhooks?limit=1&cursor=${page1.nextCursor}`), 200)
  t.equal(page2.items[0].id, created.id)
  t.equal(page2.nextCursor, null)

  const patched = await ctx.request('partner', 'PATCH', `/v1/webhooks/${created.id}`, { minUrgency: null, themes: [] }, { 'if-match': '"1"' })
  t.match(expectStatus(t, patched, 200), { minUrgency: null, themes: [], version: 2 })
  t.equal(patched.headers.etag, '"2"')
  expectProblem(t, await ctx.request('partner', 'PATCH', `/v1/webhooks/${created.id}`, { description: 'x' }, { 'if-match': '"1"' }), 412, 'precondition-failed')

  t.equal((await ctx.request('partner', 'DELETE', `/v1/webhooks/${created.id}`)).statusCode, 204)
  expectProblem(t, await ctx.request('partner', 'GET', `/v1/webhooks/${created.id}`), 404, 'not-found')

  const audit = expectStatus(t, await ctx.request('admin', 'GET', `/v1/audit-log?resourceType=webhook&resourceId=${created.id}`), 200)
  t.same(audit.items.map((e: { action: string }) => e.action).sort(), ['webhook.create', 'webhook.delete', 'webhook.update'], 'every write audited')
  t.ok(audit.items.every((e: { organisationId: string }) => e.organisationId === ctx.orgIds.partner), 'with the acting organisation')
})

tap.test('rotate-secret: a new secret, the old one signing for the grace period', async (t) => {
  const ctx = await buildTestApp(t, { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false' })
  const created = expectStatus(t, await ctx.request('partner', 'POST', '/v1/webhooks', { url: PUBLIC_URL, eventTypes: ['appeal.published'] }), 201)
  const before = Date.now()
  const rotated = expectStatus(t, await ctx.request('partner', 'POST', `/v1/webhooks/${created.id}/rotate-secret`, { graceSeconds: 3600 }), 200)
  t.match(rotated.secret, /^whsec_/)
  t.not(rotated.secret, created.secret)
  const expires = Date.parse(rotated.previousSecretExpiresAt)
  t.ok(expires >= before + 3_599_000 && expires <= Date.now() + 3_601_000, 'previous secret expires after the grace period')
  const bare = expectStatus(t, await ctx.request('partner', 'POST', `/v1/webhooks/${created.id}/rotate-secret`), 200)
  t.ok(Date.parse(bare.previousSecretExpiresAt) >= Date.now() + 86_390_000, 'a bare POST uses the 24 h default')
  const immediate = expectStatus(t, await ctx.request('partner', 'POST', `/v1/webhooks/${created.id}/rotate-secret`, { graceSeconds: 0 }), 200)
  t.equal(immediate.previousSecretExpiresAt, null, 'grace 0: the old secret stops at once')
  const audit = expectStatus(t, await ctx.request('admin', 'GET', `/v1/audit-log?action=webhook.rotate-secret&resourceId=${created.id}`), 200)
  t.equal(audit.items.length, 3)
})

tap.test('bad input: a precise 400 with a pointer, and nothing written', async (t) => {
  const ctx = await buildTestApp(t, { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false' })
  const before = await counts(ctx)
  const post = (body: unknown) => ctx.request('partner', 'POST', '/v1/webhooks', body)
  const ok = { url: PUBLIC_URL, eventTypes: ['appeal.published'] }
  const cases: [string, unknown, string][] = [
    ['not a URL', { ...ok, url: 'hooks.example' }, '/url'],
    ['plain http while private networks are not allowed', { ...ok, url: 'http://93.184.216.34/x' }, '/url'],
    ['credentials in the URL', { ...ok, url: 'https://user:secret@93.184.216.34/x' }, '/url'],
    ['a loopback address', { ...ok, url: 'https://127.0.0.1/x' }, '/url'],
    ['a decimal loopback address', { ...ok, url: 'https://2130706433/x' }, '/url'],
    ['an octal loopback address', { ...ok, url: 'https://0177.0.0.1/x' }, '/url'],
    ['a hex loopback address', { ...ok, url: 'https://0x7f.0.0.1/x' }, '/url'],
    ['an IPv4-mapped loopback', { ...ok, url: 'https://[::ffff:127.0.0.1]/x' }, '/url'],
    ['a NAT64 private address', { ...ok, url: 'https://[64:ff9b::a00:1]/x' }, '/url'],
    ['a 6to4 private address', { ...ok, url: 'https://[2002:c0a8:101::1]/x' }, '/url'],
    ['cloud metadata', { ...ok, url: 'https://169.254.169.254/latest/meta-data' }, '/url'],
    ['CGNAT', { ...ok, url: 'https://100.64.0.10/x' }, '/url'],
    ['a private address', { ...ok, url: 'https://10.0.0.8/x' }, '/url'],
    ['a name resolving to loopback', { ...ok, url: 'https://localhost/x' }, '/url'],
    ['an unknown event type', { ...ok, eventTypes: ['appeal.deleted'] }, '/eventTypes/0'],
    ['webhook.test as a subscription', { ...ok, eventTypes: ['webhook.test'] }, '/eventTypes/0'],
    ['no event types', { ...ok, eventTypes: [] }, '/eventTypes'],
    ['a repeated event type', { ...ok, eventTypes: ['appeal.published', 'appeal.published'] }, '/eventTypes'],
    ['an oversized description', { ...ok, description: 'x'.repeat(501) }, '/description'],
    ['an unknown country', { ...ok, countries: ['XX'] }, '/countries/0'],
    ['a lower-case country', { ...ok, countries: ['cn'] }, '/countries/0'],
    ['a bad theme slug', { ...ok, themes: ['Not A Slug'] }, '/themes/0'],
    ['an unknown urgency', { ...ok, minUrgency: 'urgent' }, '/minUrgency'],
    ['an unknown property', { ...ok, secret: 'whsec_mine' }, '/secret'],
    ['a missing url', { eventTypes: ['appeal.published'] }, '/url'],
  ]
  for (const [what, body, pointer] of cases) {
    const problem = expectInvalid(t, await post(body), pointer)
    t.comment(`${what}: ${problem.errors?.[0]?.message}`)
  }
  t.same(await counts(ctx), before, 'no endpoint and no audit entry written')

  const created = expectStatus(t, await post(ok), 201)
  const base = `/v1/webhooks/${created.id}`
  for (const [body, pointer] of [
    [{ graceSeconds: -1 }, '/graceSeconds'], [{ graceSeconds: 7 * 86_400 + 1 }, '/graceSeconds'],
    [{ graceSeconds: 1.5 }, '/graceSeconds'], [{ graceSeconds: '60' }, '/graceSeconds'], [{ grace: 60 }, '/grace'],
  ] as const) {
    expectInvalid(t, await ctx.request('partner', 'POST', `${base}/rotate-secret`, body), pointer)
  }
  expectInvalid(t, await ctx.request('partner', 'PATCH', base, { url: 'https://10.1.1.1/x' }), '/url')
  expectProblem(t, await ctx.request('partner', 'PATCH', base, {}), 400, 'validation-error')
  expectInvalid(t, await ctx.request('partner', 'POST', `${base}/recover`, { since: 'yesterday' }), '/since')
  expectInvalid(t, await ctx.request('partner', 'POST', `${base}/recover`, { since: new Date(Date.now() + 3_600_000).toISOString() }), '/since')
  expectInvalid(t, await ctx.request('partner', 'POST', `${base}/recover`, { since: '2026-01-02T00:00:00Z', until: '2026-01-01T00:00:00Z' }), '/until')
  expectInvalid(t, await ctx.request('partner', 'POST', `${base}/recover`, {}), '/since')
  expectInvalid(t, await ctx.request('partner', 'GET', `${base}/deliveries?status=lost`), '/status', 'query')
  expectInvalid(t, await ctx.request('partner', 'GET', `${base}/deliveries?cursor=forged`), '/cursor', 'query')
  expectInvalid(t, await ctx.request('partner', 'GET', '/v1/webhooks/not-a-uuid'), '/id', 'path')
  expectInvalid(t, await ctx.request('partner', 'POST', `${base}/deliveries/abc/resend`), '/deliveryId', 'path')
  expectProblem(t, await ctx.request('partner', 'POST', `${base}/deliveries/999999/resend`), 404, 'not-found')
  const { rows } = await ctx.pool.query('SELECT version FROM webhook_endpoints WHERE id = $1', [created.id])
  t.equal(rows[0].version, 1, 'the endpoint was not changed by any rejected request')
})

tap.test('roles and tenancy: partner B cannot see or touch partner A\'s endpoints', async (t) => {
  const ctx = await buildTestApp(t, { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false' })
  const mine = expectStatus(t, await ctx.request('partner', 'POST', '/v1/webhooks', { url: PUBLIC_URL, eventTypes: ['appeal.published'] }), 201)
  const theirs = expectStatus(t, await ctx.request('otherPartner', 'POST', '/v1/webhooks', { url: 'https://93.184.216.34/b', eventTypes: ['appeal.published'] }), 201)

  expectProblem(t, await ctx.request(null, 'GET', '/v1/webhooks'), 401, 'unauthorized')
  expectProblem(t, await ctx.request('editor', 'GET', '/v1/webhooks'), 403, 'forbidden')
  expectProblem(t, await ctx.request('editor', 'POST', '/v1/webhooks', { url: PUBLIC_URL, eventTypes: ['appeal.published'] }), 403, 'forbidden')

  const listB = expectStatus(t, await ctx.request('otherPartner', 'GET', '/v1/webhooks'), 200)
  t.same(listB.items.map((w: { id: string }) => w.id), [theirs.id], 'B lists only its own')
  const base = `/v1/webhooks/${mine.id}`
  const attempts: [string, string, unknown?][] = [
    ['GET', base], ['PATCH', base, { description: 'mine now' }], ['DELETE', base],
    ['POST', `${base}/rotate-secret`, {}], ['POST', `${base}/test`], ['POST', `${base}/enable`],
    ['GET', `${base}/deliveries`], ['POST', `${base}/recover`, { since: '2026-01-01T00:00:00Z' }],
    ['POST', `${base}/deliveries/1/resend`],
  ]
  for (const [method, url, body] of attempts) {
    expectProblem(t, await ctx.request('otherPartner', method as 'GET', url, body), 404, 'not-found')
  }
  const still = expectStatus(t, await ctx.request('partner', 'GET', base), 200)
  t.equal(still.version, 1, 'A\'s endpoint untouched')

  const all = expectStatus(t, await ctx.request('admin', 'GET', '/v1/webhooks'), 200)
  t.same(all.items.map((w: { id: string }) => w.id).sort(), [mine.id, theirs.id].sort(), 'admin sees every organisation\'s')
  t.match(expectStatus(t, await ctx.request('admin', 'PATCH', base, { description: 'by admin' }), 200), { description: 'by admin' })
})
