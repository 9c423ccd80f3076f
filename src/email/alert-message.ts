// Owns what an alert mail says: for one event and one supporter language,
// the appeal in that language when a translation exists (the original's
// background and asks where the translation has none, marked with their
// own language), laid out so a supporter can act in a minute (whom to
// write to, what to ask, by when), then the background, sources, and
// visible preference and unsubscribe links. An update that changes only
// the deadline, the urgency or the countries is a short note saying so in
// one line. Rendered once per (event, language); links and the thread
// (References / In-Reply-To) are slots filled per recipient by the MIME
// template. No tracking: no pixels, no redirects.
import type { Appeal } from '../schemas/appeal.js'
import { countryName, formatDate, formatList, languageName, localeFor, t, type Locale } from '../i18n/index.js'
import { html, trusted, type SafeHtml } from '../pages/html.js'
import { markdownToHtml, htmlToText } from './markdown.js'
import { slot, type MessageSpec } from './mime.js'

export const ALERT_EVENT_TYPES = ['appeal.published', 'appeal.updated', 'appeal.closed'] as const

export interface AlertEvent {
  type: string
  data: { appeal?: Appeal; update?: { number: number; body: string }; changes?: string[] }
}

/** Changes a one-line note can tell a supporter already alerted: the when and how urgent, and where. */
const NOTED_FIELDS: readonly string[] = ['actionDeadline', 'urgency', 'countries']
/**
 * Filing labels that no mail shows (themes, regions within a country): they
 * decide who is alerted, and a change of them alone is not news to anyone
 * already alerted, like a translation being added.
 */
const FILING_FIELDS: readonly string[] = ['themes', 'subdivisions']

const withoutFollowUp = (event: AlertEvent) => event.type === 'appeal.updated' && !event.data.update

/**
 * Whether supporters hear of this event at all: published, closed, and
 * updates that change the appeal itself (a translation being added, or
 * the appeal re-filed under other themes or regions, is not news to
 * anyone already alerted). Withdrawn appeals are never mailed.
 */
export function isMailworthy(event: AlertEvent): boolean {
  if (!(ALERT_EVENT_TYPES as readonly string[]).includes(event.type) || !event.data.appeal) return false
  if (withoutFollowUp(event)) {
    const changes = event.data.changes ?? []
    if (changes.length > 0 && changes.every((c) => c.startsWith('translations/') || FILING_FIELDS.includes(c))) return false
  }
  return true
}

/**
 * An update without a follow-up that changes only the deadline, the
 * urgency or the countries (filing labels may change with them): a
 * supporter already alerted about the appeal gets a one-line note, not
 * the whole appeal again as news.
 */
export function isMetadataOnly(event: AlertEvent): boolean {
  const changes = event.data.changes ?? []
  return withoutFollowUp(event) && isMailworthy(event)
    && changes.some((c) => NOTED_FIELDS.includes(c)) && changes.every((c) => NOTED_FIELDS.includes(c) || FILING_FIELDS.includes(c))
}

interface Content {
  language: string; title: string; summary: string
  body: string; bodyLanguage: string
  asks: string[]; asksLanguage: string
}

const primary = (tag: string) => tag.split('-')[0]!.toLowerCase()

/**
 * The appeal's text in the supporter's language: exact tag, then same
 * primary language, else the original. A translation without a body or
 * asks (both optional) takes the original's, in the original's language.
 */
export function pickContent(appeal: Appeal, language: string): Content {
  const original: Content = {
    language: appeal.language, title: appeal.title, summary: appeal.summary,
    body: appeal.body, bodyLanguage: appeal.language, asks: appeal.asks, asksLanguage: appeal.language,
  }
  const all: Content[] = [original, ...(appeal.translations ?? []).map((tr) => ({
    language: tr.language, title: tr.title, summary: tr.summary,
    body: tr.body || appeal.body, bodyLanguage: tr.body ? tr.language : appeal.language,
    asks: tr.asks.length > 0 ? tr.asks : appeal.asks, asksLanguage: tr.asks.length > 0 ? tr.language : appeal.language,
  }))]
  const wanted = language.toLowerCase()
  return all.find((c) => c.language.toLowerCase() === wanted)
    ?? all.find((c) => primary(c.language) === primary(language) && !c.language.includes('-'))
    ?? all.find((c) => primary(c.language) === primary(language))
    ?? original
}

/** `lang` for a block whose text is not in the language of the mail around it. */
const langOf = (language: string, around: string) => (language.toLowerCase() === around.toLowerCase() ? '' : html` lang="${language}"`)

/** What changed, in one line in the supporter's language: "Urgency raised to critical. The deadline for action is now July 31, 2099." */
function describeChanges(event: AlertEvent, locale: Locale): string {
  const appeal = event.data.appeal!
  const changes = event.data.changes ?? []
  const sentences: string[] = []
  // Only the new level is known: critical can only have been raised to, normal only lowered to.
  if (changes.includes('urgency')) sentences.push(t(locale, `mail.change.urgency.${appeal.urgency}`))
  if (changes.includes('actionDeadline')) {
    sentences.push(appeal.actionDeadline
      ? t(locale, 'mail.change.deadline', { date: formatDate(locale, appeal.actionDeadline) })
      : t(locale, 'mail.change.deadlineRemoved'))
  }
  if (changes.includes('countries')) {
    sentences.push(t(locale, 'mail.change.countries', { countries: formatList(locale, appeal.countries.map((c) => countryName(locale, c))) }))
  }
  return sentences.join(locale === 'zh-Hans' ? '' : ' ') // Chinese sentences follow each other without a space
}

export const SLOT_PREFERENCES = 'preferences'
export const SLOT_UNSUBSCRIBE = 'unsubscribe'
/**
 * `<message-id>` of the supporter's first alert about the appeal, or empty
 * when this mail is that first one: fills References and In-Reply-To, so
 * every mail about one appeal threads under its first alert.
 */
export const SLOT_THREAD_ROOT = 'threadRoot'

const S = {
  page: 'margin:0;padding:0;background:#f4f4f4',
  card: 'max-width:640px;margin:0 auto;padding:24px;background:#ffffff;color:#1a1a1a;font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5',
  badge: 'display:inline-block;padding:2px 8px;border-radius:4px;background:#b3001b;color:#ffffff;font-weight:bold;font-size:13px',
  meta: 'color:#555555;font-size:14px',
  box: 'border:2px solid #b3001b;border-radius:6px;padding:16px;margin:20px 0',
  button: 'display:inline-block;padding:10px 16px;border-radius:6px;background:#b3001b;color:#ffffff;text-decoration:none;font-weight:bold',
  footer: 'border-top:1px solid #dddddd;margin-top:24px;padding-top:12px;color:#555555;font-size:13px',
}

function mailtoHref(email: string, subject: string, body: string): string {
  return `mailto:${encodeURIComponent(email).replace(/%40/g, '@')}?subject=${encodeURIComponent(subject)}&body=${encodeURIComponent(body)}`
}

const plausibleMailbox = (email: string | undefined): email is string => !!email && /^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/.test(email)

export interface AlertMessage { subject: string; spec: Omit<MessageSpec, 'from'> }

export interface AlertOptions {
  listId: string
  listLabel?: string
  /**
   * The supporter has had no earlier mail about this appeal (an empty
   * thread root), e.g. a raised urgency now matches their filters: a
   * metadata-only update then carries the whole appeal, not just a note.
   */
  firstAlert?: boolean
}

export function renderAlert(event: AlertEvent, supporterLanguage: string, o: AlertOptions): AlertMessage {
  const appeal = event.data.appeal!
  const locale: Locale = localeFor(supporterLanguage)
  const content = pickContent(appeal, supporterLanguage)
  const kind = event.type === 'appeal.closed' ? 'closed' : event.type === 'appeal.updated' ? 'updated' : 'published'
  const subject = t(locale, `mail.subject.${kind}`, { title: content.title })
  const countries = appeal.countries.map((c) => countryName(locale, c)).join(', ')
  const changed = kind === 'updated' ? describeChanges(event, locale) : ''
  const preferences = slot(SLOT_PREFERENCES)
  const unsubscribe = slot(SLOT_UNSUBSCRIBE)
  const rule = '-'.repeat(40)

  const metaHtml = html`<p style="margin:0 0 8px"><span style="${S.badge}">${t(locale, `urgency.label.${appeal.urgency}`)}</span>
<span style="${S.meta}">${t(locale, 'mail.reference')}: ${appeal.reference} · ${countries}</span></p>`
  const footerHtml = html`<div style="${S.footer}">
<p>${t(locale, 'mail.why')}</p>
<p><a href="${trusted(preferences)}">${t(locale, 'mail.manage')}</a> · <a href="${trusted(unsubscribe)}">${t(locale, 'mail.unsubscribe')}</a></p>
</div>`
  const page = (language: string, preheader: string, inner: SafeHtml) => html`<!doctype html>
<html lang="${language}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${subject}</title></head>
<body style="${S.page}">
<div style="display:none;max-height:0;overflow:hidden">${preheader}</div>
<div style="${S.card}">
${inner}
${footerHtml}
</div>
</body>
</html>
`.value
  const metaText = [`${t(locale, `urgency.label.${appeal.urgency}`).toUpperCase()} · ${t(locale, 'mail.reference')}: ${appeal.reference} · ${countries}`, '', content.title, '='.repeat(Math.min(content.title.length, 60)), '']
  const footerText = [rule, t(locale, 'mail.why'), `${t(locale, 'mail.manage')}: ${preferences}`, `${t(locale, 'mail.unsubscribe')}: ${unsubscribe}`]
  const message = (language: string, text: string[], htmlBody: string): AlertMessage => ({
    subject,
    spec: {
      subject,
      language,
      text: text.join('\n'),
      html: htmlBody,
      headers: {
        'List-Id': `${o.listLabel ?? 'Urgent Appeals alerts'} <${o.listId}>`,
        'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
        'Auto-Submitted': 'auto-generated',
        Precedence: 'bulk',
        'X-Auto-Response-Suppress': 'OOF, AutoReply',
      },
      slotHeaders: { 'List-Unsubscribe': `<${unsubscribe}>` },
      optionalSlotHeaders: { 'In-Reply-To': slot(SLOT_THREAD_ROOT), References: slot(SLOT_THREAD_ROOT) },
    },
  })

  // ---- A note: only the deadline, urgency or countries changed ---------------
  if (isMetadataOnly(event) && !o.firstAlert) {
    // Its words are the catalogue's; only the title may be in another language.
    const noteHtml = page(locale, changed, html`${metaHtml}
<h1${langOf(content.language, locale)} style="font-size:22px;line-height:1.3;margin:8px 0 12px">${content.title}</h1>
<p style="margin:12px 0"><strong>${changed}</strong></p>`)
    return message(locale, [...metaText, changed, '', ...footerText], noteHtml)
  }

  // ---- The whole appeal ---------------------------------------------------------
  const update = kind === 'updated' ? event.data.update : undefined
  const outcome = kind === 'closed' ? appeal.outcome : null
  const deadline = appeal.actionDeadline && kind !== 'closed' ? t(locale, 'mail.deadline', { date: formatDate(locale, appeal.actionDeadline) }) : null
  const people = appeal.peopleAtRisk?.total ? t(locale, 'mail.peopleAtRisk', { count: appeal.peopleAtRisk.total }) : null
  const letter = (salutation?: string) => [salutation ? `${salutation},` : '', '', ...content.asks.map((a) => `- ${a}`)].join('\n').trim()
  const bodyHtml = content.body ? markdownToHtml(content.body) : ''
  const updateHtml = update ? markdownToHtml(update.body) : ''
  // Follow-ups and outcome notes are written once, in the original's language.
  const originalLang = langOf(appeal.language, content.language)

  // ---- HTML ----------------------------------------------------------------
  const targetsHtml: SafeHtml[] = (appeal.targets ?? []).map((target) => html`
<div style="margin:12px 0">
<p style="margin:0"><strong>${target.name}</strong>${target.title ? html`<br>${target.title}` : ''}</p>
${target.salutation ? html`<p style="margin:4px 0">${t(locale, 'mail.salutation')}: ${target.salutation}</p>` : ''}
${target.address ? html`<p style="margin:4px 0">${t(locale, 'mail.postalAddress')}: ${target.address}</p>` : ''}
${target.preferredLanguage ? html`<p style="margin:4px 0">${t(locale, 'mail.writeIn', { language: languageName(locale, target.preferredLanguage) })}</p>` : ''}
${plausibleMailbox(target.email) ? html`<p style="margin:8px 0"><a style="${S.button}" href="${mailtoHref(target.email, content.title, letter(target.salutation))}">${t(locale, 'mail.emailButton', { name: target.name })}</a> <span style="${S.meta}">${target.email}</span></p>` : ''}
</div>`)

  const htmlBody = page(content.language, content.summary, html`${metaHtml}
<h1 style="font-size:22px;line-height:1.3;margin:8px 0 12px">${content.title}</h1>
${changed ? html`<p style="margin:12px 0"${langOf(locale, content.language)}><strong>${changed}</strong></p>` : ''}
${update ? html`<h2 style="font-size:18px;margin:16px 0 4px">${t(locale, 'mail.update', { number: update.number })}</h2><div${originalLang}>${trusted(updateHtml)}</div>` : ''}
${outcome ? html`<div style="${S.box}"><h2 style="font-size:18px;margin:0 0 4px">${t(locale, 'mail.outcome')}: ${t(locale, `outcome.${outcome.code}`)}</h2>${outcome.note ? html`<p style="margin:4px 0"${originalLang}>${outcome.note}</p>` : ''}<p style="margin:4px 0">${t(locale, 'mail.closed')}</p></div>` : ''}
<p>${content.summary}</p>
${people ? html`<p style="${S.meta}">${people}</p>` : ''}
${kind !== 'closed' ? html`<div style="${S.box}">
<h2 style="font-size:18px;margin:0 0 8px">${t(locale, 'mail.takeAction')}</h2>
${targetsHtml.length > 0 ? html`<h3 style="font-size:16px;margin:8px 0 0">${t(locale, 'mail.writeTo')}</h3>${targetsHtml}` : ''}
<h3 style="font-size:16px;margin:12px 0 4px">${t(locale, 'mail.askThem')}</h3>
<ol${langOf(content.asksLanguage, content.language)} style="margin:0;padding-left:20px">${content.asks.map((a) => html`<li>${a}</li>`)}</ol>
${deadline ? html`<p style="margin:12px 0 0"><strong>${deadline}</strong></p>` : ''}
</div>` : ''}
${bodyHtml ? html`<h2 style="font-size:18px;margin:20px 0 4px">${t(locale, 'mail.background')}</h2><div${langOf(content.bodyLanguage, content.language)}>${trusted(bodyHtml)}</div>` : ''}
${(appeal.sources ?? []).length > 0 ? html`<h2 style="font-size:18px;margin:20px 0 4px">${t(locale, 'mail.sources')}</h2>
<ul>${appeal.sources.map((s) => html`<li><a href="${s.url}" rel="noopener noreferrer">${s.title}</a>${s.publisher ? html` (${s.publisher})` : ''}</li>`)}</ul>` : ''}`)

  // ---- Plain text ------------------------------------------------------------
  const lines: string[] = [...metaText]
  if (changed) lines.push(changed, '')
  if (update) lines.push(t(locale, 'mail.update', { number: update.number }), '', htmlToText(updateHtml), '')
  if (outcome) {
    lines.push(`${t(locale, 'mail.outcome')}: ${t(locale, `outcome.${outcome.code}`)}`)
    if (outcome.note) lines.push(outcome.note)
    lines.push(t(locale, 'mail.closed'), '')
  }
  lines.push(content.summary, '')
  if (people) lines.push(people, '')
  if (kind !== 'closed') {
    lines.push(rule, t(locale, 'mail.takeAction').toUpperCase(), rule, '')
    if ((appeal.targets ?? []).length > 0) {
      lines.push(`${t(locale, 'mail.writeTo')}:`)
      for (const target of appeal.targets) {
        lines.push(`* ${target.name}${target.title ? `, ${target.title}` : ''}`)
        if (target.salutation) lines.push(`  ${t(locale, 'mail.salutation')}: ${target.salutation}`)
        if (target.address) lines.push(`  ${t(locale, 'mail.postalAddress')}: ${target.address}`)
        if (plausibleMailbox(target.email)) lines.push(`  ${target.email}`)
        if (target.preferredLanguage) lines.push(`  ${t(locale, 'mail.writeIn', { language: languageName(locale, target.preferredLanguage) })}`)
      }
      lines.push('')
    }
    lines.push(t(locale, 'mail.askThem'))
    content.asks.forEach((a, i) => lines.push(`${i + 1}. ${a}`))
    if (deadline) lines.push('', deadline)
    lines.push('')
  }
  if (bodyHtml) lines.push(t(locale, 'mail.background').toUpperCase(), '', htmlToText(bodyHtml), '')
  if ((appeal.sources ?? []).length > 0) {
    lines.push(t(locale, 'mail.sources').toUpperCase())
    for (const s of appeal.sources) lines.push(`* ${s.title}${s.publisher ? ` (${s.publisher})` : ''}: ${s.url}`)
    lines.push('')
  }
  return message(content.language, [...lines, ...footerText], htmlBody)
}
