// Owns the appeal as OASIS CAP 1.2 messages (GET /appeals/{id}/cap.xml):
// which messages an appeal has sent, how each is identified, and what the
// current one says.
//
// Messages are the appeal's lifecycle events (the outbox, services/events.ts):
// appeal.published → Alert; appeal.updated (a follow-up, a material change,
// a translation) → Update; appeal.closed and appeal.withdrawn → Cancel. A
// message's identifier is its event's id (`msg_<ULID>`, never reused) and
// its `sent` is the event's timestamp, so the same message carries the same
// identifier, sent and references every time it is served. Its info blocks
// are rendered from the appeal as the event recorded it (the event's own
// snapshot), so a message never changes once sent; only a newer message
// supersedes it. A withdrawn appeal's Cancel carries nothing but what CAP
// requires and the references that say what it cancels.
import type { Appeal } from '../schemas/appeal.js'
import { formatDate, localeFor, t } from '../i18n/index.js'
import { htmlToText, markdownToHtml } from '../email/markdown.js'
import { pickContent } from '../email/alert-message.js'
import { appealPageUrl } from './appeal-entries.js'
import { attrs, element } from './xml.js'

/**
 * Served as application/cap+xml: the type CAP publishers and consumers use
 * (and the `+xml` suffix, RFC 6839, lets generic XML tools take it). The
 * only CAP type IANA registers, application/EmergencyCallData.cap+xml, is
 * for CAP inside SIP emergency calls (RFC 8876).
 */
export const CAP_TYPE = 'application/cap+xml; charset=utf-8'
const CAP_NAMESPACE = 'urn:oasis:names:tc:emergency:cap:1.2'

export const CAP_EVENT_TYPES = ['appeal.published', 'appeal.updated', 'appeal.closed', 'appeal.withdrawn'] as const
export type CapEventType = (typeof CAP_EVENT_TYPES)[number]
export type MsgType = 'Alert' | 'Update' | 'Cancel'

export const MSG_TYPE: Record<CapEventType, MsgType> = {
  'appeal.published': 'Alert', 'appeal.updated': 'Update', 'appeal.closed': 'Cancel', 'appeal.withdrawn': 'Cancel',
}

/** One message an appeal has sent: its event. */
export interface CapMessageRef {
  identifier: string
  type: CapEventType
  /** The event's ISO 8601 timestamp. */
  timestamp: string
}

/** What the latest message's event recorded (empty for a withdrawal, and once redacted). */
export interface CapSnapshot {
  appeal?: Appeal
  update?: { number: number; body: string }
}

// ---- The mapping (documented in the README) ---------------------------------

/** How soon supporters should act. A closed appeal's Cancel: Past. */
const CAP_URGENCY = { critical: 'Immediate', high: 'Expected', normal: 'Future' } as const
/** How grave the threat to the people at risk. */
const CAP_SEVERITY = { critical: 'Extreme', high: 'Severe', normal: 'Moderate' } as const

/**
 * Observed when the appeal documents an ongoing situation (people detained
 * since a date, or their situation described), else Likely (a threat the
 * appeal asks to prevent). A closed appeal: its outcome is Observed, or
 * Unknown when recorded as unknown.
 */
function capCertainty(appeal: Appeal): 'Observed' | 'Likely' | 'Unknown' {
  if (appeal.status === 'closed') return appeal.outcome?.code === 'unknown' ? 'Unknown' : 'Observed'
  const p = appeal.peopleAtRisk
  return p.detainedSince || (p.situation?.length ?? 0) > 0 ? 'Observed' : 'Likely'
}

/** CAP's dateTime: seconds, and an explicit offset (`-00:00` for UTC; "Z" is not allowed). */
export const capTime = (iso: string) => `${new Date(iso).toISOString().slice(0, 19)}-00:00`

/** The action deadline's last moment anywhere on Earth (UTC−12). */
const deadlineEnd = (date: string) => `${date.slice(0, 10)}T23:59:59-12:00`

const referenceOf = (sender: string, m: CapMessageRef) => `${sender},${m.identifier},${capTime(m.timestamp)}`

/** The sender: the host of PUBLIC_BASE_URL (CAP: no spaces, commas, `<` or `&`). */
const capSender = (baseUrl: string) => new URL(baseUrl).host

const regionNames = new Map<string, Intl.DisplayNames | null>()
/** A country's name in any language ICU knows (CAP infos may be in languages we have no catalogue for). */
function regionName(language: string, code: string): string {
  if (!regionNames.has(language)) {
    try { regionNames.set(language, new Intl.DisplayNames([language], { type: 'region', fallback: 'code' })) } catch { regionNames.set(language, null) }
  }
  try { return regionNames.get(language)?.of(code) ?? code } catch { return code }
}

const text = (markdown: string) => htmlToText(markdownToHtml(markdown)).trim()

function geocode(valueName: string, value: string): string {
  return `<geocode>${element('valueName', valueName)}${element('value', value)}</geocode>`
}

/**
 * One area per country: the appeal's subdivisions of that country as
 * ISO 3166-2 geocodes when it names some (the area is their union), else
 * the country as an ISO 3166-1 alpha-2 geocode.
 */
function areas(appeal: Appeal, language: string): string[] {
  return appeal.countries.map((country) => {
    const subdivisions = appeal.subdivisions.filter((s) => s.startsWith(`${country}-`))
    const name = regionName(language, country)
    return `<area>${element('areaDesc', subdivisions.length > 0 ? `${name} (${subdivisions.join(', ')})` : name)}${
      subdivisions.length > 0 ? subdivisions.map((s) => geocode('ISO3166-2', s)).join('') : geocode('ISO3166-1', country)}</area>`
  })
}

function info(appeal: Appeal, language: string, latest: CapMessageRef, snapshot: CapSnapshot, baseUrl: string): string {
  const content = pickContent(appeal, language)
  const locale = localeFor(language)
  const closed = appeal.status === 'closed'
  const description: string[] = []
  if (closed && appeal.outcome) {
    description.push(`${t(locale, 'mail.outcome')}: ${t(locale, `outcome.${appeal.outcome.code}`)}`)
    if (appeal.outcome.note) description.push(appeal.outcome.note)
    description.push(t(locale, 'mail.closed'), '')
  } else if (latest.type === 'appeal.updated' && snapshot.update) {
    // Follow-ups are written once, in the original's language: every info carries it.
    description.push(`${t(locale, 'mail.update', { number: snapshot.update.number })}: ${text(snapshot.update.body)}`, '')
  }
  description.push(content.summary)
  // A translation without a background of its own leaves it out (the summary is translated); asks fall back to the original's: they are the instruction.
  if (content.body && content.bodyLanguage === language) description.push('', text(content.body))
  description.push('', t(locale, 'mail.peopleAtRisk', { count: appeal.peopleAtRisk.total }))
  const instruction = closed ? '' : [
    t(locale, 'mail.askThem'), ...content.asks.map((a) => `- ${a}`),
    ...(appeal.actionDeadline ? [t(locale, 'mail.deadline', { date: formatDate(locale, appeal.actionDeadline) })] : []),
  ].join('\n')
  return [
    '<info>',
    element('language', language),
    element('category', 'Safety'),
    element('event', t(locale, 'urgency.label.normal')),
    element('responseType', closed ? 'None' : 'Execute'),
    element('urgency', closed ? 'Past' : CAP_URGENCY[appeal.urgency]),
    element('severity', CAP_SEVERITY[appeal.urgency]),
    element('certainty', capCertainty(appeal)),
    ...appeal.themes.map((th) => `<eventCode>${element('valueName', 'theme')}${element('value', th)}</eventCode>`),
    closed || !appeal.actionDeadline ? '' : element('expires', deadlineEnd(appeal.actionDeadline)),
    element('senderName', t(locale, 'site.name')),
    element('headline', content.title),
    element('description', description.join('\n').trim()),
    element('instruction', instruction),
    element('web', appealPageUrl(baseUrl, appeal.id, language === appeal.language ? undefined : language)),
    `<parameter>${element('valueName', 'appealReference')}${element('value', appeal.reference)}</parameter>`,
    ...areas(appeal, language),
    '</info>',
  ].filter(Boolean).join('\n')
}

export interface CapMessageInput {
  appealId: string
  /** Every message of the appeal, oldest first; the last is the one rendered. */
  messages: CapMessageRef[]
  snapshot: CapSnapshot
  /** The appeal is withdrawn: a Cancel with no content at all, whatever the snapshot holds. */
  withdrawn: boolean
}

/** The appeal's current CAP message: the last of its messages, referencing all earlier ones. */
export function renderCapMessage(input: CapMessageInput, baseUrl: string): string {
  const latest = input.messages.at(-1)
  if (!latest) throw new Error('an appeal with no message has no CAP document')
  const sender = capSender(baseUrl)
  const earlier = input.messages.slice(0, -1)
  const appeal = input.withdrawn ? undefined : input.snapshot.appeal
  const msgType: MsgType = input.withdrawn ? 'Cancel' : MSG_TYPE[latest.type]
  const languages = appeal ? [appeal.language, ...appeal.translations.map((tr) => tr.language)] : []
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<alert${attrs({ xmlns: CAP_NAMESPACE })}>`,
    element('identifier', latest.identifier),
    element('sender', sender),
    element('sent', capTime(latest.timestamp)),
    element('status', 'Actual'),
    element('msgType', msgType),
    element('scope', 'Public'),
    element('references', earlier.map((m) => referenceOf(sender, m)).join(' ')),
    appeal ? element('incidents', input.appealId) : '',
    ...(appeal ? languages.map((language) => info(appeal, language, latest, input.snapshot, baseUrl)) : []),
    '</alert>',
  ].filter(Boolean).join('\n') + '\n'
}
