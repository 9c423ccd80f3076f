// The console's appeal lifecycle over HTTP (contract §3, §9; issue 11 item
// 3): two people in the console — one drafts the Liaoning appeal (a child
// is counted: sensitive), the other approves — then publish, a follow-up,
// closing with the outcome and withdrawal with a reason, each behind a
// confirmation that says what will happen and to how many supporters and
// partner endpoints (the numbers the fan-out then really sends); the pages
// that explain a refusal (approval required, self-approval, a changed
// appeal); the audit log naming the person; CSRF and roles; the email
// preview per language (the mail renderer's own subject and HTML, framed
// under its own sandboxing CSP); and live progress as server-sent events.
import t from 'tap'
import type { Actor } from '../src/auth/api-keys.js'
import { AppealService } from '../src/services/appeals.js'
import { renderAlert } from '../src/email/alert-message.js'
import { buildTestApp, type TestApp } from './helpers/context.js'
import { consoleSession, type ConsoleSession } from './helpers/console.js'
import { anAppeal, createPublished } from './helpers/liaoning.js'
import { FRENCH } from './helpers/public-site.js'
import { eventually, seedActiveSubscribers, startSupporterStack, type SupporterStack } from './helpers/supporters.js'
import { startReceiver } from './helpers/receiver.js'
import { createEndpoint } from './helpers/webhooks.js'

const ALL_APPEAL_EVENTS = ['appeal.published', 'appeal.updated', 'appeal.closed', 'appeal.withdrawn']

type Draft = Parameters<AppealService['create']>[1]
const draftOf = (overrides: Record<string, unknown> = {}) => anAppeal(overrides) as Draft

const actorOf = (s: ConsoleSession): Actor => ({ keyId: null, personId: s.person.id, organisationId: s.person.organisationId, role: s.person.role })

/** The version a confirmation form carries (the one the page showed). */
const versionOn = (page: string) => /<input type="hidden" name="_version" value="(\d+)">/.exec(page)?.[1] ?? ''

/** The counts a confirmation announces. */
const announced = (page: string) => {
  const m = /data-audience-supporters="(\d+)" data-audience-endpoints="(\d+)"/.exec(page)
  return m ? { supporters: Number(m[1]), endpoints: Number(m[2]) } : null
}

async function auditOf(ctx: TestApp, appealId: string): Promise<{ action: string; personId: string | null }[]> {
  const { rows } = await ctx.pool.query(
    `SELECT action, person_id AS "personId" FROM audit_log WHERE resource_id = $1 ORDER BY id`, [appealId])
  return rows
}

/** Five supporters whose filters match the Liaoning appeal (China; or everything), two who follow France only; a matching and a French endpoint. */
async function seedAudience(stack: SupporterStack, hookUrl: (path: string) => string) {
  await seedActiveSubscribers(stack, ['cn-1@example.org', 'cn-2@example.org', 'cn-3@example.org'], { countries: ['CN'] })
  await seedActiveSubscribers(stack, ['all-1@example.org', 'all-2@example.org'])
  await seedActiveSubscribers(stack, ['fr-1@example.org', 'fr-2@example.org'], { countries: ['FR'] })
  await createEndpoint(stack, { url: hookUrl('/liaoning'), eventTypes: ALL_APPEAL_EVENTS })
  await createEndpoint(stack, { url: hookUrl('/france'), eventTypes: ALL_APPEAL_EVENTS, countries: ['FR'] })
}

/** Rows the fan-out froze for an event type of the appeal, per channel. */
async function frozen(ctx: TestApp, appealId: string, type: string): Promise<{ email: number; webhook: number }> {
  const { rows } = await ctx.pool.query<{ channel: string; n: number }>(
    `SELECT d.channel, count(*)::int AS n FROM deliveries d JOIN events e ON e.id = d.event_id
      WHERE e.appeal_id = $1 AND e.type = $2 GROUP BY d.channel`, [appealId, type])
  return { email: rows.find((r) => r.channel === 'email')?.n ?? 0, webhook: rows.find((r) => r.channel === 'webhook')?.n ?? 0 }
}

t.test('two people: drafted by one, refused until the other approves; publish, follow-up, close and withdraw, each confirmed with the numbers the fan-out sends', async (t) => {
  const stack = await startSupporterStack(t)
  const receiver = await startReceiver(t)
  await seedAudience(stack, (path) => receiver.url(path))
  const ana = await consoleSession(stack, 'editor', { email: 'ana@example.org' })
  const ben = await consoleSession(stack, 'editor', { email: 'ben@example.org' })
  // Ana drafts it (as the console's editor does: AppealService with her as the actor).
  const draft = await new AppealService(stack.pool).create(actorOf(ana), draftOf())
  t.equal(draft.sensitive, true, 'a child is counted: sensitive')
  const url = `/console/appeals/${draft.id}`

  // ---- The panel, and publish refused for want of a second person -------------------------------
  const shown = await ana.request('GET', url)
  t.equal(shown.statusCode, 200)
  const panel = /<section id="actions"[\s\S]*?<\/section>/.exec(shown.body)?.[0] ?? ''
  t.match(panel, /A colleague must approve version 1 before it can be published/)
  t.match(panel, new RegExp(`href="${url}/approve">Approve version 1…`))
  t.match(panel, new RegExp(`href="${url}/publish">Publish…`))

  const blocked = await ana.request('GET', `${url}/publish`)
  t.equal(blocked.statusCode, 200)
  t.match(blocked.body, /<h1>Publish “China: seven North Koreans face forced return to torture”\?<\/h1>/)
  t.match(blocked.body, /A colleague must approve this version first/)
  t.match(blocked.body, /two people are needed to publish it/)
  t.notMatch(blocked.body, /<form method="post" action="[^"]*\/publish"/, 'no publish button while approval is missing')
  t.same(announced(blocked.body), { supporters: 5, endpoints: 1 }, 'who it would reach: 5 supporters, 1 endpoint')

  const refused = await ana.request('POST', `${url}/publish`, { _version: '1' })
  t.equal(refused.statusCode, 409, 'the service refuses: approval required')
  t.match(refused.body, /<h1>A colleague must approve this version first<\/h1>/)
  t.match(refused.body, /Nothing was published/)
  t.equal((await stack.request('editor', 'GET', `/v1/appeals/${draft.id}`)).json().status, 'draft')

  // ---- Ana cannot approve her own version -----------------------------------------------------------
  const approveConfirm = await ana.request('GET', `${url}/approve`)
  t.equal(approveConfirm.statusCode, 200)
  t.match(approveConfirm.body, /<h1>Approve version 1\?<\/h1>/)
  t.match(approveConfirm.body, /no supporter and no partner endpoint<\/strong> receives anything/)
  const self = await ana.request('POST', `${url}/approve`, { _version: versionOn(approveConfirm.body) })
  t.equal(self.statusCode, 409)
  t.match(self.body, /<h1>You cannot approve your own version<\/h1>/)
  t.match(self.body, /You made the content of version 1; two-person approval means that <strong>someone else<\/strong>/)
  t.equal((await stack.request('editor', 'GET', `/v1/appeals/${draft.id}`)).json().approval, null, 'not approved')

  // ---- Ben approves what he read ---------------------------------------------------------------------
  const benConfirm = await ben.request('GET', `${url}/approve`)
  const approved = await ben.request('POST', `${url}/approve`, { _version: versionOn(benConfirm.body) })
  t.equal(approved.statusCode, 303, approved.body.slice(0, 300))
  t.equal(approved.headers.location, `${url}#actions`)
  t.match((await stack.request('editor', 'GET', `/v1/appeals/${draft.id}`)).json().approval, { version: 1, approvedBy: { kind: 'person', id: ben.person.id } })

  // ---- Ana publishes: the confirmation's numbers are what the fan-out sends --------------------------------
  const publishConfirm = await ana.request('GET', `${url}/publish`)
  t.equal(publishConfirm.statusCode, 200)
  t.match(publishConfirm.body, /It becomes public <strong>at once<\/strong>/)
  t.match(publishConfirm.body, /It goes to <strong>5 supporters<\/strong> by email and <strong>1 partner endpoint<\/strong> by webhook\./)
  t.match(publishConfirm.body, /<button type="submit">Publish now to 5 supporters and 1 partner endpoint<\/button>/)
  const promised = announced(publishConfirm.body)!
  const published = await ana.request('POST', `${url}/publish`, { _version: versionOn(publishConfirm.body) })
  t.equal(published.statusCode, 303, published.body.slice(0, 300))
  t.equal(published.headers.location, `${url}/progress?done=published`)
  const sent = await eventually(async () => {
    const f = await frozen(stack, draft.id, 'appeal.published')
    return f.email > 0 && f.webhook > 0 ? f : null
  }, 20_000, 'the fan-out of the publication')
  t.same({ supporters: sent.email, endpoints: sent.webhook }, promised, 'the fan-out froze exactly the audience the confirmation announced')
  await eventually(async () => stack.sink.messages.length >= 5 && receiver.to('/liaoning').length >= 1, 20_000, 'mails and the webhook')
  t.same(stack.sink.messages.map((m) => m.to).flat().sort(),
    ['all-1@example.org', 'all-2@example.org', 'cn-1@example.org', 'cn-2@example.org', 'cn-3@example.org'], 'the five matching supporters were mailed')
  t.equal(receiver.to('/france').length, 0, 'the French endpoint was not')

  const progress = await eventually(async () => {
    const res = await ana.request('GET', `${url}/progress?done=published`)
    return /All 6 deliveries are done\./.test(res.body) ? res : null
  }, 20_000, 'the progress page saying done')
  t.match(progress.body, /The appeal is published\. Its alerts are on their way\./)
  t.match(progress.body, /<td data-count="email\.sent">5<\/td>/)
  t.match(progress.body, /<td data-count="webhook\.delivered">1<\/td>/)
  t.match(progress.body, /<progress id="progress-bar" max="6" value="6">100 %<\/progress>/)

  // ---- A follow-up: a field error, a stale page, then posted ---------------------------------------------
  const followConfirm = await ana.request('GET', `${url}/follow-up`)
  t.equal(followConfirm.statusCode, 200)
  t.match(followConfirm.body, /<h1>Post follow-up 1 to “China/)
  t.same(announced(followConfirm.body), { supporters: 5, endpoints: 1 })
  const version = versionOn(followConfirm.body)
  const empty = await ana.request('POST', `${url}/follow-up`, { _version: version, body: '' })
  t.equal(empty.statusCode, 400, 'the API\'s schema: a follow-up needs a body')
  t.match(empty.body, /<a href="#c-body">Follow-up: /, 'the error summary links to the field')
  t.match(empty.body, /id="c-body" name="body"[^>]*aria-invalid="true"/)
  const stale = await ana.request('POST', `${url}/follow-up`, { _version: String(Number(version) - 1), body: 'The group was moved.' })
  t.equal(stale.statusCode, 412, 'acting on a page that shows an older version is refused')
  t.match(stale.body, /<h1>The appeal has changed since you opened this page<\/h1>/)
  t.match(stale.body, new RegExp(`You acted on version ${Number(version) - 1}; it is now version ${version}\\.`))
  const followed = await ana.request('POST', `${url}/follow-up`, { _version: version, body: 'The group was moved to **Dandong**.' })
  t.equal(followed.statusCode, 303, followed.body.slice(0, 300))
  t.equal(followed.headers.location, `${url}/progress?done=follow-up`)
  t.same((await stack.request('editor', 'GET', `/v1/appeals/${draft.id}`)).json().updates.map((u: { body: string }) => u.body), ['The group was moved to **Dandong**.'])
  const followSent = await eventually(async () => {
    const f = await frozen(stack, draft.id, 'appeal.updated')
    return f.email > 0 && f.webhook > 0 ? f : null
  }, 20_000, 'the fan-out of the follow-up')
  t.same({ supporters: followSent.email, endpoints: followSent.webhook }, announced(followConfirm.body), 'the follow-up reached whom its confirmation said')

  // ---- Close with the outcome -------------------------------------------------------------------------
  const closeConfirm = await ana.request('GET', `${url}/close`)
  t.equal(closeConfirm.statusCode, 200)
  t.match(closeConfirm.body, /<select id="c-code" name="code"/)
  t.same(announced(closeConfirm.body), { supporters: 5, endpoints: 1 })
  const noCode = await ana.request('POST', `${url}/close`, { _version: versionOn(closeConfirm.body), code: '', note: '' })
  t.equal(noCode.statusCode, 400)
  t.match(noCode.body, /<a href="#c-code">Outcome: /)
  const closed = await ana.request('POST', `${url}/close`, { _version: versionOn(closeConfirm.body), code: 'released', note: 'All seven were released on 3 June.' })
  t.equal(closed.statusCode, 303, closed.body.slice(0, 300))
  t.match((await stack.request('editor', 'GET', `/v1/appeals/${draft.id}`)).json(), { status: 'closed', outcome: { code: 'released', note: 'All seven were released on 3 June.' } })
  const closeSent = await eventually(async () => {
    const f = await frozen(stack, draft.id, 'appeal.closed')
    return f.email > 0 && f.webhook > 0 ? f : null
  }, 20_000, 'the fan-out of the closing')
  t.same({ supporters: closeSent.email, endpoints: closeSent.webhook }, announced(closeConfirm.body))

  // ---- Withdraw with a reason ------------------------------------------------------------------------------
  const withdrawConfirm = await ana.request('GET', `${url}/withdraw`)
  t.equal(withdrawConfirm.statusCode, 200)
  t.same(announced(withdrawConfirm.body), { supporters: 0, endpoints: 1 }, 'withdrawal: the endpoint hears of it, no supporter is mailed')
  t.match(withdrawConfirm.body, /It disappears <strong>at once<\/strong> from the public site/)
  const noReason = await ana.request('POST', `${url}/withdraw`, { _version: versionOn(withdrawConfirm.body), reason: ' ' })
  t.equal(noReason.statusCode, 400)
  t.match(noReason.body, /<a href="#c-reason">Reason: /)
  const withdrawn = await ana.request('POST', `${url}/withdraw`, { _version: versionOn(withdrawConfirm.body), reason: 'The family asked us to take it down.' })
  t.equal(withdrawn.statusCode, 303, withdrawn.body.slice(0, 300))
  t.equal((await stack.request('editor', 'GET', `/v1/appeals/${draft.id}`)).json().status, 'withdrawn')
  const withdrawSent = await eventually(async () => {
    const f = await frozen(stack, draft.id, 'appeal.withdrawn')
    return f.webhook > 0 ? f : null
  }, 20_000, 'the fan-out of the withdrawal')
  t.same({ supporters: withdrawSent.email, endpoints: withdrawSent.webhook }, announced(withdrawConfirm.body))
  const { rows: reasons } = await stack.pool.query('SELECT withdrawal_reason FROM appeals WHERE id = $1', [draft.id])
  t.equal(reasons[0]?.withdrawal_reason, 'The family asked us to take it down.', 'the reason is kept')

  // ---- Every step in the audit log, with the person ------------------------------------------------------------
  const audit = await auditOf(stack, draft.id)
  const by = (action: string) => audit.filter((e) => e.action === action).map((e) => e.personId)
  t.same(by('appeal.approve'), [ben.person.id], 'Ben approved')
  t.same(by('appeal.publish'), [ana.person.id], 'Ana published')
  t.same(by('appeal.follow-up'), [ana.person.id])
  t.same(by('appeal.close'), [ana.person.id])
  t.same(by('appeal.withdraw'), [ana.person.id])
})

t.test('who may act: CSRF, partners, other organisations; a draft withdrawn tells no one', async (t) => {
  const ctx = await buildTestApp(t)
  const ana = await consoleSession(ctx, 'editor')
  const draft = await new AppealService(ctx.pool).create(actorOf(ana), draftOf({ peopleAtRisk: { total: 2, men: 2 } }))
  const url = `/console/appeals/${draft.id}`
  t.equal(draft.sensitive, false)

  const noToken = await ana.request('POST', `${url}/publish`, { _csrf: '', _version: '1' })
  t.equal(noToken.statusCode, 403, 'no CSRF token: refused')
  const otherSite = await ana.request('POST', `${url}/publish`, { _version: '1' }, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })
  t.equal(otherSite.statusCode, 403, 'another origin: refused')
  t.equal((await ctx.request('editor', 'GET', `/v1/appeals/${draft.id}`)).json().status, 'draft', 'nothing was published')

  const partner = await consoleSession(ctx, 'partner')
  t.equal((await partner.request('GET', `${url}/publish`)).statusCode, 403, 'a partner gets no confirmation page')
  t.equal((await partner.request('POST', `${url}/publish`, { _version: '1' })).statusCode, 403, 'nor may publish')
  t.equal((await partner.request('GET', `${url}/progress`)).statusCode, 403)
  const stranger = await consoleSession(ctx, 'editor', { org: 'Other NGO' })
  t.equal((await stranger.request('GET', `${url}/publish`)).statusCode, 404, 'another organisation\'s editor: not found')
  t.equal((await stranger.request('POST', `${url}/withdraw`, { _version: '1', reason: 'no' })).statusCode, 404)
  t.equal((await stranger.request('GET', `${url}/email/en`)).statusCode, 404)

  // Not sensitive, default policy: no approval needed; the confirmation has the button.
  const confirm = await ana.request('GET', `${url}/publish`)
  t.match(confirm.body, /<button type="submit">Publish now to 0 supporters and 0 partner endpoints<\/button>/)

  const withdraw = await ana.request('GET', `${url}/withdraw`)
  t.match(withdraw.body, /It was never public: <strong>nobody is told<\/strong> \(0 supporters, 0 partner endpoints\)/)
  t.same(announced(withdraw.body), null, 'no audience for a draft')
  const done = await ana.request('POST', `${url}/withdraw`, { _version: '1', reason: 'Duplicate.' })
  t.equal(done.statusCode, 303)
  t.equal((await ctx.pool.query(`SELECT 1 FROM events WHERE appeal_id = $1`, [draft.id])).rowCount, 0, 'no event for a withdrawn draft')
  const again = await ana.request('POST', `${url}/withdraw`, { _version: '2', reason: 'Again.' })
  t.equal(again.statusCode, 409, 'withdrawing twice: not possible now')
  t.match(again.body, /<h1>This is not possible now<\/h1>/)
})

t.test('the email preview: the renderer\'s own subject and HTML per language, framed under a sandboxing CSP', async (t) => {
  const ctx = await buildTestApp(t)
  const ana = await consoleSession(ctx, 'editor')
  const service = new AppealService(ctx.pool)
  const draft = await service.create(actorOf(ana), draftOf())
  const withFrench = (await service.putTranslation(actorOf(ana), draft.id, 'fr', FRENCH)).appeal
  const url = `/console/appeals/${draft.id}`

  const res = await ana.request('GET', `${url}/email`)
  t.equal(res.statusCode, 200, res.body.slice(0, 300))
  const { sensitive: _s, approval: _a, ...appeal } = withFrench
  const event = { type: 'appeal.published', data: { appeal } }
  const listId = `alerts.${ctx.config.mailFrom.replace(/^.*@/, '').replace(/>.*$/, '')}`
  for (const language of ['en', 'fr']) {
    const mail = renderAlert(event as never, language, { listId })
    const subject = mail.subject.replace(/&/g, '&amp;').replace(/'/g, '&#39;').replace(/"/g, '&quot;')
    t.ok(res.body.includes(`<span class="mail-subject" lang="${language}">${subject}</span>`), `the ${language} subject: ${mail.subject}`)
    t.match(res.body, new RegExp(`<iframe class="mail-preview" src="${url}/email/${language}" sandbox title="The email in [^"]+" loading="lazy"></iframe>`))
    const framed = await ana.request('GET', `${url}/email/${language}`)
    t.equal(framed.statusCode, 200)
    t.equal(framed.body, mail.spec.html!.replace(/\u0000(\w+)\u0000/g, '#$1'), `the ${language} HTML exactly as rendered for supporters (links to their own pages aside)`)
    const csp = String(framed.headers['content-security-policy'])
    t.match(csp, /default-src 'none'/, 'nothing loads from the preview')
    t.match(csp, /(^|; )sandbox($|;)/, 'sandboxed even when opened on its own')
    t.match(csp, /frame-ancestors 'self'/)
    t.notMatch(csp, /script-src/, 'no script source at all')
    t.equal(framed.headers['x-frame-options'], 'SAMEORIGIN')
  }
  t.match(res.body, /Chine : sept Nord-Coréens/, 'the French subject carries the French title')
  t.match(res.body, /Plain-text part/)
  t.equal((await ana.request('GET', `${url}/email/de`)).statusCode, 404, 'a language the appeal does not have')
  // The page itself keeps the console's CSP.
  t.match(String(res.headers['content-security-policy']), /frame-ancestors 'none'/)
})

t.test('live progress: one server-sent event stream per page, events as the counts change, ended when the fan-out is done', async (t) => {
  const stack = await startSupporterStack(t)
  await seedActiveSubscribers(stack, Array.from({ length: 12 }, (_, i) => `supporter-${i}@example.org`))
  const ana = await consoleSession(stack, 'editor')
  const published = await createPublished(stack)
  await stack.app.listen({ host: '127.0.0.1', port: 0 })
  const address = stack.app.server.address() as { port: number }
  const streamUrl = `http://127.0.0.1:${address.port}/console/appeals/${published.id}/progress/events`

  const read = async () => {
    const res = await fetch(streamUrl, { headers: { cookie: `ua_console=${ana.cookie}`, accept: 'text/event-stream' }, signal: AbortSignal.timeout(30_000) })
    t.equal(res.status, 200)
    t.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
    t.equal(res.headers.get('cache-control'), 'no-store')
    return res.text() // resolves only when the server ends the stream
  }
  const [one, two] = await Promise.all([read(), read()])
  for (const text of [one, two]) {
    const events = [...text.matchAll(/event: (\w+)\ndata: (.*)\n\n/g)].map((m) => ({ type: m[1]!, data: JSON.parse(m[2]!) }))
    t.ok(events.length >= 1, `events: ${events.map((e) => e.type).join(', ')}`)
    const last = events.at(-1)!
    t.equal(last.type, 'done', 'the stream ends with "done"')
    t.match(last.data, { appealId: published.id, total: 12, pending: 0, done: true, channels: { email: { sent: 12 } } })
    const keys = events.map((e) => JSON.stringify([e.data.channels, e.data.pending]))
    t.equal(new Set(keys).size, keys.length, 'an event only when the counts changed')
  }

  // Done already: a new page's stream says so at once and ends.
  const late = await read()
  t.match(late, /^retry: 5000\n\nevent: done\n/)

  // Without a session: no stream.
  const anonymous = await fetch(streamUrl, { redirect: 'manual', signal: AbortSignal.timeout(10_000) })
  t.equal(anonymous.status, 303)
  await anonymous.body?.cancel()
})
