// Owns the form fields that the supporter pages and the public signup share:
// countries grouped by region (one closed <details> per region, no script),
// themes with translated labels, the minimum urgency and the language. A
// rule about what a page may show (which themes are named) lives here once.
import { COUNTRY_REGIONS } from '../lib/codes.js'
import { countryName, endonym, formatList, t, THEMES, themeLabel, type Locale } from '../i18n/index.js'
import { html, type SafeHtml } from './html.js'

/** Themes a page may name: the catalogue and those of public appeals (`knownThemes`). */
export function offeredThemes(known: readonly string[]): ReadonlySet<string> {
  return new Set([...THEMES, ...known])
}

export const byName = (locale: Locale) => {
  const collator = new Intl.Collator(locale)
  return (a: { name: string }, b: { name: string }) => collator.compare(a.name, b.name)
}

export interface Region { code: string; name: string; countries: { code: string; name: string }[] }

const regionsByLocale = new Map<Locale, Region[]>()

/** The picker's regions and their countries, sorted by name in the reader's language (Antarctica last). */
export function regions(locale: Locale): Region[] {
  let list = regionsByLocale.get(locale)
  if (!list) {
    const sort = byName(locale)
    list = Object.entries(COUNTRY_REGIONS).map(([code, countries]) => ({
      code, name: countryName(locale, code),
      countries: countries.map((c) => ({ code: c, name: countryName(locale, c) })).sort(sort),
    })).sort((a, b) => (a.code === 'AQ' ? 1 : b.code === 'AQ' ? -1 : sort(a, b)))
    regionsByLocale.set(locale, list)
  }
  return list
}

/** Countries as checkboxes, one closed <details> per region whose summary names the countries chosen in it. */
export function countryPicker(locale: Locale, chosen: ReadonlySet<string>): SafeHtml {
  return html`${regions(locale).map((region) => {
    const here = region.countries.filter((c) => chosen.has(c.code)).map((c) => c.name)
    return html`<details class="region" id="region-${region.code}">
<summary>${here.length > 0 ? t(locale, 'prefs.regionChosen', { region: region.name, countries: formatList(locale, here) }) : region.name}</summary>
<div class="grid">
${region.countries.map((c) => html`<label><input type="checkbox" name="countries" value="${c.code}"${chosen.has(c.code) ? html` checked` : ''}> <span>${c.name}</span></label>
`)}</div>
</details>
`
  })}`
}

/** The offered themes as checkboxes, by translated label. */
export function themeCheckboxes(locale: Locale, offered: ReadonlySet<string>, chosen: readonly string[]): SafeHtml {
  const themes = [...offered].map((slug) => ({ slug, name: themeLabel(locale, slug) })).sort(byName(locale))
  return html`<div class="grid">
${themes.map((theme) => html`<label><input type="checkbox" name="themes" value="${theme.slug}"${chosen.includes(theme.slug) ? html` checked` : ''}> <span>${theme.name}</span></label>
`)}</div>`
}

export const MIN_URGENCIES = ['normal', 'high', 'critical'] as const

export function urgencyRadios(locale: Locale, chosen: string): SafeHtml {
  return html`${MIN_URGENCIES.map((u) => html`<label><input type="radio" name="minUrgency" value="${u}"${u === chosen ? html` checked` : ''}> <span>${t(locale, `urgency.${u}`)}</span></label>`)}`
}

/** `<option>`s of languages, each named in itself. */
export function languageOptions(languages: readonly string[], chosen: string): SafeHtml {
  return html`${languages.map((tag) => html`<option value="${tag}"${tag === chosen ? html` selected` : ''}>${endonym(tag)}</option>`)}`
}
