// Alert mail end to end: staff publish → outbox relay → fan-out → email
// queue → SMTP sink. Who gets which mail (filters), in which language, with
// which headers (parsed from the real message, DKIM verified), one-click
// unsubscribe with the bodies real clients send, SMTP 550 and 452, and an
// unsubscribe while a fan-out is running.
import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import type { ParsedMail } from 'mailparser'
import { EmailChannel } from '../src/email/channel.js'
import { createEmailQueue } from '../src/email/queue.js'
import { anAppeal, approve, createDraft, createPublished } from './helpers/liaoning.js'
import {
  emailProgress, eventually, pathOf, seedActiveSubscribers, startSupporterStack, subscribeAndConfirm,
  verifyDkim, type SupporterStack,
} from './helpers/supporters.js'

const { privateKey, publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' },
})
const DKIM = { DKIM_DOMAIN: 'alerts.example.org', DKIM_SELECTOR: 'ua2026', DKIM_PRIVATE_KEY: privateKey, MAIL_FROM: 'Urgent Appeals <alerts@alerts.example.org>' }

/** A header's value as written (unfolded): mailparser folds List-* headers into one `list` object. */
function header(parsed: ParsedMail, name: string): string | undefined {
  const line = parsed.headerLines.find((h) => h.key === name.toLowerCase())?.line
  return line?.slice(line.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' ').trim()
}

/** Every alert (not confirmation) mail to an address. */
async function alertsTo(stack: SupporterStack, email: string) {
  const out = []
  for (const m of stack.sink.to(email)) {
    const parsed = await m.parsed()
    if (header(parsed, 'list-id')) out.push({ raw: m.raw, parsed })
  }
  return out
}

/** Waits until no email delivery of the appeal has work left. */
async function settled(stack: SupporterStack, appealId: string, expectTotal: number) {
  return eventually(async () => {
    const counts = await emailProgress(stack, appealId)
    const total = Object.values(counts).reduce((a, b) => a + b, 0)
    const busy = (counts.pending ?? 0) + (counts.sending ?? 0) + (counts.retrying ?? 0)
    return total === expectTotal && busy === 0 ? counts : undefined
  }, 20_000, `email deliveries of ${appealId} settled`)
}

t.test('filters, translations, layout and every header of the real message', async (t) => {
  const stack = await startSupporterStack(t, DKIM)
  const en = await subscribeAndConfirm(stack, 'en@example.org')
  const fr = await subscribeAndConfirm(stack, 'fr@example.org', { language: 'fr', countries: ['CN'] })
  await subscribeAndConfirm(stack, 'ko@example.org', { language: 'ko', countries: ['KP'], minUrgency: 'high' })
  await subscribeAndConfirm(stack, 'zh@example.org', { language: 'zh-Hans', themes: ['torture'] })
  await subscribeAndConfirm(stack, 'es@example.org', { language: 'es', countries: ['MX'] })
  await subscribeAndConfirm(stack, 'themes@example.org', { themes: ['death-penalty'] })

  const draft = await createDraft(stack)
  for (const [language, body] of [
    ['fr', { title: 'Chine : sept Nord-Coréens risquent un renvoi forcé', summary: 'Sept personnes détenues au Liaoning.', body: 'Arrêtées le **28 avril 2019**.', asks: ['Ne renvoyez pas les sept Nord-Coréens.'] }],
    ['ko', { title: '중국: 북한 주민 7명 강제 송환 위기', summary: '랴오닝성에 구금된 7명.', body: '2019년 4월 28일 체포.', asks: ['7명을 강제 송환하지 마십시오.'] }],
  ] as const) {
    const res = await stack.request('editor', 'PUT', `/v1/appeals/${draft.id}/translations/${language}`, body)
    t.ok([200, 201].includes(res.statusCode), `translation ${language}`)
  }
  await approve(stack, draft.id)
  t.equal((await stack.request('editor', 'POST', `/v1/appeals/${draft.id}/publish`)).statusCode, 200)
  const counts = await settled(stack, draft.id, 4)
  t.same(counts, { sent: 4 }, 'progress: four sent')

  t.equal((await alertsTo(stack, 'es@example.org')).length, 0, 'another country: nothing')
  t.equal((await alertsTo(stack, 'themes@example.org')).length, 0, 'another theme: nothing')
  const subjects: Record<string, string> = {}
  for (const who of ['en', 'fr', 'ko', 'zh']) {
    const mails = await alertsTo(stack, `${who}@example.org`)
    t.equal(mails.length, 1, `${who}: exactly one alert`)
    subjects[who] = mails[0]!.parsed.subject ?? ''
  }
  t.same(subjects, {
    en: 'Urgent action: China: seven North Koreans face forced return to torture',
    fr: 'Action urgente : Chine : sept Nord-Coréens risquent un renvoi forcé',
    ko: '긴급 행동: 중국: 북한 주민 7명 강제 송환 위기',
    zh: '紧急行动：China: seven North Koreans face forced return to torture',
  }, 'the translation when there is one; fixed wording always in the supporter\'s language')

  const [mail] = await alertsTo(stack, 'fr@example.org')
  const { parsed, raw } = mail!
  const unsubscribeUrl = `http://localhost:3000/subscriptions/${fr.manageToken}/unsubscribe`
  t.equal(header(parsed, 'list-unsubscribe'), `<${unsubscribeUrl}>`, 'List-Unsubscribe')
  t.equal(header(parsed, 'list-unsubscribe-post'), 'List-Unsubscribe=One-Click', 'List-Unsubscribe-Post')
  t.equal(header(parsed, 'list-id'), 'Urgent Appeals alerts <alerts.alerts.example.org>', 'List-Id')
  t.equal(header(parsed, 'precedence'), 'bulk')
  t.equal(parsed.headers.get('auto-submitted'), 'auto-generated')
  t.equal(parsed.headers.get('content-language'), 'fr')
  t.equal(parsed.from?.value[0]?.address, 'alerts@alerts.example.org')
  t.same(parsed.to && !Array.isArray(parsed.to) ? parsed.to.value.map((v) => v.address) : [], ['fr@example.org'], 'one recipient per message')
  t.match(parsed.messageId, /^<d\d+\.msg_[0-9a-z]{26}@alerts\.example\.org>$/)
  const dkim = verifyDkim(raw, publicKey)
  t.ok(dkim.ok, `DKIM signature verifies (${dkim.reason ?? 'ok'})`)
  t.equal(dkim.tags.d, 'alerts.example.org')
  t.equal(dkim.tags.s, 'ua2026')
  t.match(dkim.tags.h?.toLowerCase(), /list-unsubscribe-post/, 'DKIM covers List-Unsubscribe-Post')
  t.ok(raw.toString().split('\r\n').every((line) => line.length <= 998), 'no line over 998 octets')

  const text = parsed.text ?? ''
  const htmlPart = String(parsed.html)
  for (const [name, part] of [['text', text], ['html', htmlPart]] as const) {
    t.ok(part.includes(unsubscribeUrl), `${name}: visible unsubscribe link`)
    t.ok(part.includes(`http://localhost:3000/subscriptions/${fr.manageToken}`), `${name}: preferences link`)
    t.match(part, /Xi Jinping/, `${name}: whom to write to`)
    t.match(part, /Ne renvoyez pas les sept Nord-Coréens/, `${name}: the French asks`)
    t.match(part, /Merci d’agir avant le 30 juin 2099/, `${name}: the deadline, in French`)
  }
  t.match(htmlPart, /<strong>28 avril 2019<\/strong>/, 'Markdown rendered in HTML')
  t.match(htmlPart, /<ol[^>]*><li>Ne renvoyez pas/, 'asks as a list')
  t.notMatch(htmlPart, /<img|<script|<link |url\(/i, 'no images, scripts or remote resources')
  t.notMatch(text, /<strong>|\*\*/, 'plain text is plain')
  const [enMail] = await alertsTo(stack, 'en@example.org')
  t.ok((enMail!.parsed.text ?? '').includes(`/subscriptions/${en.manageToken}/unsubscribe`), 'each recipient gets their own links')
  t.notOk((enMail!.parsed.text ?? '').includes(fr.manageToken), 'and nobody else\'s')

  // Counters reach Redis within half a second of the outcome.
  const metrics = await eventually(async () => {
    const body = (await stack.request(null, 'GET', '/metrics')).body
    return /ua_email_deliveries_total\{status="sent"\} 4/.test(body) ? body : undefined
  }, 5000, 'four sent in the metrics')
  t.match(metrics, /ua_email_queue_depth\{state="waiting"\} \d+/)

  // Urgency filter: a normal-urgency appeal about KP reaches en only (ko wants high+, zh torture, fr CN).
  const normal = await createPublished(stack, anAppeal({ urgency: 'normal', countries: ['KP'], subdivisions: [], themes: ['detention'] }))
  await settled(stack, normal.id, 1)
  t.equal((await alertsTo(stack, 'en@example.org')).length, 2)
  t.equal((await alertsTo(stack, 'ko@example.org')).length, 1, 'below the minimum urgency: nothing')

  // Follow-up and outcome mail; a withdrawal sends nothing.
  t.equal((await stack.request('editor', 'POST', `/v1/appeals/${draft.id}/updates`, { body: 'The seven were moved to **Dandong**.' })).statusCode, 201)
  await settled(stack, draft.id, 8)
  const update = (await alertsTo(stack, 'fr@example.org'))[1]!.parsed
  t.equal(update.subject, 'Mise à jour : Chine : sept Nord-Coréens risquent un renvoi forcé')
  t.match(update.text, /Mise à jour 1\s+The seven were moved to Dandong\./)
  t.equal((await stack.request('editor', 'POST', `/v1/appeals/${draft.id}/close`, { outcome: { code: 'released', note: 'All seven reached Seoul.' } })).statusCode, 200)
  await settled(stack, draft.id, 12)
  const closed = (await alertsTo(stack, 'ko@example.org'))[2]!.parsed
  t.equal(closed.subject, '결과: 중국: 북한 주민 7명 강제 송환 위기')
  t.match(closed.text, /결과: 석방/)
  t.notMatch(closed.text, /1분 만에 행동하기/, 'no call to act on a closed appeal')

  t.equal((await stack.request('editor', 'POST', `/v1/appeals/${normal.id}/withdraw`, { reason: 'Safety of the family' })).statusCode, 200)
  await eventually(async () => {
    const { rows } = await stack.pool.query(`SELECT dispatched_at FROM events WHERE type = 'appeal.withdrawn'`)
    return rows[0]?.dispatched_at ? true : undefined
  }, 10_000, 'withdrawal relayed')
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.same(await emailProgress(stack, normal.id), { sent: 1 }, 'no mail for a withdrawal')
})

t.test('one-click unsubscribe with the bodies real clients post, effective at once', async (t) => {
  const stack = await startSupporterStack(t)
  const people = ['form@example.org', 'multipart@example.org', 'empty@example.org', 'stays@example.org']
  for (const email of people) await subscribeAndConfirm(stack, email, { language: 'es' })
  const first = await createPublished(stack)
  await settled(stack, first.id, 4)

  const bodies: Record<string, { payload?: string; headers: Record<string, string> }> = {
    'form@example.org': { payload: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    'multipart@example.org': {
      payload: '--XyZ\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--XyZ--\r\n',
      headers: { 'content-type': 'multipart/form-data; boundary=XyZ' },
    },
    'empty@example.org': { headers: {} },
  }
  for (const [email, body] of Object.entries(bodies)) {
    const [mail] = await alertsTo(stack, email)
    const target = /^<(.+)>$/.exec(header(mail!.parsed, 'list-unsubscribe') ?? '')![1]!
    const res = await stack.app.inject({ method: 'POST', url: pathOf(target), headers: body.headers, ...(body.payload ? { payload: body.payload } : {}) })
    t.equal(res.statusCode, 200, `${email}: 200`)
    t.notOk(res.headers.location, `${email}: no redirect`)
    t.match(res.body, /Te has dado de baja/, `${email}: a page in the supporter's language`)
    const again = await stack.app.inject({ method: 'POST', url: pathOf(target), headers: body.headers, ...(body.payload ? { payload: body.payload } : {}) })
    t.equal(again.statusCode, 200, `${email}: posting twice is harmless`)
  }
  const { rows } = await stack.pool.query<{ email: string; status: string }>('SELECT email, status FROM subscriptions ORDER BY email')
  t.same(rows.map((r) => `${r.email}:${r.status}`), ['empty@example.org:unsubscribed', 'form@example.org:unsubscribed', 'multipart@example.org:unsubscribed', 'stays@example.org:active'])
  const { rows: ledger } = await stack.pool.query(`SELECT source, count(*)::int AS n FROM consent_ledger WHERE action = 'unsubscribe' GROUP BY source`)
  t.same(ledger, [{ source: 'one-click', n: 3 }], 'recorded once each')

  const second = await createPublished(stack, anAppeal({ title: 'A second appeal' }))
  await settled(stack, second.id, 1)
  t.equal((await alertsTo(stack, 'stays@example.org')).length, 2)
  for (const email of Object.keys(bodies)) t.equal((await alertsTo(stack, email)).length, 1, `${email}: nothing after leaving`)
})

t.test('SMTP 550 suppresses the address; 452 is retried on the schedule', async (t) => {
  const stack = await startSupporterStack(t, { EMAIL_RETRY_SCHEDULE: '1,1' })
  for (const email of ['bounce@example.org', 'later@example.org', 'never@example.org', 'fine@example.org']) await subscribeAndConfirm(stack, email)
  stack.sink.fail('bounce@example.org', 550)
  stack.sink.fail('later@example.org', 452, 1)
  stack.sink.fail('never@example.org', 452)
  const appeal = await createPublished(stack)
  const counts = await settled(stack, appeal.id, 4)
  t.same(counts, { sent: 2, failed: 2 })

  const { rows } = await stack.pool.query<{ email: string; status: string; attempts: number; last_error: string | null }>(
    `SELECT s.email, d.status, d.attempts, d.last_error FROM deliveries d JOIN subscriptions s ON s.id = d.recipient_id
      WHERE d.channel = 'email' ORDER BY s.email`)
  const by = Object.fromEntries(rows.map((r) => [r.email, r]))
  t.match(by['bounce@example.org'], { status: 'failed', attempts: 1, last_error: /^SMTP 550/ }, '550: one attempt, failed')
  t.match(by['later@example.org'], { status: 'sent', attempts: 2 }, '452 once: sent on the retry')
  t.match(by['never@example.org'], { status: 'failed', attempts: 3, last_error: /^SMTP 452/ }, '452 always: first try + two retries, then failed')
  t.match(by['fine@example.org'], { status: 'sent', attempts: 1 })
  t.notMatch(JSON.stringify(rows.map((r) => r.last_error)), /@/, 'no address in the stored errors')
  t.equal((await alertsTo(stack, 'later@example.org')).length, 1)
  const suppressed = await stack.pool.query(`SELECT s.email FROM email_suppressions x JOIN subscriptions s ON s.email_hash = x.email_hash WHERE x.reason = 'hard-bounce'`)
  t.same(suppressed.rows, [{ email: 'bounce@example.org' }], 'only the 5xx address is suppressed')

  const rejectionsBefore = stack.sink.rejections.filter((r) => r.address === 'bounce@example.org').length
  const next = await createPublished(stack, anAppeal({ title: 'Another appeal' }))
  await settled(stack, next.id, 3)
  t.equal(stack.sink.rejections.filter((r) => r.address === 'bounce@example.org').length, rejectionsBefore, 'a suppressed address is not tried again')
  const metrics = await eventually(async () => {
    const body = (await stack.request(null, 'GET', '/metrics')).body
    return /ua_email_suppressed_addresses\{reason="hard-bounce"\} 1/.test(body) && /ua_email_deliveries_total\{status="failed"\} 3/.test(body) ? body : undefined
  }, 5000, 'the suppression gauge recounted')
  t.match(metrics, /ua_email_deliveries_total\{status="failed"\} 3/)
  t.match(metrics, /ua_email_deliveries_total\{status="retrying"\} [1-9]/)
})

t.test('an unsubscribe during a running fan-out stops the rest of it', async (t) => {
  // 25 mails a second: 300 recipients take twelve seconds, in chunks of 25 in sign-up order.
  const stack = await startSupporterStack(t, { EMAIL_MAX_PER_SECOND: '25' })
  const emails = Array.from({ length: 300 }, (_, i) => `fan${String(i).padStart(3, '0')}@example.org`)
  const tokens = await seedActiveSubscribers(stack, emails)
  const appeal = await createPublished(stack)
  await stack.sink.waitForCount(1, 15_000)
  const leaving = emails.slice(200)
  for (const email of leaving) {
    const res = await stack.request(null, 'POST', `/subscriptions/${tokens.get(email)}/unsubscribe`, 'List-Unsubscribe=One-Click', { 'content-type': 'application/x-www-form-urlencoded' })
    if (res.statusCode !== 200) t.fail(`unsubscribe ${email}: ${res.statusCode}`)
  }
  const { rows: [due] } = await stack.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM deliveries WHERE channel = 'email' AND status IN ('pending', 'sending', 'retrying')`)
  t.ok(due!.n > 0, `the hundred unsubscribes landed while the fan-out was still running (${due!.n} deliveries still due)`)
  const counts = await settled(stack, appeal.id, 300)
  t.same(counts, { sent: 200, suppressed: 100 })
  const received = new Map<string, number>()
  for (const m of stack.sink.messages) for (const to of m.to) received.set(to, (received.get(to) ?? 0) + 1)
  t.equal(leaving.filter((e) => received.has(e)).length, 0, 'none of those who left got the alert')
  t.ok(emails.slice(0, 200).every((e) => received.get(e) === 1), 'everyone else got exactly one')
})

t.test('the reconciler re-sends what lost its job: a queued delivery, a stuck one, a confirmation', async (t) => {
  const stack = await startSupporterStack(t)
  await seedActiveSubscribers(stack, ['first@example.org', 'lost@example.org', 'stuck@example.org'])
  await stack.pool.query(`UPDATE subscriptions SET status = 'pending' WHERE email <> 'first@example.org'`)
  const appeal = await createPublished(stack)
  await settled(stack, appeal.id, 1)
  await stack.pool.query(`UPDATE subscriptions SET status = 'active'`)
  // As if Redis had been flushed: rows frozen and queued minutes ago, one
  // mid-send when its worker died, and a confirmation never handed to SMTP.
  const { rows: [event] } = await stack.pool.query<{ id: string }>(`SELECT id FROM events WHERE appeal_id = $1`, [appeal.id])
  await stack.pool.query(
    `INSERT INTO deliveries (event_id, channel, recipient_id, status, queued_at, updated_at)
     SELECT $1, 'email', id, CASE WHEN email = 'lost@example.org' THEN 'pending' ELSE 'sending' END,
            now() - interval '20 minutes', now() - interval '20 minutes'
       FROM subscriptions WHERE email IN ('lost@example.org', 'stuck@example.org')`, [event!.id])
  await stack.request(null, 'POST', '/v1/subscriptions', { email: 'waiting@example.org' })
  await stack.sink.waitFor('waiting@example.org')
  await eventually(async () => (await stack.pool.query(`SELECT 1 FROM subscriptions WHERE email = 'waiting@example.org' AND confirmation_mailed_at IS NOT NULL`)).rowCount === 1, 5000, 'first confirmation recorded')
  await stack.pool.query(`UPDATE subscriptions SET confirmation_mailed_at = NULL, confirmation_sent_at = now() - interval '5 minutes' WHERE email = 'waiting@example.org'`)

  const queue = createEmailQueue(stack.redis, stack.config.queuePrefix)
  t.teardown(() => queue.close())
  const channel = new EmailChannel({ pool: stack.pool, queue, maxPerSecond: 0, retryScheduleSeconds: [1] })
  // The scheduled reconciler may get there first; either way it is this code that runs.
  t.ok(await channel.reconcile() <= 3, 'reconcile runs')
  await settled(stack, appeal.id, 3)
  t.equal((await alertsTo(stack, 'lost@example.org')).length, 1, 'the lost delivery arrives')
  t.equal((await alertsTo(stack, 'stuck@example.org')).length, 1, 'the stuck one too (at least once)')
  await eventually(async () => stack.sink.to('waiting@example.org').length === 2, 10_000, 'the confirmation again')
  t.equal(await channel.reconcile(), 0, 'nothing left to do')
})
