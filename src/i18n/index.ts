// Owns which language a supporter is answered in: the message catalogue
// (messages.ts), choosing a catalogue for any BCP 47 tag, Accept-Language
// negotiation for visitors we do not know yet, and localised names of
// countries, regions, languages, dates, lists and themes (themes.ts).
import { en, es, fr, ko, zhHans, type MessageKey, type Messages } from './messages.js'

export type { MessageKey } from './messages.js'

export const LOCALES = ['en', 'fr', 'es', 'ko', 'zh-Hans'] as const
export type Locale = (typeof LOCALES)[number]

const CATALOGUES: Record<Locale, Messages> = { en, fr, es, ko, 'zh-Hans': zhHans }

/**
 * The version of the consent wording shown on the confirmation mail and
 * page; recorded in the consent ledger with every change. Bump it whenever
 * that wording changes in any language.
 */
export const CONSENT_TEXT_VERSION = '2026-01'

/** The catalogue for a supporter's language: `fr-CA` → `fr`, `zh-TW` → `zh-Hans` (the only Chinese we have), else English. */
export function localeFor(tag: string | null | undefined): Locale {
  const primary = (tag ?? '').split('-')[0]?.toLowerCase()
  switch (primary) {
    case 'fr': return 'fr'
    case 'es': return 'es'
    case 'ko': return 'ko'
    case 'zh': return 'zh-Hans'
    default: return 'en'
  }
}

/** Picks a catalogue from an Accept-Language header by q-value; English when nothing fits. */
export function negotiateLocale(header: string | undefined): Locale {
  if (!header) return 'en'
  const ranges = header.split(',').slice(0, 20).map((part, index) => {
    const [tag = '', ...params] = part.trim().split(';')
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)).find(Boolean)
    return { tag: tag.trim(), q: q ? Number(q[1]) : 1, index }
  }).filter((r) => r.tag && r.tag !== '*' && r.q > 0)
  ranges.sort((a, b) => b.q - a.q || a.index - b.index)
  for (const r of ranges) {
    const primary = r.tag.split('-')[0]!.toLowerCase()
    if (['en', 'fr', 'es', 'ko', 'zh'].includes(primary)) return localeFor(r.tag)
  }
  return 'en'
}

export function t(locale: Locale, key: MessageKey, params: Record<string, string | number> = {}): string {
  const template = CATALOGUES[locale][key]
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole))
}

const regionNames = new Map<Locale, Intl.DisplayNames>()
const languageNames = new Map<Locale, Intl.DisplayNames>()

export function countryName(locale: Locale, code: string): string {
  let names = regionNames.get(locale)
  if (!names) regionNames.set(locale, names = new Intl.DisplayNames([locale], { type: 'region', fallback: 'code' }))
  return names.of(code) ?? code
}

export function languageName(locale: Locale, tag: string): string {
  let names = languageNames.get(locale)
  if (!names) languageNames.set(locale, names = new Intl.DisplayNames([locale], { type: 'language', fallback: 'code' }))
  try { return names.of(tag) ?? tag } catch { return tag }
}

/** A language named in itself (`fr` → `français`), for language pickers. */
export function endonym(tag: string): string {
  try { return new Intl.DisplayNames([tag], { type: 'language', fallback: 'code' }).of(tag) ?? tag } catch { return tag }
}

/** `2099-06-30` → a long date in the reader's language, read as a calendar day (no time zone shift). */
export function formatDate(locale: Locale, isoDate: string): string {
  const date = new Date(`${isoDate.slice(0, 10)}T12:00:00Z`)
  if (Number.isNaN(date.getTime())) return isoDate
  return new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone: 'UTC' }).format(date)
}

export { THEMES, isCatalogueTheme, themeLabel } from './themes.js'

const listFormats = new Map<Locale, Intl.ListFormat>()

/** `['China', 'Syria', 'Iran']` → `China, Syria, and Iran` (中国、叙利亚和伊朗) in the reader's language. */
export function formatList(locale: Locale, items: readonly string[]): string {
  let format = listFormats.get(locale)
  if (!format) listFormats.set(locale, format = new Intl.ListFormat(locale, { type: 'conjunction', style: 'long' }))
  return format.format(items)
}
