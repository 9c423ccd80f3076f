// Console sign-in over HTTP (contract §9): enrolment links (one-time,
// 24 h, 15 min when sent again, void once replaced), passkey registration
// and usernameless sign-in verified by the server for real (a software
// authenticator answers), the session cookie's flags, CSRF (synchronizer
// token and Origin), idle and absolute timeouts, sign-out here and
// everywhere, disabled people, revoked passkeys, tenancy of the people
// admin, the API staying key-only, the audit log naming the person, and
// the public rate limit on the keyless ceremonies.
import t from 'tap'
import { buildTestApp, type TestApp } from './helpers/context.js'
import { ConsoleBrowser, createPerson, parseSetCookie } from './helpers/console.js'
import { liaoningAppeal } from './helpers/liaoning.js'

const ORIGIN = 'http://localhost:3000' // the test config's PUBLIC_BASE_URL

async function signedIn(ctx: TestApp, org: string, email: string, role: 'admin' | 'editor' | 'partner') {
  const enrolment = await createPerson(ctx.pool, ctx.config.publicBaseUrl, org, email, role)
  const browser = new ConsoleBrowser(ctx.app, ctx.config.publicBaseUrl)
  const res = await browser.enrol(enrolment.url)
  if (res.statusCode !== 200) throw new Error(`enrolment failed: ${res.statusCode} ${res.body}`)
  return { browser, person: enrolment.person, enrolment }
}

t.test('enrol through a one-time link, then sign in without a user name; the cookie is HttpOnly, SameSite=Strict, path /console', async (t) => {
  const ctx = await buildTestApp(t)
  const enrolment = await createPerson(ctx.pool, ctx.config.publicBaseUrl, 'Liaoning Watch', 'ana@example.org', 'editor')
  t.match(enrolment.url, /^http:\/\/localhost:3000\/console\/enrol\/[A-Za-z0-9_-]{43}$/, 'PUBLIC_BASE_URL/console/enrol/{token}')
  const { rows: stored } = await ctx.pool.query<{ h: string; hours: number }>(
    `SELECT encode(token_hash, 'hex') AS h, round(extract(epoch FROM expires_at - created_at) / 3600)::int AS hours FROM enrolment_tokens`)
  t.equal(stored[0]!.hours, 24, 'valid 24 h')
  t.notOk(JSON.stringify(stored).includes(enrolment.url.split('/').at(-1)!), 'only a hash of the token is stored')

  const browser = new ConsoleBrowser(ctx.app, ctx.config.publicBaseUrl)
  const path = new URL(enrolment.url).pathname
  const page = await browser.get(path)
  t.equal(page.statusCode, 200)
  t.match(page.body, /ana@example\.org/, 'the page says whose passkey it creates')
  t.equal(page.headers['cache-control'], 'no-store', 'a page with a token is never stored')
  t.match(String(page.headers['content-security-policy']), /script-src 'self'/, 'the strict CSP is kept')

  const done = await browser.enrol(enrolment.url, 'Work laptop')
  t.equal(done.statusCode, 200, done.body)
  t.same(done.json(), { location: '/console' })
  const cookie = parseSetCookie(String(([] as string[]).concat(done.headers['set-cookie'] ?? [])[0]))
  t.equal(cookie.name, 'ua_console')
  t.equal(cookie.attributes.httponly, true, 'HttpOnly')
  t.equal(cookie.attributes.samesite, 'Strict', 'SameSite=Strict')
  t.equal(cookie.attributes.path, '/console', 'sent to the console only, never to /v1')
  t.notOk('secure' in cookie.attributes, 'not Secure on an http PUBLIC_BASE_URL (it could not be sent back)')
  const { rows: sessions } = await ctx.pool.query<{ h: Buffer }>('SELECT token_hash AS h FROM console_sessions')
  t.notOk(sessions.some((s) => s.h.toString('base64url') === cookie.value), 'the session row holds a hash, not the cookie')

  const landing = await browser.get('/console')
  t.equal(landing.statusCode, 200)
  t.match(landing.body, /ana@example\.org/)
  t.match(landing.body, /Liaoning Watch/)
  t.match(landing.body, /<dd>Editor<\/dd>/)
  t.match(landing.body, /Work laptop/, 'the passkey, by the name given')
  t.notMatch(landing.body, /People of/, 'an editor does not see the people admin')

  const again = await browser.get(path)
  t.equal(again.statusCode, 410, 'the link worked once')
  t.match(again.body, /already been used/)
  const replay = await new ConsoleBrowser(ctx.app, ctx.config.publicBaseUrl).enrol(enrolment.url)
  t.equal(replay.statusCode, 410, 'and cannot register a second passkey')

  // A second browser with the same passkey signs in: no user name asked.
  const other = new ConsoleBrowser(ctx.app, ctx.config.publicBaseUrl, browser.authenticator)
  t.equal((await other.get('/console')).statusCode, 303, 'not signed in yet')
  const signIn = await other.signIn()
  t.equal(signIn.statusCode, 200, signIn.body)
  t.equal((await other.get('/console')).statusCode, 200, 'signed in')
  const { rows: used } = await ctx.pool.query<{ used: boolean }>('SELECT last_used_at IS NOT NULL AS used FROM passkeys')
  t.ok(used[0]!.used, 'the passkey\'s last use is recorded')
})

t.test('a WebAuthn challenge is single-use and bound to our origin; an unknown passkey is refused', async (t) => {
  const ctx = await buildTestApp(t)
  const { browser } = await signedIn(ctx, 'Liaoning Watch', 'ana@example.org', 'editor')
  const started = (await browser.postJson('/console/sign-in/options', {})).json()
  t.same(started.options.allowCredentials, [], 'discoverable credentials: no user name, no list of keys')
  t.equal(started.options.userVerification, 'required')
  t.equal(started.options.rpId, 'localhost', 'the relying party is PUBLIC_BASE_URL\'s host')
  const answer = browser.authenticator.authenticate(started.options)
  t.equal((await browser.postJson('/console/sign-in', { flow: started.flow, response: answer })).statusCode, 200)
  const replay = await browser.postJson('/console/sign-in', { flow: started.flow, response: answer })
  t.equal(replay.statusCode, 400, 'the same answer twice: refused')
  t.equal(replay.json().type, '/problems/passkey-not-verified')

  const phished = (await browser.postJson('/console/sign-in/options', {})).json()
  const elsewhere = await browser.postJson('/console/sign-in', { flow: phished.flow, response: browser.authenticator.authenticate(phished.options, { origin: 'https://console-login.example' }) })
  t.equal(elsewhere.statusCode, 400, 'an answer made for another origin (a phishing page) is refused')

  const stranger = new ConsoleBrowser(ctx.app, ctx.config.publicBaseUrl)
  stranger.authenticator.register({ challenge: 'x', user: { id: 'AAAA' } }) // a key this server never saw
  const unknown = await stranger.signIn()
  t.equal(unknown.statusCode, 401)
  t.equal(unknown.json().type, '/problems/passkey-not-accepted')
})

t.test('CSRF: a state change needs the session\'s token and our Origin', async (t) => {
  const ctx = await buildTestApp(t)
  const { browser } = await signedIn(ctx, 'Liaoning Watch', 'ana@example.org', 'editor')
  const csrf = await browser.csrf()
  const alive = async () => (await browser.get('/console')).statusCode === 200

  const noToken = await browser.postForm('/console/sign-out-everywhere', {})
  t.equal(noToken.statusCode, 403, 'no token: 403')
  const wrongToken = await browser.postForm('/console/sign-out-everywhere', { _csrf: 'x'.repeat(43) })
  t.equal(wrongToken.statusCode, 403, 'a wrong token: 403')
  const crossSite = await browser.postForm('/console/sign-out-everywhere', { _csrf: csrf }, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })
  t.equal(crossSite.statusCode, 403, 'another Origin, even with the token: 403')
  const nullOrigin = await browser.postForm('/console/sign-out-everywhere', { _csrf: csrf }, { origin: 'null' })
  t.equal(nullOrigin.statusCode, 403, 'Origin: null (a sandboxed or no-referrer page): 403')
  const sameSiteOtherOrigin = await browser.postForm('/console/sign-out-everywhere', { _csrf: csrf }, { 'sec-fetch-site': 'same-site' })
  t.equal(sameSiteOtherOrigin.statusCode, 403, 'Sec-Fetch-Site same-site (a sibling subdomain): 403')
  const json = await browser.postJson('/console/passkeys/options', {})
  t.equal(json.statusCode, 403, 'a JSON state change without the header: 403')
  t.equal(json.json().type, '/problems/csrf')
  const signedOutCeremony = await ctx.app.inject({ method: 'POST', url: '/console/sign-in/options', payload: {}, headers: { origin: 'https://evil.example' } })
  t.equal(signedOutCeremony.statusCode, 403, 'the signed-out ceremonies check the Origin too (login CSRF)')
  t.ok(await alive(), 'nothing of that signed anyone out')

  const withHeader = await browser.postJson('/console/passkeys/options', {}, { csrf })
  t.equal(withHeader.statusCode, 200, 'the header token works for JSON')
  const ok = await browser.postForm('/console/sign-out-everywhere', { _csrf: csrf })
  t.equal(ok.statusCode, 303, 'token and Origin: done')
  t.notOk(await alive(), 'signed out')
})

t.test('sessions: 30 min idle timeout, absolute expiry, sign-out, sign-out everywhere', async (t) => {
  const ctx = await buildTestApp(t)
  const { browser, person } = await signedIn(ctx, 'Liaoning Watch', 'ana@example.org', 'editor')
  const second = new ConsoleBrowser(ctx.app, ctx.config.publicBaseUrl, browser.authenticator)
  t.equal((await second.signIn()).statusCode, 200)
  const third = new ConsoleBrowser(ctx.app, ctx.config.publicBaseUrl, browser.authenticator)
  t.equal((await third.signIn()).statusCode, 200)
  const status = async (b: ConsoleBrowser) => (await b.get('/console')).statusCode

  await ctx.pool.query(`UPDATE console_sessions SET last_seen_at = now() - interval '29 minutes'`)
  t.equal(await status(browser), 200, '29 minutes idle: still signed in (and the clock starts again)')
  await ctx.pool.query(`UPDATE console_sessions SET last_seen_at = now() - interval '31 minutes' WHERE person_id = $1`, [person.id])
  const idle = await browser.get('/console')
  t.equal(idle.statusCode, 303, '31 minutes idle: signed out')
  t.equal(idle.headers.location, '/console/sign-in')
  t.match(String(idle.headers['set-cookie']), /ua_console=;/, 'and the dead cookie is cleared')

  t.equal((await browser.signIn()).statusCode, 200)
  await ctx.pool.query(`UPDATE console_sessions SET expires_at = now() - interval '1 second', last_seen_at = now()`)
  t.equal(await status(browser), 303, 'past the absolute expiry (12 h): signed out however active')
  const { rows } = await ctx.pool.query<{ hours: number }>(`SELECT round(extract(epoch FROM max(expires_at) - max(created_at)) / 3600)::int AS hours FROM console_sessions WHERE expires_at > now() - interval '1 minute'`)
  t.ok(rows[0]!.hours <= 12, 'sessions are made for 12 h at most')

  for (const b of [browser, second, third]) t.equal((await b.signIn()).statusCode, 200)
  const csrf = await second.csrf()
  t.equal((await second.postForm('/console/sign-out', { _csrf: csrf })).statusCode, 303)
  t.equal(await status(second), 303, 'sign-out ends this session')
  t.equal(await status(browser), 200, 'but no other')
  t.equal((await second.signIn()).statusCode, 200)
  t.equal((await browser.postForm('/console/sign-out-everywhere', { _csrf: await browser.csrf() })).statusCode, 303)
  for (const [name, b] of [['this', browser], ['second', second], ['third', third]] as const) {
    t.equal(await status(b), 303, `sign-out everywhere ends the ${name} session`)
  }
})

t.test('a disabled person is signed out at once and cannot sign in or enrol; admins act within their organisation only', async (t) => {
  const ctx = await buildTestApp(t)
  const admin = await signedIn(ctx, 'Liaoning Watch', 'admin@example.org', 'admin')
  const editor = await signedIn(ctx, 'Liaoning Watch', 'editor@example.org', 'editor')
  const foreign = await signedIn(ctx, 'Other NGO', 'someone@other.example', 'editor')
  const foreignAdmin = await signedIn(ctx, 'Other NGO', 'boss@other.example', 'admin')

  const landing = await admin.browser.get('/console')
  t.match(landing.body, /editor@example\.org/, 'the admin sees their organisation\'s people')
  t.notMatch(landing.body, /other\.example/, 'and no one else\'s')

  const csrf = await admin.browser.csrf()
  const across = await admin.browser.postForm(`/console/people/${foreign.person.id}/disable`, { _csrf: csrf })
  t.equal(across.statusCode, 404, 'another organisation\'s person: 404')
  t.equal((await foreign.browser.get('/console')).statusCode, 200, 'and they are untouched')
  const otherLink = await admin.browser.postForm(`/console/people/${foreign.person.id}/enrolment-link`, { _csrf: csrf })
  t.equal(otherLink.statusCode, 404, 'nor can the admin send them a link')

  const notAdmin = await editor.browser.postForm(`/console/people/${admin.person.id}/disable`, { _csrf: await editor.browser.csrf() })
  t.equal(notAdmin.statusCode, 403, 'an editor cannot disable anyone')
  const self = await admin.browser.postForm(`/console/people/${admin.person.id}/disable`, { _csrf: csrf })
  t.equal(self.statusCode, 409, 'an admin cannot lock themselves out')

  // A pending link of the editor dies with the account.
  const link = await admin.browser.postForm(`/console/people/${editor.person.id}/enrolment-link`, { _csrf: csrf })
  t.equal(link.statusCode, 200)
  const url = /<code class="link">([^<]+)<\/code>/.exec(link.body)![1]!
  const disabled = await admin.browser.postForm(`/console/people/${editor.person.id}/disable`, { _csrf: csrf })
  t.equal(disabled.statusCode, 303)
  t.equal(disabled.headers.location, '/console?done=person-disabled')
  t.equal((await editor.browser.get('/console')).statusCode, 303, 'the disabled person\'s session is dead at once')
  t.equal((await editor.browser.signIn()).statusCode, 401, 'their passkey no longer signs in')
  t.equal((await editor.browser.get(new URL(url).pathname)).statusCode, 410, 'their enrolment link no longer works')
  t.equal((await foreignAdmin.browser.get('/console')).statusCode, 200)
  const after = await admin.browser.get(disabled.headers.location as string)
  t.match(after.body, /The person is disabled/)
  t.match(after.body, /editor@example\.org · Editor · disabled/)
})

t.test('invitations and links sent again: 24 h, then 15 min, the older link void; tenancy of invitations', async (t) => {
  const ctx = await buildTestApp(t)
  const admin = await signedIn(ctx, 'Liaoning Watch', 'admin@example.org', 'admin')
  const csrf = await admin.browser.csrf()
  const invited = await admin.browser.postForm('/console/people', { _csrf: csrf, email: 'new@example.org', role: 'editor', displayName: 'Min-ji' })
  t.equal(invited.statusCode, 201, invited.body)
  const first = /<code class="link">([^<]+)<\/code>/.exec(invited.body)![1]!
  t.match(first, /^http:\/\/localhost:3000\/console\/enrol\//, 'the link is shown to the admin')
  const { rows: people } = await ctx.pool.query<{ organisation_id: string; role: string }>(`SELECT organisation_id, role FROM people WHERE email = 'new@example.org'`)
  t.same(people, [{ organisation_id: ctx.orgIds.ngo, role: 'editor' }], 'in the admin\'s own organisation')
  const twice = await admin.browser.postForm('/console/people', { _csrf: csrf, email: 'NEW@example.org', role: 'editor' })
  t.equal(twice.statusCode, 409, 'one account per address in an organisation')

  const { rows: [person] } = await ctx.pool.query<{ id: string }>(`SELECT id FROM people WHERE email = 'new@example.org'`)
  const resent = await admin.browser.postForm(`/console/people/${person!.id}/enrolment-link`, { _csrf: csrf })
  const second = /<code class="link">([^<]+)<\/code>/.exec(resent.body)![1]!
  const { rows: ttl } = await ctx.pool.query<{ minutes: number }>(
    `SELECT round(extract(epoch FROM expires_at - created_at) / 60)::int AS minutes FROM enrolment_tokens WHERE person_id = $1 ORDER BY created_at`, [person!.id])
  t.same(ttl.map((r) => r.minutes), [24 * 60, 15], '24 h, then 15 min when sent again')
  const newcomer = new ConsoleBrowser(ctx.app, ctx.config.publicBaseUrl)
  t.equal((await newcomer.get(new URL(first).pathname)).statusCode, 410, 'the first link is void once another is sent')
  t.equal((await newcomer.get(new URL(second).pathname)).statusCode, 200)

  await ctx.pool.query(`UPDATE enrolment_tokens SET expires_at = now() - interval '1 second' WHERE person_id = $1`, [person!.id])
  const expired = await newcomer.get(new URL(second).pathname)
  t.equal(expired.statusCode, 410, 'an expired link: 410')
  t.match(expired.body, /has expired/, 'with a page that says so')
  t.equal((await newcomer.enrol(second)).statusCode, 410, 'and it registers nothing')
  t.equal((await newcomer.get('/console/enrol/not-a-token')).statusCode, 404, 'a made-up link: 404 page')

  const partnerInvite = await admin.browser.postForm('/console/people', { _csrf: csrf, email: 'x@example.org', role: 'boss' })
  t.equal(partnerInvite.statusCode, 400, 'an unknown role is refused')
})

t.test('passkeys: add another, revoke one (not the last); revoking ends the sessions it opened', async (t) => {
  const ctx = await buildTestApp(t)
  const { browser, person } = await signedIn(ctx, 'Liaoning Watch', 'ana@example.org', 'editor')
  const csrf = await browser.csrf()
  const [first] = (await ctx.pool.query<{ id: string }>('SELECT id FROM passkeys')).rows
  const last = await browser.postForm(`/console/passkeys/${first!.id}/revoke`, { _csrf: csrf })
  t.equal(last.statusCode, 409, 'the only passkey cannot be revoked')

  const started = await browser.postJson('/console/passkeys/options', {}, { csrf })
  const { flow, options } = started.json()
  t.equal(options.excludeCredentials.length, 1, 'the passkey already registered is excluded')
  const added = await browser.postJson('/console/passkeys', { flow, response: browser.authenticator.register(options), name: 'Phone' }, { csrf })
  t.equal(added.statusCode, 200, added.body)
  t.match((await browser.get('/console')).body, /Phone/)

  // Signed in with the first passkey elsewhere; revoking it from here ends that session.
  const elsewhere = new ConsoleBrowser(ctx.app, ctx.config.publicBaseUrl, browser.authenticator)
  t.equal((await elsewhere.signIn({ credential: browser.authenticator.credentials[0]! })).statusCode, 200)
  const phone = new ConsoleBrowser(ctx.app, ctx.config.publicBaseUrl, browser.authenticator)
  t.equal((await phone.signIn({ credential: browser.authenticator.credentials[1]! })).statusCode, 200)
  const revoked = await phone.postForm(`/console/passkeys/${first!.id}/revoke`, { _csrf: await phone.csrf() })
  t.equal(revoked.statusCode, 303)
  t.equal(revoked.headers.location, '/console?done=passkey-revoked')
  t.equal((await elsewhere.get('/console')).statusCode, 303, 'the session opened with the revoked passkey ended')
  t.equal((await phone.get('/console')).statusCode, 200, 'the one opened with the other passkey did not')
  t.equal((await elsewhere.signIn({ credential: browser.authenticator.credentials[0]! })).statusCode, 401, 'the revoked passkey no longer signs in')
  const { rows } = await ctx.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM passkeys WHERE person_id = $1 AND revoked_at IS NULL', [person.id])
  t.equal(rows[0]!.n, 1)
})

t.test('the API stays key-only: a session cookie is no credential on /v1, a key none on /console', async (t) => {
  const ctx = await buildTestApp(t)
  const { browser } = await signedIn(ctx, 'Liaoning Watch', 'admin@example.org', 'admin')
  const cookie = `ua_console=${browser.cookie}`
  const audit = await ctx.app.inject({ method: 'GET', url: '/v1/audit-log', headers: { cookie } })
  t.equal(audit.statusCode, 401, 'an admin\'s session cookie does not read the audit log')
  const create = await ctx.app.inject({ method: 'POST', url: '/v1/appeals', headers: { cookie, origin: ORIGIN }, payload: { title: 'x' } })
  t.equal(create.statusCode, 401, 'nor writes an appeal')
  const draft = await ctx.request('editor', 'POST', '/v1/appeals', liaoningAppeal())
  t.equal(draft.statusCode, 201)
  const drafts = await ctx.app.inject({ method: 'GET', url: `/v1/appeals/${draft.json().id}`, headers: { cookie } })
  t.equal(drafts.statusCode, 404, 'nor sees a draft (the public read)')
  const keyOnConsole = await ctx.request('admin', 'GET', '/console')
  t.equal(keyOnConsole.statusCode, 303, 'an API key does not open the console')
})

t.test('the audit log names the person who acted (and the API\'s audit read shows it)', async (t) => {
  const ctx = await buildTestApp(t)
  const admin = await signedIn(ctx, 'Liaoning Watch', 'admin@example.org', 'admin')
  const csrf = await admin.browser.csrf()
  await admin.browser.postForm('/console/people', { _csrf: csrf, email: 'new@example.org', role: 'editor' })
  const res = await ctx.request('admin', 'GET', '/v1/audit-log?limit=100')
  t.equal(res.statusCode, 200)
  const entries = res.json().items as { action: string; personId: string | null; apiKeyId: string | null; actorRole: string }[]
  const byPerson = entries.filter((e) => e.personId === admin.person.id)
  t.same(new Set(byPerson.map((e) => e.action)), new Set(['passkey.create', 'session.create', 'person.create']), 'enrolment, sign-in and the invitation, by the person')
  t.ok(byPerson.every((e) => e.apiKeyId === null && e.actorRole === 'admin'), 'no key, the person\'s role')
  const cli = entries.find((e) => e.action === 'person.create' && e.personId === null)
  t.equal(cli?.actorRole, 'operator', 'create-user is the operator\'s')
})

t.test('signing in and enrolling count against the public rate limit per address', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_RATE_LIMIT: '3' })
  const browser = new ConsoleBrowser(ctx.app, ctx.config.publicBaseUrl)
  const statuses: number[] = []
  for (let i = 0; i < 4; i++) statuses.push((await browser.postJson('/console/sign-in/options', {})).statusCode)
  t.same(statuses, [200, 200, 200, 429], 'the fourth within the minute: 429')
})
