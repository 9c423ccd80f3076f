// What a supporter's alert mail says and how it threads, read from real
// MIME (renderAlert → MimeTemplate → mailparser, and once through the
// whole pipeline into the SMTP sink): References / In-Reply-To only when
// there is a first alert to thread under, never an empty header, never a
// header injected through the slot; an update of only the deadline, the
// urgency or the countries as a one-line note in the supporter's language;
// a translation without a body or asks showing the original's, marked
// with the original's language.
import t from 'tap'
import { simpleParser, type ParsedMail } from 'mailparser'
import type { Appeal } from '../src/schemas/appeal.js'
import {
  isMailworthy, renderAlert, SLOT_PREFERENCES, SLOT_THREAD_ROOT, SLOT_UNSUBSCRIBE, type AlertEvent, type AlertOptions,
} from '../src/email/alert-message.js'
import { MimeTemplate } from '../src/email/mime.js'
import { anAppeal, approve, createDraft, createPublished } from './helpers/liaoning.js'
import { eventually, startSupporterStack, subscribeAndConfirm, type SupporterStack } from './helpers/supporters.js'

const FROM = 'Urgent Appeals <alerts@alerts.example.org>'
const ROOT = '<d41.msg_01j0000000000000000000000a@alerts.example.org>'
const MANAGE = 'https://appeals.example.org/subscriptions/tok123'

/** The seed appeal as the API returns a published one. */
function published(overrides: Partial<Appeal> = {}): Appeal {
  return {
    ...anAppeal(), reference: 'UA 001/19',
    id: '0191b9a0-0000-7000-8000-000000000001', status: 'published', version: 3,
    embargoUntil: null, scheduledPublishAt: null, translations: [], updates: [], outcome: null,
    createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-02T00:00:00.000Z', publishedAt: '2026-01-01T00:00:00.000Z', closedAt: null,
    ...overrides,
  } as Appeal
}

const updated = (appeal: Appeal, changes: string[], update?: { number: number; body: string }): AlertEvent =>
  ({ type: 'appeal.updated', data: { appeal, changes, ...(update ? { update } : {}) } })

/** One supporter's mail, rendered and parsed the way their mail client would. */
async function mail(event: AlertEvent, language: string, threadRoot = '', options: Partial<AlertOptions> = {}): Promise<{ raw: string; parsed: ParsedMail }> {
  const message = renderAlert(event, language, { listId: 'alerts.alerts.example.org', ...options })
  const template = new MimeTemplate({ from: FROM, ...message.spec })
  const raw = template.render({
    to: 'supporter@example.net', messageId: 'd42.msg_01j0000000000000000000000b@alerts.example.org',
    slots: { [SLOT_PREFERENCES]: MANAGE, [SLOT_UNSUBSCRIBE]: `${MANAGE}/unsubscribe`, [SLOT_THREAD_ROOT]: threadRoot },
  })
  return { raw: raw.toString('latin1'), parsed: await simpleParser(raw) }
}

const headerNames = (raw: string) => raw.slice(0, raw.indexOf('\r\n\r\n')).split(/\r\n(?![ \t])/).map((l) => l.slice(0, l.indexOf(':')).toLowerCase())

t.test('References and In-Reply-To name the first alert, and only when there is one', async (t) => {
  const event: AlertEvent = updated(published(), ['updates'], { number: 1, body: 'The seven were moved to **Dandong**.' })

  const reply = await mail(event, 'en', ROOT)
  t.equal(reply.parsed.inReplyTo, ROOT, 'In-Reply-To: the first alert')
  t.same([reply.parsed.references].flat(), [ROOT], 'References: the first alert')
  t.equal(headerNames(reply.raw).filter((n) => n === 'references').length, 1, 'one References line')

  const first = await mail(event, 'en', '')
  t.equal(first.parsed.inReplyTo, undefined, 'the first alert replies to nothing')
  t.equal(first.parsed.references, undefined)
  t.notOk(headerNames(first.raw).some((n) => n === 'references' || n === 'in-reply-to'), 'no empty References or In-Reply-To line')
  t.notMatch(first.raw, /^(References|In-Reply-To):/im)

  const forged = await mail(event, 'en', `${ROOT}\r\nBcc: everyone@example.net\r\n\r\nforged body`)
  t.notOk(headerNames(forged.raw).includes('bcc'), 'a CR/LF in the slot cannot add a header')
  t.equal(headerNames(forged.raw).filter((n) => n === 'references').length, 1)
  t.match(forged.parsed.text, /The seven were moved to Dandong/, 'nor replace the body')

  for (const { raw } of [reply, first, forged]) {
    const [head, ...body] = raw.split('\r\n\r\n')
    t.ok(head!.split('\r\n').every((l) => l.length <= 998), 'header lines within 998 octets')
    t.ok(body.join('\r\n\r\n').split('\r\n').every((l) => l.length <= 76), 'body lines within 76 characters')
  }
})

t.test('a deadline or urgency change alone is a one-line note in the supporter\'s language', async (t) => {
  const appeal = published({ actionDeadline: '2099-07-31' })
  const expected: Record<string, [string, string]> = {
    en: ['Update: China: seven North Koreans face forced return to torture', 'The deadline for action is now July 31, 2099.'],
    fr: ['Mise à jour : China: seven North Koreans face forced return to torture', 'La date limite pour agir est désormais le 31 juillet 2099.'],
    es: ['Actualización: China: seven North Koreans face forced return to torture', 'El plazo para actuar vence ahora el 31 de julio de 2099.'],
    ko: ['업데이트: China: seven North Koreans face forced return to torture', '행동 마감일이 2099년 7월 31일로 변경되었습니다.'],
    'zh-Hans': ['最新进展：China: seven North Koreans face forced return to torture', '行动截止日期已改为2099年7月31日。'],
  }
  for (const [language, [subject, line]] of Object.entries(expected)) {
    const { parsed } = await mail(updated(appeal, ['actionDeadline']), language, ROOT)
    const text = parsed.text ?? ''
    const htmlPart = String(parsed.html)
    t.equal(parsed.subject, subject, `${language}: subject`)
    t.ok(text.includes(line) && htmlPart.includes(line), `${language}: says what changed: ${line}`)
    t.notMatch(text, /Chinese authorities apprehended|Do not forcibly return|Xi Jinping|Three women, three men/, `${language}: not the whole appeal again`)
    t.notMatch(htmlPart, /Chinese authorities apprehended|Do not forcibly return|Xi Jinping/, `${language}: nor in HTML`)
    t.ok(text.includes(`${MANAGE}/unsubscribe`) && htmlPart.includes(`${MANAGE}/unsubscribe`), `${language}: visible unsubscribe link`)
    t.ok(text.includes(MANAGE) && htmlPart.includes(`href="${MANAGE}"`), `${language}: preferences link`)
    t.match(htmlPart, new RegExp(`<html lang="${language}">`), `${language}: the note is in the supporter's language`)
    t.equal(parsed.headers.get('content-language'), language)
    t.equal(parsed.inReplyTo, ROOT, `${language}: threads under the first alert`)
    const list = parsed.headers.get('list') as { unsubscribe?: { url: string }; id?: { id: string } } | undefined
    t.equal(list?.unsubscribe?.url, `${MANAGE}/unsubscribe`, `${language}: List-Unsubscribe`)
    t.equal(list?.id?.id, 'alerts.alerts.example.org', `${language}: List-Id`)
    t.equal(parsed.headerLines.find((h) => h.key === 'list-unsubscribe-post')?.line, 'List-Unsubscribe-Post: List-Unsubscribe=One-Click')
  }

  const line = async (appeal: Appeal, changes: string[], language = 'en') => {
    const text = (await mail(updated(appeal, changes), language, ROOT)).parsed.text ?? ''
    t.notMatch(text, /Do not forcibly return/, `${changes.join('+')}: a note, not the appeal`)
    return text
  }
  t.match(await line(published({ urgency: 'critical' }), ['urgency']), 'Urgency raised to critical.')
  t.match(await line(published({ urgency: 'normal' }), ['urgency']), 'Urgency lowered to normal.')
  t.match(await line(published({ urgency: 'high' }), ['urgency']), 'Urgency is now high.', 'high may be either way: no direction claimed')
  t.match(await line(published({ urgency: 'critical' }), ['urgency'], 'fr'), 'L’urgence est relevée au niveau critique.')
  t.match(await line(published({ actionDeadline: null }), ['actionDeadline']), 'There is no longer a deadline for action.')
  t.match(await line(published({ actionDeadline: null }), ['actionDeadline'], 'zh-Hans'), '此行动已不再设截止日期。')
  t.match(await line(published({ urgency: 'critical', actionDeadline: '2099-07-31' }), ['urgency', 'actionDeadline']),
    /Urgency raised to critical\. The deadline for action is now July 31, 2099\.\n/, 'two changes, one line')
  t.match(await line(published({ countries: ['CN', 'KP', 'RU'] }), ['countries', 'subdivisions']), 'This appeal now concerns China, North Korea, and Russia.')
  t.match(await line(published({ countries: ['CN', 'KP'] }), ['countries'], 'ko'), '해당 국가가 변경되었습니다: 중국 및 북한.')

  t.notOk(isMailworthy(updated(published(), ['themes'])), 'new themes alone: no mail (nothing a supporter already alerted needs)')
  t.notOk(isMailworthy(updated(published(), ['subdivisions', 'themes'])), 'nor new regions')
})

t.test('content changes, follow-ups and first alerts still carry the whole appeal', async (t) => {
  const appeal = published({ actionDeadline: '2099-07-31' })
  const followUp = (await mail(updated(appeal, ['updates', 'actionDeadline'], { number: 2, body: 'They were moved to Dandong.' }), 'en', ROOT)).parsed.text ?? ''
  t.match(followUp, /Update 2\s+They were moved to Dandong\./, 'a follow-up: its text')
  t.match(followUp, /Do not forcibly return/, 'and the whole appeal')
  t.match(followUp, 'The deadline for action is now July 31, 2099.', 'with what changed said first')

  const edited = (await mail(updated(appeal, ['summary', 'actionDeadline']), 'en', ROOT)).parsed.text ?? ''
  t.match(edited, /Three women, three men/, 'an edited summary: the whole appeal')
  t.match(edited, /Do not forcibly return/)

  const newcomer = await mail(updated(published({ urgency: 'critical' }), ['urgency']), 'en', '', { firstAlert: true })
  t.match(newcomer.parsed.text, /Do not forcibly return/, 'a supporter who had no alert about it yet (urgency now matches their filters) gets the whole appeal')
  t.match(newcomer.parsed.text, 'Urgency raised to critical.')
})

t.test('a translation without a body shows the original background, marked with its language', async (t) => {
  const translated = (body: string, asks: string[] = []) => published({
    translations: [{ language: 'fr', title: 'Chine : sept Nord-Coréens risquent un renvoi forcé', summary: 'Sept personnes détenues au Liaoning.', body, asks, updatedAt: '2026-01-02T00:00:00.000Z' }],
  })
  const { parsed } = await mail({ type: 'appeal.published', data: { appeal: translated('') } }, 'fr')
  const htmlPart = String(parsed.html)
  t.equal(parsed.subject, 'Action urgente : Chine : sept Nord-Coréens risquent un renvoi forcé')
  t.match(htmlPart, /<html lang="fr">/, 'the mail is in French')
  t.match(parsed.text, /CONTEXTE\s+Chinese authorities apprehended the group on 28 April 2019/, 'text: the original background under the French heading')
  t.match(htmlPart, /<div lang="en"><p>Chinese authorities apprehended the group on <strong>28 April 2019<\/strong>/, 'HTML: the original background, marked lang="en"')
  t.match(htmlPart, /<ol lang="en"[^>]*><li>Do not forcibly return/, 'the original asks, marked lang="en" too')

  const own = String((await mail({ type: 'appeal.published', data: { appeal: translated('Arrêtées le **28 avril 2019**.', ['Ne les renvoyez pas.']) } }, 'fr')).parsed.html)
  t.match(own, /<div><p>Arrêtées le <strong>28 avril 2019<\/strong>/, 'a translated background: no lang of its own')
  t.notMatch(own, /Chinese authorities apprehended/)
  t.notMatch(own, /lang="en"/, 'nothing marked English when everything is French')
})

/** Alert (not confirmation) mails to an address, parsed. */
async function alertsTo(stack: SupporterStack, email: string): Promise<ParsedMail[]> {
  const parsed = await Promise.all(stack.sink.to(email).map((m) => m.parsed()))
  return parsed.filter((p) => p.headerLines.some((h) => h.key === 'list-id'))
}

t.test('through the whole pipeline: the fallback background, then a deadline change as a note', async (t) => {
  const stack = await startSupporterStack(t)
  await subscribeAndConfirm(stack, 'en@example.org')
  await subscribeAndConfirm(stack, 'fr@example.org', { language: 'fr' })
  const draft = await createDraft(stack, anAppeal({ actionDeadline: '2099-06-30' }))
  const translation = { title: 'Chine : sept Nord-Coréens risquent un renvoi forcé', summary: 'Sept personnes détenues au Liaoning.' }
  t.equal((await stack.request('editor', 'PUT', `/v1/appeals/${draft.id}/translations/fr`, translation)).statusCode, 201)
  await approve(stack, draft.id)
  const appeal = (await stack.request('editor', 'POST', `/v1/appeals/${draft.id}/publish`)).json()
  const [first] = await eventually(async () => { const m = await alertsTo(stack, 'fr@example.org'); return m.length === 1 ? m : undefined }, 20_000, 'the first alert')
  t.match(String(first!.html), /<div lang="en"><p>Chinese authorities apprehended/, 'the French supporter reads the original background, marked English')

  const patched = await stack.request('editor', 'PATCH', `/v1/appeals/${appeal.id}`, { actionDeadline: '2099-07-31' }, { 'if-match': `"${appeal.version}"` })
  t.equal(patched.statusCode, 200, 'deadline changed')
  const notes = await eventually(async () => {
    const [en, fr] = [await alertsTo(stack, 'en@example.org'), await alertsTo(stack, 'fr@example.org')]
    return en.length === 2 && fr.length === 2 ? { en: en[1]!, fr: fr[1]! } : undefined
  }, 20_000, 'the update mails')
  t.equal(notes.en.subject, 'Update: China: seven North Koreans face forced return to torture')
  t.equal(notes.fr.subject, 'Mise à jour : Chine : sept Nord-Coréens risquent un renvoi forcé')
  t.match(notes.en.text, 'The deadline for action is now July 31, 2099.')
  t.match(notes.fr.text, 'La date limite pour agir est désormais le 31 juillet 2099.')
  for (const note of [notes.en, notes.fr]) {
    t.notMatch(note.text, /Chinese authorities apprehended|Do not forcibly return/, 'a note, not the appeal resent')
    t.match(note.text, /\/subscriptions\/[A-Za-z0-9_-]+\/unsubscribe/, 'with the unsubscribe link')
  }
})

t.test('a change of themes alone sends no mail', async (t) => {
  const stack = await startSupporterStack(t)
  await subscribeAndConfirm(stack, 'en@example.org')
  const appeal = await createPublished(stack)
  await eventually(async () => ((await alertsTo(stack, 'en@example.org')).length === 1 ? true : undefined), 20_000, 'the first alert')
  const patched = await stack.request('editor', 'PATCH', `/v1/appeals/${appeal.id}`, { themes: ['torture'] }, { 'if-match': `"${appeal.version}"` })
  t.equal(patched.statusCode, 200, 'themes changed')
  await eventually(async () => {
    const { rows } = await stack.pool.query(`SELECT dispatched_at FROM events WHERE type = 'appeal.updated'`)
    return rows[0]?.dispatched_at ? true : undefined
  }, 10_000, 'the update relayed')
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.equal((await alertsTo(stack, 'en@example.org')).length, 1, 'still only the first alert')
})
