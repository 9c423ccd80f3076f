// Supporters, from the outside: double opt-in through a real mailbox (SMTP
// sink), "this wasn't me", the 24 h rule and identical answers whatever an
// address's state, rate limiting, expired and forged links, preferences,
// export, erasure and the staff views.
import t from 'tap'
import { buildTestApp, createTestDatabase, testConfig } from './helpers/context.js'
import { buildApp } from '../src/app.js'
import { createPool } from '../src/db/pool.js'
import { createLogger } from '../src/logger.js'
import { createFailFastRedis } from '../src/queue/queues.js'
import { startDeliveryWorkers } from '../src/delivery/workers.js'
import { startSmtpSink } from './helpers/smtp-sink.js'
import { expectInvalid, expectProblem } from './helpers/liaoning.js'
import {
  confirmationLink, eventually, linksIn, pathOf, startSupporterStack, subscribeAndConfirm, type SupporterStack,
} from './helpers/supporters.js'

async function statusOf(stack: SupporterStack, email: string): Promise<string | null> {
  const { rows } = await stack.pool.query<{ status: string }>('SELECT status FROM subscriptions WHERE lower(email) = lower($1)', [email])
  return rows[0]?.status ?? null
}

async function ledger(stack: SupporterStack, email: string): Promise<string[]> {
  const { rows } = await stack.pool.query<{ action: string; consent_text_version: string }>(
    `SELECT l.action, l.consent_text_version FROM consent_ledger l JOIN subscriptions s ON s.id = l.subscription_id
      WHERE s.email = $1 ORDER BY l.id`, [email])
  return rows.map((r) => `${r.action}@${r.consent_text_version}`)
}

t.test('double opt-in: the mail, GET changes nothing, POST confirms, in the supporter\'s language', async (t) => {
  const stack = await startSupporterStack(t)
  const res = await stack.request(null, 'POST', '/v1/subscriptions',
    { email: 'Camille.Martin@Example.org', language: 'fr', countries: ['CN', 'KP'], themes: ['refoulement'], minUrgency: 'high' })
  t.equal(res.statusCode, 202)
  t.same(res.json(), { status: 'accepted', detail: res.json().detail })
  t.equal(await statusOf(stack, 'camille.martin@example.org'), 'pending')

  const mail = await stack.sink.waitFor('camille.martin@example.org')
  const parsed = await mail.parsed()
  t.equal(parsed.subject, 'Veuillez confirmer votre abonnement aux alertes', 'French confirmation mail')
  t.equal(parsed.headers.get('auto-submitted'), 'auto-generated')
  t.notOk(parsed.headers.get('list-unsubscribe'), 'no list headers on a transactional mail')
  t.ok(parsed.text && parsed.html, 'text and HTML parts')
  // Nothing the requester typed is echoed: not the address, not the filters.
  for (const part of [parsed.text!, String(parsed.html)]) {
    t.notMatch(part, /camille|example\.org|refoulement|Chine|Corée/i, 'no user-supplied text in the body')
    t.notMatch(part, /<img|<script/i, 'no images or scripts')
  }
  const confirmPath = await confirmationLink(stack.sink, 'camille.martin@example.org')

  // A mail scanner following the link changes nothing.
  const page = await stack.request(null, 'GET', confirmPath)
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /^text\/html; charset=utf-8/)
  t.match(page.body, /<html lang="fr"/)
  t.match(page.body, /Confirmez votre abonnement/)
  t.match(page.body, /C•••@E•••\.org/, 'masked address on the page')
  t.match(page.body, new RegExp(`<form method="post" action="${confirmPath}">`), 'a button posting to the same URL')
  t.notMatch(page.body, /<script|https?:\/\/(?!localhost)/, 'no script, no external resource')
  t.match(String(page.headers['content-security-policy']), /form-action 'self'/)
  await stack.request(null, 'GET', confirmPath)
  t.equal(await statusOf(stack, 'camille.martin@example.org'), 'pending', 'GET does not confirm')

  const confirmed = await stack.request(null, 'POST', confirmPath, 'List-Unsubscribe=ignored', { 'content-type': 'application/x-www-form-urlencoded' })
  t.equal(confirmed.statusCode, 200)
  t.match(confirmed.body, /Vous êtes abonné·e/)
  t.equal(await statusOf(stack, 'camille.martin@example.org'), 'active')
  const manageLink = /href="(\/subscriptions\/[A-Za-z0-9_-]{43})"/.exec(confirmed.body)?.[1]
  t.ok(manageLink, 'the confirmed page links to the preferences')

  // The link is spent: using it again says so, in French, and leads nowhere.
  const used = await stack.request(null, 'GET', confirmPath)
  t.equal(used.statusCode, 410)
  t.match(used.body, /Ce lien a déjà été utilisé/)
  t.notOk(used.body.includes(manageLink!), 'no management link on the used page')
  expectProblem(t, await stack.request(null, 'POST', confirmPath, undefined, { accept: 'application/json' }), 410, 'link-used')
  const view = await stack.request(null, 'GET', `/v1${manageLink}`)
  t.equal(view.json().email, 'C•••@E•••.org')
  t.same(view.json().countries, ['CN', 'KP'])
  t.same(await ledger(stack, 'Camille.Martin@Example.org'), ['subscribe@2026-01', 'confirm@2026-01'], 'consent ledger')
  await t.rejects(stack.pool.query('DELETE FROM consent_ledger'), /append-only/, 'the ledger cannot be rewritten')
})

t.test('"this wasn\'t me" deletes the request and the address is never mailed again', async (t) => {
  const stack = await startSupporterStack(t)
  await stack.request(null, 'POST', '/v1/subscriptions', { email: 'victim@example.net', language: 'es' })
  const confirmPath = await confirmationLink(stack.sink, 'victim@example.net')
  const page = await stack.request(null, 'GET', confirmPath)
  t.match(page.body, /No fui yo/)
  t.match(page.body, new RegExp(`action="${confirmPath}/cancel"`))
  const cancelled = await stack.request(null, 'POST', `${confirmPath}/cancel`)
  t.equal(cancelled.statusCode, 200)
  t.match(cancelled.body, /Solicitud borrada/)
  t.equal(await statusOf(stack, 'victim@example.net'), null, 'the request and the address are gone')
  const { rows } = await stack.pool.query('SELECT reason FROM email_suppressions')
  t.same(rows, [{ reason: 'complaint' }])

  const retry = await stack.request(null, 'POST', '/v1/subscriptions', { email: 'victim@example.net' })
  t.equal(retry.statusCode, 202, 'the same 202')
  await stack.request(null, 'POST', '/v1/subscriptions', { email: 'other@example.net' })
  await stack.sink.waitFor('other@example.net')
  t.equal(stack.sink.to('victim@example.net').length, 1, 'no second mail to the victim')
  t.equal((await stack.request(null, 'GET', confirmPath)).statusCode, 404, 'the link no longer works')
})

t.test('mail-bombing and enumeration: one answer for every state, one confirmation per 24 h', async (t) => {
  const stack = await startSupporterStack(t)
  await subscribeAndConfirm(stack, 'active@example.org')
  await stack.request(null, 'POST', '/v1/subscriptions', { email: 'pending@example.org' })
  await stack.sink.waitFor('pending@example.org')
  const gone = await subscribeAndConfirm(stack, 'gone@example.org')
  await stack.request(null, 'POST', `/subscriptions/${gone.manageToken}/unsubscribe`)
  const before = stack.sink.messages.length

  const answers = []
  for (const email of ['new@example.org', 'pending@example.org', 'active@example.org', 'gone@example.org', 'ACTIVE@example.org']) {
    const res = await stack.request(null, 'POST', '/v1/subscriptions', { email })
    answers.push({ status: res.statusCode, body: res.body, type: res.headers['content-type'], cache: res.headers['cache-control'], length: res.headers['content-length'] })
  }
  t.equal(new Set(answers.map((a) => JSON.stringify(a))).size, 1, 'identical status, headers and body for new, pending, active and unsubscribed addresses')

  // Hammering one address: still a single confirmation mail.
  for (let i = 0; i < 5; i++) await stack.request(null, 'POST', '/v1/subscriptions', { email: 'new@example.org', themes: [`t${i}x`] })
  await stack.sink.waitFor('new@example.org')
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.equal(stack.sink.to('new@example.org').length, 1, 'new: one mail for six requests')
  t.equal(stack.sink.to('pending@example.org').length, 1, 'pending within 24 h: no second mail')
  t.equal(stack.sink.to('active@example.org').length, 1, 'active: only the original confirmation')
  t.equal(stack.sink.to('gone@example.org').length, 1, 'unsubscribed within 24 h of its confirmation: no mail')
  t.equal(stack.sink.messages.length, before + 1)

  // A day later the pending address may get one more.
  await stack.pool.query(`UPDATE subscriptions SET confirmation_sent_at = now() - interval '25 hours' WHERE email = 'pending@example.org'`)
  await stack.pool.query(`UPDATE confirmation_limits SET last_sent_at = now() - interval '25 hours'`)
  await stack.request(null, 'POST', '/v1/subscriptions', { email: 'pending@example.org' })
  await eventually(async () => stack.sink.to('pending@example.org').length === 2, 10_000, 'a second confirmation after 24 h')
  t.equal(await statusOf(stack, 'active@example.org'), 'active', 'an active subscription is untouched')
})

t.test('public endpoints are rate-limited per client address (429 + Retry-After)', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_RATE_LIMIT: '3' })
  const post = (remoteAddress: string) => ctx.app.inject({
    method: 'POST', url: '/v1/subscriptions', remoteAddress, payload: { email: 'someone@example.org' },
  })
  for (let i = 0; i < 3; i++) t.equal((await post('203.0.113.7')).statusCode, 202)
  const limited = await post('203.0.113.7')
  expectProblem(t, limited, 429, 'rate-limited')
  t.ok(Number(limited.headers['retry-after']) >= 1 && Number(limited.headers['retry-after']) <= 60, 'Retry-After in seconds')
  const page = await ctx.app.inject({ method: 'GET', url: '/subscriptions/whatever', remoteAddress: '203.0.113.7' })
  t.equal(page.statusCode, 429, 'pages share the limit')
  t.equal((await post('198.51.100.9')).statusCode, 202, 'another client is not affected')
  t.equal((await ctx.request('editor', 'GET', '/v1/appeals')).statusCode, 200, 'staff routes are not limited by it')
})

t.test('expired and forged links: friendly pages in the right language, problems for JSON', async (t) => {
  const stack = await startSupporterStack(t)
  await stack.request(null, 'POST', '/v1/subscriptions', { email: 'late@example.org', language: 'ko' })
  const confirmPath = await confirmationLink(stack.sink, 'late@example.org')
  await stack.pool.query(`UPDATE subscriptions SET confirm_expires_at = now() - interval '1 second'`)
  const expired = await stack.request(null, 'GET', confirmPath)
  t.equal(expired.statusCode, 410)
  t.match(expired.body, /<html lang="ko"/)
  t.match(expired.body, /링크가 만료되었습니다/)
  const post = await stack.request(null, 'POST', confirmPath)
  t.equal(post.statusCode, 410)
  t.equal(await statusOf(stack, 'late@example.org'), 'pending', 'an expired link confirms nothing')
  expectProblem(t, await stack.request(null, 'POST', confirmPath, undefined, { accept: 'application/json' }), 410, 'link-expired')

  const forged = `/subscriptions/${'A'.repeat(43)}`
  const page = await stack.request(null, 'GET', forged, undefined, { 'accept-language': 'zh-CN,zh;q=0.9,en;q=0.5' })
  t.equal(page.statusCode, 404)
  t.match(page.body, /<html lang="zh-Hans"/)
  t.match(page.body, /此链接无效/)
  t.equal((await stack.request(null, 'GET', '/subscriptions/confirm/short')).statusCode, 404)
  t.equal((await stack.request(null, 'POST', `${forged}/unsubscribe`)).statusCode, 404)
  expectProblem(t, await stack.request(null, 'GET', `/v1${forged}`), 404, 'invalid-link')
  expectProblem(t, await stack.request(null, 'DELETE', `/v1${forged}`), 404, 'invalid-link')
})

t.test('preferences: read masked, change by API and by the page form, export, erase', async (t) => {
  const stack = await startSupporterStack(t)
  const s = await subscribeAndConfirm(stack, 'lee.minho@example.kr', { language: 'ko', countries: ['KP'] })
  const api = `/v1/subscriptions/${s.manageToken}`

  const read = await stack.request(null, 'GET', api)
  t.equal(read.statusCode, 200)
  t.match(read.json(), { email: 'l•••@e•••.kr', language: 'ko', countries: ['KP'], themes: [], minUrgency: 'normal', status: 'active' })
  t.notMatch(read.body, /lee\.minho/)

  const patched = await stack.request(null, 'PATCH', api, { countries: ['CN', 'KP', 'CN'], themes: ['torture'], minUrgency: 'critical', language: 'zh-hans' })
  t.equal(patched.statusCode, 200)
  t.match(patched.json(), { countries: ['CN', 'KP'], themes: ['torture'], minUrgency: 'critical', language: 'zh-Hans' })

  expectInvalid(t, await stack.request(null, 'PATCH', api, { countries: ['ZZ'] }), '/countries/0')
  expectInvalid(t, await stack.request(null, 'PATCH', api, { language: 'xx-notreal' }), '/language')
  expectInvalid(t, await stack.request(null, 'PATCH', api, { themes: Array.from({ length: 31 }, (_, i) => `theme-${i}`) }), '/themes')
  expectInvalid(t, await stack.request(null, 'PATCH', api, { email: 'x@example.org' }), '/email')

  const page = await stack.request(null, 'GET', `/subscriptions/${s.manageToken}`)
  t.equal(page.statusCode, 200)
  t.match(page.body, /<html lang="zh-Hans"/)
  t.match(page.body, /您的提醒偏好设置/)
  t.match(page.body, /<input type="checkbox" name="countries" value="KP" checked>/)
  t.match(page.body, /<label for="language">/, 'labelled controls')
  const saved = await stack.request(null, 'POST', `/subscriptions/${s.manageToken}`,
    'language=es&minUrgency=high&countries=SY&countries=TR', { 'content-type': 'application/x-www-form-urlencoded' })
  t.equal(saved.statusCode, 200)
  t.match(saved.body, /Tus preferencias se han guardado/)
  t.match((await stack.request(null, 'GET', api)).json(), { language: 'es', countries: ['SY', 'TR'], themes: [], minUrgency: 'high' })
  const bad = await stack.request(null, 'POST', `/subscriptions/${s.manageToken}`, 'countries=QQ', { 'content-type': 'application/x-www-form-urlencoded' })
  t.equal(bad.statusCode, 400)
  t.match(bad.body, /no se ha cambiado nada/)

  const exported = await stack.request(null, 'GET', `${api}/export`)
  t.equal(exported.statusCode, 200)
  t.match(String(exported.headers['content-disposition']), /attachment/)
  const data = exported.json()
  t.equal(data.subscription.email, 'lee.minho@example.kr', 'the export holds the address itself')
  t.same(data.consent.map((c: { action: string }) => c.action), ['subscribe', 'confirm', 'preferences', 'preferences'])
  t.same(data.deliveries, [])

  const erased = await stack.request(null, 'DELETE', api)
  t.equal(erased.statusCode, 204)
  const { rows } = await stack.pool.query(`SELECT
    (SELECT count(*)::int FROM subscriptions) AS subscriptions,
    (SELECT array_agg(reason) FROM email_suppressions) AS reasons,
    (SELECT array_agg(action ORDER BY id) FROM consent_ledger) AS actions,
    (SELECT count(*)::int FROM consent_ledger WHERE details::text ILIKE '%lee.minho%') AS leaks`)
  t.same(rows[0], { subscriptions: 0, reasons: ['erased'], actions: ['subscribe', 'confirm', 'preferences', 'preferences', 'erase'], leaks: 0 })
  expectProblem(t, await stack.request(null, 'GET', api), 404, 'invalid-link')

  // Erasure is not a ban: the person may come back through double opt-in.
  await stack.request(null, 'POST', '/v1/subscriptions', { email: 'lee.minho@example.kr' })
  await eventually(async () => stack.sink.to('lee.minho@example.kr').length === 2, 10_000, 'a new confirmation')
  const latest = stack.sink.to('lee.minho@example.kr').at(-1)!
  const link = (await linksIn(latest)).find((l) => l.includes('/subscriptions/confirm/'))!.replace(/#.*$/, '')
  const again = await stack.request(null, 'POST', pathOf(link))
  t.equal(again.statusCode, 200)
  t.same((await stack.pool.query('SELECT reason FROM email_suppressions')).rows, [], 'confirming again lifts the erasure suppression')
})

t.test('bad input is a clear 400 and stores nothing', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_RATE_LIMIT: '1000' })
  const cases: [unknown, string][] = [
    [{ email: 'not-an-address' }, '/email'],
    [{ email: 'a@b' }, '/email'],
    [{ email: 'x'.repeat(250) + '@example.org' }, '/email'],
    [{ email: 'ok@example.org', language: 'qq' }, '/language'],
    [{ email: 'ok@example.org', countries: ['XX'] }, '/countries/0'],
    [{ email: 'ok@example.org', countries: Array.from({ length: 61 }, () => 'CN') }, '/countries'],
    [{ email: 'ok@example.org', themes: ['Not A Slug'] }, '/themes/0'],
    [{ email: 'ok@example.org', minUrgency: 'whenever' }, '/minUrgency'],
    [{ email: 'ok@example.org', name: 'Mallory' }, '/name'],
    [{}, '/email'],
  ]
  for (const [body, pointer] of cases) expectInvalid(t, await ctx.request(null, 'POST', '/v1/subscriptions', body), pointer)
  const { rows } = await ctx.pool.query('SELECT count(*)::int AS n FROM subscriptions')
  t.equal(rows[0].n, 0)
})

t.test('staff: admins list and erase, editors see counts only', async (t) => {
  const stack = await startSupporterStack(t)
  const a = await subscribeAndConfirm(stack, 'alpha@example.org', { language: 'fr' })
  await subscribeAndConfirm(stack, 'beta@example.org')
  await stack.request(null, 'POST', '/v1/subscriptions', { email: 'gamma@example.com' })
  await stack.request(null, 'POST', `/subscriptions/${a.manageToken}/unsubscribe`)

  const list = await stack.request('admin', 'GET', '/v1/subscribers?limit=2')
  t.equal(list.statusCode, 200)
  t.same(list.json().items.map((s: { email: string }) => s.email), ['gamma@example.com', 'beta@example.org'], 'newest first')
  const next = await stack.request('admin', 'GET', `/v1/subscribers?limit=2&cursor=${list.json().nextCursor}`)
  t.same(next.json().items.map((s: { email: string }) => s.email), ['alpha@example.org'])
  t.equal(next.json().nextCursor, null)
  t.match(next.json().items[0], { status: 'unsubscribed', suppressed: 'unsubscribed', language: 'fr' })
  const search = await stack.request('admin', 'GET', '/v1/subscribers?q=EXAMPLE.ORG&status=active')
  t.same(search.json().items.map((s: { email: string }) => s.email), ['beta@example.org'])
  t.same((await stack.request('admin', 'GET', '/v1/subscribers?q=%25')).json().items, [], 'wildcards are literal')
  expectProblem(t, await stack.request('editor', 'GET', '/v1/subscribers'), 403, 'forbidden')
  expectProblem(t, await stack.request(null, 'GET', '/v1/subscribers'), 401, 'unauthorized')

  const stats = await stack.request('editor', 'GET', '/v1/subscribers/stats')
  t.equal(stats.statusCode, 200)
  t.same(stats.json(), { total: 3, byStatus: { pending: 1, active: 1, unsubscribed: 1 }, activeByLanguage: { en: 1 }, suppressed: { unsubscribed: 1 } })
  t.notMatch(stats.body, /@/, 'counts only')
  expectProblem(t, await stack.request('partner', 'GET', '/v1/subscribers/stats'), 403, 'forbidden')

  const id = list.json().items[1].id
  expectProblem(t, await stack.request('editor', 'DELETE', `/v1/subscribers/${id}`), 403, 'forbidden')
  t.equal((await stack.request('admin', 'DELETE', `/v1/subscribers/${id}`)).statusCode, 204)
  expectProblem(t, await stack.request('admin', 'DELETE', `/v1/subscribers/${id}`), 404, 'not-found')
  t.equal(await statusOf(stack, 'beta@example.org'), null)
  const audit = await stack.pool.query(`SELECT action, resource_id FROM audit_log WHERE action = 'subscriber.erase'`)
  t.same(audit.rows, [{ action: 'subscriber.erase', resource_id: id }])
})

t.test('addresses and tokens never reach the logs, even at debug level', async (t) => {
  const lines: string[] = []
  const logger = createLogger('debug', { write: (line: string) => { lines.push(line) } })
  const sink = await startSmtpSink(t)
  const databaseUrl = await createTestDatabase(t)
  const config = await testConfig(databaseUrl, { SMTP_URL: sink.url, PUBLIC_RATE_LIMIT: '1000', EMAIL_RETRY_SCHEDULE: '1' })
  const pool = createPool(databaseUrl, { max: 6 })
  const redis = createFailFastRedis(config.redisUrl)
  const app = await buildApp({ config, pool, redis, logger })
  const delivery = await startDeliveryWorkers({ config, pool, logger })
  t.teardown(async () => { await delivery.close(); await app.close(); redis.disconnect(); await pool.end() })

  await app.inject({ method: 'POST', url: '/v1/subscriptions', payload: { email: 'Secret.Person@example.org' } })
  await sink.waitFor('secret.person@example.org')
  const link = (await linksIn(sink.messages[0]!)).find((l) => l.includes('/confirm/'))!.replace(/#.*$/, '')
  const confirmToken = link.split('/').pop()!
  await app.inject({ method: 'GET', url: pathOf(link) })
  const confirmed = await app.inject({ method: 'POST', url: pathOf(link), headers: { accept: 'application/json' } })
  const manageToken = pathOf(confirmed.json().preferencesUrl).split('/').pop()!
  await app.inject({ method: 'GET', url: `/subscriptions/${manageToken}` })
  await app.inject({ method: 'GET', url: `/v1/subscriptions/${manageToken}/export` })
  await app.inject({ method: 'POST', url: `/subscriptions/${manageToken}/unsubscribe`, payload: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  await app.inject({ method: 'GET', url: `/subscriptions/${'B'.repeat(43)}` })

  const all = lines.join('')
  t.ok(lines.length > 5, `${lines.length} log lines captured`)
  t.match(all, /\/subscriptions\/\[redacted\]/, 'paths are logged with the token redacted')
  t.notMatch(all, /secret\.person/i, 'no address')
  t.notOk(all.includes(confirmToken), 'no confirmation token')
  t.notOk(all.includes(manageToken), 'no management token')
})
