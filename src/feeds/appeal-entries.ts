// Owns what the appeal feeds (appeals.atom, appeals.json) say about each
// appeal: its entry, kept current (its `updated` moves with every change),
// and one entry of its own for every follow-up and for the outcome, so
// that every feed reader shows the news as a new item (most readers do not
// resurface an entry they have shown once when only its `updated` moves).
// Text in the feed's language when the appeal has that translation (as in
// the alert mails: email/alert-message.ts pickContent), each entry marked
// with its language and parts in another language marked with theirs.
import { createHash } from 'node:crypto'
import type { Appeal } from '../schemas/appeal.js'
import { countryName, formatDate, localeFor, t, themeLabel, type Locale } from '../i18n/index.js'
import { html, trusted, type SafeHtml } from '../pages/html.js'
import { htmlToText, markdownToHtml } from '../email/markdown.js'
import { pickContent } from '../email/alert-message.js'
import type { FeedEntry } from './model.js'

/** Follow-up entries per appeal: the latest ones (the appeal's own entry lists them all). */
const FOLLOW_UPS_PER_APPEAL = 10
const SUMMARY_CHARS = 280

const COUNTRY_SCHEME = 'urn:iso:std:iso:3166:-1'

/** RFC 4122 version 5 UUID: the same name in the same namespace gives the same id, in every process, for ever. */
function uuidV5(namespace: string, name: string): string {
  const hash = createHash('sha1').update(Buffer.from(namespace.replace(/-/g, ''), 'hex')).update(name, 'utf8').digest()
  hash[6] = (hash[6]! & 0x0f) | 0x50
  hash[8] = (hash[8]! & 0x3f) | 0x80
  const h = hash.subarray(0, 16).toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/** Entry ids: the appeal's own UUID, and UUIDs derived from it for its follow-ups and its outcome. */
const entryIds = {
  appeal: (appealId: string) => `urn:uuid:${appealId}`,
  followUp: (appealId: string, number: number) => `urn:uuid:${uuidV5(appealId, `update/${number}`)}`,
  outcome: (appealId: string) => `urn:uuid:${uuidV5(appealId, 'outcome')}`,
}

const primary = (tag: string) => tag.split('-')[0]!.toLowerCase()
/** ` lang="…"` on a part whose language is not the one around it. */
const langAttr = (language: string, around: string) => (language.toLowerCase() === around.toLowerCase() ? '' : html` lang="${language}"`)
/** Labels come from our catalogues (five languages): marked when the entry is in another. */
const labelAttr = (locale: Locale, entryLanguage: string) => (primary(locale) === primary(entryLanguage) ? '' : html` lang="${locale}"`)

function oneLine(text: string, max = SUMMARY_CHARS): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length <= max ? flat : `${flat.slice(0, max - 1).trimEnd()}…`
}

export interface EntryOptions {
  baseUrl: string
  /** The feed's `lang`: the translation to show when the appeal has it. */
  lang?: string
}

export function appealPageUrl(baseUrl: string, appealId: string, lang?: string): string {
  return `${baseUrl}/appeals/${appealId}${lang ? `?lang=${encodeURIComponent(lang)}` : ''}`
}

export const capUrl = (baseUrl: string, appealId: string) => `${baseUrl}/appeals/${appealId}/cap.xml`

/** The entries of one public (published or closed) appeal. */
export function appealEntries(appeal: Appeal, o: EntryOptions): FeedEntry[] {
  const content = pickContent(appeal, o.lang ?? appeal.language)
  const language = content.language
  const locale = localeFor(language)
  const labels = labelAttr(locale, language)
  const original = langAttr(appeal.language, language) // follow-ups and outcome notes are written once, in the original's language
  const url = appealPageUrl(o.baseUrl, appeal.id, o.lang)
  const categories = [
    ...appeal.countries.map((c) => ({ term: c, label: countryName(locale, c), scheme: COUNTRY_SCHEME })),
    ...appeal.themes.map((th) => ({ term: th, label: themeLabel(locale, th) })),
  ]
  const capLink = { rel: 'related' as const, type: 'application/cap+xml', href: capUrl(o.baseUrl, appeal.id) }
  const updates = [...appeal.updates].sort((a, b) => b.number - a.number)
  const outcome = appeal.status === 'closed' ? appeal.outcome : null
  const outcomeLabel = outcome ? `${t(locale, 'mail.outcome')}: ${t(locale, `outcome.${outcome.code}`)}` : ''

  const followUpHtml = (u: Appeal['updates'][number]): SafeHtml =>
    html`<div${original}>${trusted(markdownToHtml(u.body))}</div>`

  const full = html`${outcome ? html`<p${labels}><strong>${outcomeLabel}</strong></p>
${outcome.note ? html`<p${original}>${outcome.note}</p>` : ''}<p${labels}>${t(locale, 'mail.closed')}</p>
` : ''}<p>${content.summary}</p>
<p${labels}>${t(locale, 'mail.peopleAtRisk', { count: appeal.peopleAtRisk.total })}</p>
${!outcome ? html`<h3${labels}>${t(locale, 'mail.askThem')}</h3>
<ol${langAttr(content.asksLanguage, language)}>${content.asks.map((a) => html`<li>${a}</li>`)}</ol>
${appeal.actionDeadline ? html`<p${labels}><strong>${t(locale, 'mail.deadline', { date: formatDate(locale, appeal.actionDeadline) })}</strong></p>
` : ''}<p${labels}><a href="${url}">${t(locale, 'mail.takeAction')}</a></p>
` : ''}${updates.map((u) => html`<h3${labels}>${t(locale, 'mail.update', { number: u.number })} (${formatDate(locale, u.publishedAt)})</h3>
${followUpHtml(u)}
`)}${content.body ? html`<h3${labels}>${t(locale, 'mail.background')}</h3>
<div${langAttr(content.bodyLanguage, language)}>${trusted(markdownToHtml(content.body))}</div>
` : ''}${appeal.sources.length > 0 ? html`<h3${labels}>${t(locale, 'mail.sources')}</h3>
<ul>${appeal.sources.map((s) => html`<li><a href="${s.url}">${s.title}</a>${s.publisher ? ` (${s.publisher})` : ''}</li>`)}</ul>` : ''}`

  const entries: FeedEntry[] = [{
    id: entryIds.appeal(appeal.id),
    title: content.title,
    summary: oneLine(content.summary),
    contentHtml: full.value,
    updated: appeal.updatedAt,
    ...(appeal.publishedAt ? { published: appeal.publishedAt } : {}),
    language, url, links: [capLink], categories,
  }]
  for (const u of updates.slice(0, FOLLOW_UPS_PER_APPEAL)) {
    const bodyHtml = markdownToHtml(u.body)
    entries.push({
      id: entryIds.followUp(appeal.id, u.number),
      title: `${t(locale, 'mail.update', { number: u.number })}: ${content.title}`,
      summary: oneLine(htmlToText(bodyHtml)),
      contentHtml: html`<div${original}>${trusted(bodyHtml)}</div>
<p><a href="${url}">${content.title}</a></p>`.value,
      updated: u.publishedAt, published: u.publishedAt,
      language, url, links: [capLink], categories,
    })
  }
  if (outcome) {
    entries.push({
      id: entryIds.outcome(appeal.id),
      title: `${outcomeLabel} — ${content.title}`,
      summary: oneLine(outcome.note ?? t(locale, 'mail.closed')),
      contentHtml: html`<p${labels}><strong>${outcomeLabel}</strong></p>
${outcome.note ? html`<p${original}>${outcome.note}</p>` : ''}<p${labels}>${t(locale, 'mail.closed')}</p>
<p><a href="${url}">${content.title}</a></p>`.value,
      updated: outcome.at, published: outcome.at,
      language, url, links: [capLink], categories,
    })
  }
  return entries
}
