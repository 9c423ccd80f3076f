// The console's partner portal over HTTP (contract §5, §9): a partner
// person manages its webhook endpoint alone — adds it (the API's field
// error shown at the URL field first), lists, edits filters, sends a test
// that a real receiver gets and verifies, rotates the secret (shown once;
// old and new both sign during the grace period), resends a delivery,
// recovers a failed one, sees the endpoint disabled by a 410 and enables
// it, deletes it. Tenancy and roles as the API has them: another
// organisation's partner gets 404, an editor 403 (and no Webhooks in the
// navigation), an admin sees every organisation's endpoints; no CSRF
// token or a foreign Origin → 403.
import t from 'tap'
import { buildTestApp } from './helpers/context.js'
import { consoleSession } from './helpers/console.js'
import { startReceiver } from './helpers/receiver.js'
import { deliveriesOf, eventually, startDelivery, verify } from './helpers/webhooks.js'

const SECRET = /whsec_[A-Za-z0-9+/]{43}=/g
const ENDPOINT_LINK = /\/console\/webhooks\/([0-9a-f-]{36})"/

/** `YYYY-MM-DDTHH:MM`, UTC, as a datetime-local field sends it. */
const localUtc = (ms: number) => new Date(ms).toISOString().slice(0, 16)

t.test('a partner manages its endpoint alone in the console', async (t) => {
  const ctx = await buildTestApp(t, { WEBHOOK_RETRY_SCHEDULE: '1' })
  await startDelivery(t, ctx.config)
  const receiver = await startReceiver(t)
  receiver.answer('/hook', { status: 200, body: 'thanks from the desk' })
  const partner = await consoleSession(ctx, 'partner')

  // ---- The empty list, the navigation ------------------------------------------------------
  const empty = await partner.request('GET', '/console/webhooks')
  t.equal(empty.statusCode, 200)
  t.equal(empty.headers['cache-control'], 'no-store')
  t.match(empty.body, /No endpoints yet/)
  t.match(empty.body, /<a href="\/console\/webhooks" aria-current="page">Webhooks<\/a>/, 'the navigation names the portal')

  // ---- Add: the API's error at the field first --------------------------------------------------
  const bad = await partner.request('POST', '/console/webhooks', { url: 'ftp://desk.example/hook', description: 'Intake desk', eventTypes: ['appeal.published'] })
  t.equal(bad.statusCode, 400)
  t.match(bad.body, /<p class="field-error" id="url-error">must use https or http<\/p>/, 'the URL policy\'s message, at the URL field')
  t.match(bad.body, /id="url"[^>]*value="ftp:\/\/desk\.example\/hook"[^>]*aria-invalid="true"/, 'the field keeps what was typed and is marked invalid')
  t.match(bad.body, /<a href="#url">URL: must use https or http<\/a>/, 'the summary links to the field')
  t.match(bad.body, /value="Intake desk"/, 'other fields keep their values')
  t.equal((await ctx.pool.query('SELECT 1 FROM webhook_endpoints')).rowCount, 0, 'nothing registered')

  const noEvents = await partner.request('POST', '/console/webhooks', { url: receiver.url('/hook') })
  t.equal(noEvents.statusCode, 400)
  t.match(noEvents.body, /id="eventTypes-error">must NOT have fewer than 1 items/, 'the schema\'s message at the events')

  const added = await partner.request('POST', '/console/webhooks', {
    url: receiver.url('/hook'), description: 'Intake desk', eventTypes: ['appeal.published', 'appeal.withdrawn'],
  })
  t.equal(added.statusCode, 201, added.body.slice(0, 500))
  const secrets = added.body.match(SECRET) ?? []
  t.equal(secrets.length, 1, 'the signing secret is on the answer page')
  const secret = secrets[0]!
  t.match(added.body, /shown only on this page, never again/)
  const id = ENDPOINT_LINK.exec(added.body)![1]!
  const api = await ctx.request('partner', 'GET', `/v1/webhooks/${id}`)
  t.equal(api.statusCode, 200, 'the endpoint is the API\'s, in the partner\'s organisation')
  t.same(api.json().eventTypes, ['appeal.published', 'appeal.withdrawn'])

  // ---- List and the endpoint: never the secret again ------------------------------------------
  const listed = await partner.request('GET', '/console/webhooks')
  t.match(listed.body, /Intake desk/)
  t.match(listed.body, receiver.url('/hook'))
  t.match(listed.body, /Enabled and healthy/)
  const shown = await partner.request('GET', `/console/webhooks/${id}`)
  t.equal(shown.statusCode, 200)
  t.match(shown.body, /appeal\.published, appeal\.withdrawn/)
  for (const page of [listed, shown, await partner.request('GET', `/console/webhooks/${id}/edit`)]) {
    t.notMatch(page.body, /whsec_/, 'no page shows the secret again')
  }

  // ---- Edit the filters -------------------------------------------------------------------------------
  const version = /name="version" value="(\d+)"/.exec((await partner.request('GET', `/console/webhooks/${id}/edit`)).body)![1]!
  const form = { url: receiver.url('/hook'), description: 'Intake desk', eventTypes: ['appeal.published', 'appeal.withdrawn'], version }
  const unknownCountry = await partner.request('POST', `/console/webhooks/${id}/edit`, { ...form, countries: 'CN, XX' })
  t.equal(unknownCountry.statusCode, 400)
  t.match(unknownCountry.body, /id="countries-error">XX is not an ISO 3166-1 country \(item 2\)</, 'the service\'s own check, at the countries field')
  const saved = await partner.request('POST', `/console/webhooks/${id}/edit`, { ...form, countries: 'CN, KP', minUrgency: 'high' })
  t.equal(saved.statusCode, 303)
  t.equal(saved.headers.location, `/console/webhooks/${id}?done=saved`)
  const afterEdit = await partner.request('GET', saved.headers.location!)
  t.match(afterEdit.body, /The endpoint is saved\./)
  t.match(afterEdit.body, /<dd>CN, KP<\/dd>/)
  t.match(afterEdit.body, /high or more urgent/)
  const patched = (await ctx.request('partner', 'GET', `/v1/webhooks/${id}`)).json()
  t.same([patched.countries, patched.minUrgency], [['CN', 'KP'], 'high'], 'the API sees the change')
  const stale = await partner.request('POST', `/console/webhooks/${id}/edit`, { ...form, countries: 'FR' })
  t.equal(stale.statusCode, 412, 'a form made from an older version does not overwrite a newer one')

  // ---- Send a test: a real receiver gets it, signed ----------------------------------------------------
  const tested = await partner.request('POST', `/console/webhooks/${id}/test`)
  t.equal(tested.statusCode, 303)
  t.equal(tested.headers.location, `/console/webhooks/${id}/deliveries?done=test-sent`)
  t.equal(receiver.to('/hook').length, 1, 'the receiver got the test event')
  const first = receiver.to('/hook')[0]!
  t.match(verify(secret, first), { type: 'webhook.test' }, 'signed with the secret shown at creation')
  const deliveries = await partner.request('GET', tested.headers.location!)
  t.equal(deliveries.statusCode, 200)
  t.match(deliveries.body, /A test event was sent\./)
  t.match(deliveries.body, /webhook\.test · delivered/)
  t.match(deliveries.body, /<strong>HTTP 200<\/strong>/, 'the attempt and its status')
  t.match(deliveries.body, /thanks from the desk/, 'the response excerpt')
  t.match(deliveries.body, new RegExp(`Event <code>${String(first.headers['webhook-id'])}</code>`), 'the event id the receiver saw')
  const deliveryId = /\/deliveries\/(\d+)\/resend/.exec(deliveries.body)![1]!

  // ---- Rotate: the new secret once; both sign during the grace period ------------------------------------
  const rotated = await partner.request('POST', `/console/webhooks/${id}/rotate-secret`, { graceSeconds: '86400' })
  t.equal(rotated.statusCode, 200)
  const newSecret = (rotated.body.match(SECRET) ?? [])[0]!
  t.ok(newSecret && newSecret !== secret, 'a new secret, shown on the answer')
  t.match(rotated.body, /The old secret keeps signing until \d{4}-\d\d-\d\d \d\d:\d\d UTC/)
  const afterRotate = await partner.request('GET', `/console/webhooks/${id}`)
  t.notOk(afterRotate.body.includes(newSecret), 'and never again')
  t.match(afterRotate.body, /the previous one sign every delivery/)
  t.equal((await partner.request('POST', `/console/webhooks/${id}/test`)).statusCode, 303)
  const second = receiver.to('/hook')[1]!
  t.match(verify(newSecret, second), { type: 'webhook.test' }, 'the new secret verifies')
  t.match(verify(secret, second), { type: 'webhook.test' }, 'and the old one still does, during the grace period')

  // ---- Resend one delivery --------------------------------------------------------------------------------------
  const resent = await partner.request('POST', `/console/webhooks/${id}/deliveries/${deliveryId}/resend`)
  t.equal(resent.statusCode, 303)
  t.match((await partner.request('GET', resent.headers.location!)).body, /queued to be attempted again now/)
  await receiver.waitFor(() => receiver.to('/hook').length === 3, 10_000, 'the resent delivery')
  t.equal(receiver.to('/hook')[2]!.headers['webhook-id'], first.headers['webhook-id'], 'the same event again')

  // ---- Recover a window with a failed delivery -------------------------------------------------------------------------
  const blank = await partner.request('POST', `/console/webhooks/${id}/recover`, { since: '', until: '' })
  t.equal(blank.statusCode, 400)
  t.match(blank.body, /id="since-error">must match format &quot;date-time&quot;/, 'the schema\'s message at the field')
  receiver.answer('/hook', { status: 500, body: 'down for maintenance' })
  t.equal((await partner.request('POST', `/console/webhooks/${id}/test`)).statusCode, 303)
  await eventually(async () => (await deliveriesOf(ctx, id)).find((d) => d.status === 'failed'), 15_000, 'the test delivery to fail after its retry')
  const failedPage = await partner.request('GET', `/console/webhooks/${id}/deliveries?status=failed`)
  t.match(failedPage.body, /webhook\.test · failed/)
  t.match(failedPage.body, /<strong>HTTP 500<\/strong>/)
  t.match(failedPage.body, /down for maintenance/)
  receiver.answer('/hook', { status: 204 })
  const before = receiver.to('/hook').length
  const recovered = await partner.request('POST', `/console/webhooks/${id}/recover`, { since: localUtc(Date.now() - 3_600_000), until: '' })
  t.equal(recovered.statusCode, 303)
  t.equal(recovered.headers.location, `/console/webhooks/${id}/deliveries?done=recovered&count=1`)
  t.match((await partner.request('GET', recovered.headers.location!)).body, /1 delivery of that window is queued again\./)
  await receiver.waitFor(() => receiver.to('/hook').length === before + 1, 10_000, 'the recovered delivery')
  await eventually(async () => (await deliveriesOf(ctx, id)).every((d) => d.status === 'delivered'), 10_000, 'every delivery delivered')

  // ---- 410 disables it; enable ----------------------------------------------------------------------------------------------
  receiver.answer('/hook', { status: 410 })
  t.equal((await partner.request('POST', `/console/webhooks/${id}/test`)).statusCode, 303)
  const disabled = await partner.request('GET', `/console/webhooks/${id}`)
  t.match(disabled.body, /Disabled since \d{4}-\d\d-\d\d \d\d:\d\d UTC: the endpoint answered 410 Gone/, 'disabled, and why')
  t.match(disabled.body, /Enable the endpoint/)
  t.match((await partner.request('GET', '/console/webhooks')).body, /<strong>Disabled\.<\/strong>/, 'the list says so too')
  const enabled = await partner.request('POST', `/console/webhooks/${id}/enable`)
  t.equal(enabled.statusCode, 303)
  const afterEnable = await partner.request('GET', enabled.headers.location!)
  t.match(afterEnable.body, /The endpoint is enabled again/)
  t.notMatch(afterEnable.body, /Enable the endpoint/)
  t.equal((await ctx.request('partner', 'GET', `/v1/webhooks/${id}`)).json().status, 'active')

  // ---- Delete, after a confirmation ---------------------------------------------------------------------------------------------
  const confirm = await partner.request('GET', `/console/webhooks/${id}/delete`)
  t.match(confirm.body, /This cannot be undone/)
  const deleted = await partner.request('POST', `/console/webhooks/${id}/delete`)
  t.equal(deleted.statusCode, 303)
  t.equal(deleted.headers.location, '/console/webhooks?done=deleted')
  t.match((await partner.request('GET', deleted.headers.location!)).body, /The endpoint is deleted\.[\s\S]*No endpoints yet/)
  t.equal((await ctx.request('partner', 'GET', `/v1/webhooks/${id}`)).statusCode, 404)

  const { rows: audit } = await ctx.pool.query<{ action: string }>(
    `SELECT action FROM audit_log WHERE resource_id = $1 AND person_id = $2 ORDER BY id`, [id, partner.person.id])
  t.same([...new Set(audit.map((a) => a.action))],
    ['webhook.create', 'webhook.update', 'webhook.test', 'webhook.rotate-secret', 'webhook.resend', 'webhook.recover', 'webhook.enable', 'webhook.delete'],
    'every action audited with the person')
})

t.test('tenancy, roles and CSRF are the API\'s', async (t) => {
  const ctx = await buildTestApp(t)
  const receiver = await startReceiver(t)
  const partner = await consoleSession(ctx, 'partner')
  const added = await partner.request('POST', '/console/webhooks', { url: receiver.url('/mine'), description: 'Refugee Desk intake', eventTypes: ['appeal.published'] })
  t.equal(added.statusCode, 201)
  const id = ENDPOINT_LINK.exec(added.body)![1]!

  // Another organisation's partner: as if it did not exist.
  const other = await consoleSession(ctx, 'partner', { org: 'Press Network' })
  t.notMatch((await other.request('GET', '/console/webhooks')).body, /Refugee Desk intake/, 'not in another partner\'s list')
  for (const [method, path] of [
    ['GET', ''], ['GET', '/edit'], ['GET', '/deliveries'], ['GET', '/delete'], ['POST', '/edit'], ['POST', '/test'], ['POST', '/rotate-secret'],
    ['POST', '/enable'], ['POST', '/delete'], ['POST', '/recover'], ['POST', '/deliveries/1/resend'],
  ] as const) {
    const res = await other.request(method, `/console/webhooks/${id}${path}`,
      path === '/edit' ? { url: receiver.url('/theirs'), eventTypes: ['appeal.published'] } : path === '/recover' ? { since: localUtc(Date.now() - 60_000) } : {})
    t.equal(res.statusCode, 404, `${method} ${path || '/'} of another organisation's endpoint: 404`)
  }
  t.equal(receiver.requests.length, 0, 'no test went out for the other partner')
  t.equal((await ctx.request('partner', 'GET', `/v1/webhooks/${id}`)).json().url, receiver.url('/mine'), 'unchanged')

  // An editor of an NGO: not a partner action.
  const editor = await consoleSession(ctx, 'editor')
  t.notMatch((await editor.request('GET', '/console')).body, /href="\/console\/webhooks"/, 'no Webhooks in an editor\'s navigation')
  const refused = await editor.request('GET', '/console/webhooks')
  t.equal(refused.statusCode, 403)
  t.match(refused.body, /needs the partner role/)
  t.equal((await editor.request('POST', '/console/webhooks', { url: receiver.url('/ngo'), eventTypes: ['appeal.published'] })).statusCode, 403)

  // An admin: every organisation's endpoints, as in the API.
  const admin = await consoleSession(ctx, 'admin')
  t.match((await admin.request('GET', '/console')).body, /href="\/console\/webhooks"/, 'Webhooks in an admin\'s navigation')
  const all = await admin.request('GET', '/console/webhooks')
  t.match(all.body, /Refugee Desk intake/)
  t.match(all.body, new RegExp(`organisation ${ctx.orgIds.partner}`), 'with the organisation it belongs to')
  t.equal((await admin.request('GET', `/console/webhooks/${id}`)).statusCode, 200)

  // CSRF: the token and our Origin, as everywhere in the console.
  const count = async () => (await ctx.pool.query('SELECT 1 FROM webhook_endpoints')).rowCount
  const form = { url: receiver.url('/forged'), eventTypes: ['appeal.published'] }
  t.equal((await partner.request('POST', '/console/webhooks', { ...form, _csrf: '' })).statusCode, 403, 'no token: 403')
  t.equal((await partner.request('POST', '/console/webhooks', { ...form, _csrf: 'x'.repeat(43) })).statusCode, 403, 'a wrong token: 403')
  t.equal((await partner.request('POST', '/console/webhooks', form, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })).statusCode, 403, 'another Origin: 403')
  t.equal((await partner.request('POST', `/console/webhooks/${id}/delete`, { _csrf: '' })).statusCode, 403)
  t.equal(await count(), 1, 'nothing created or deleted')
})
