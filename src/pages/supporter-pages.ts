// Owns the supporter pages: confirm, preferences, unsubscribe, erasure and
// friendly errors. Server-rendered in the shared frame (layout.ts: one
// inline stylesheet, noindex), no JavaScript, no external resources;
// readable on a phone and with a screen reader (landmarks, labels,
// fieldsets, visible focus). Every form posts to
// a same-origin path, as the CSP `form-action 'self'` requires. GET pages
// only show; each state change is a button posting a form.
//
// Themes a requester chose are never printed as words: only themes of the
// catalogue (i18n/themes.ts) or of public appeals are named; any others are
// counted ("2 other themes").
import { countryName, formatList, LOCALES, t, themeLabel, type Locale } from '../i18n/index.js'
import { html, type SafeHtml } from './html.js'
import { layout as page } from './layout.js'
import { byName, countryPicker, languageOptions, offeredThemes, themeCheckboxes, urgencyRadios } from './fields.js'
import type { Subscription } from '../schemas/subscription.js'

export { offeredThemes } from './fields.js'

export interface PageOptions {
  /** Path of PUBLIC_BASE_URL ('' or e.g. '/alerts'): forms post to same-origin paths under it. */
  basePath: string
}

const layout = (locale: Locale, title: string, body: SafeHtml) => page({ locale, title, body })

function countryNames(locale: Locale, codes: readonly string[]): string[] {
  return codes.map((code) => ({ name: countryName(locale, code) })).sort(byName(locale)).map((c) => c.name)
}

/** The named themes of a subscription, plus a count of the others (never their slugs). */
function themeWords(locale: Locale, themes: readonly string[], offered: ReadonlySet<string>): string[] {
  const named = themes.filter((theme) => offered.has(theme)).map((theme) => ({ name: themeLabel(locale, theme) })).sort(byName(locale))
  const others = themes.length - named.length
  const words = named.map((n) => n.name)
  if (others === 1) words.push(t(locale, 'filters.otherTheme'))
  else if (others > 1) words.push(t(locale, 'filters.otherThemes', { count: others }))
  return words
}

function filtersSummary(locale: Locale, s: Pick<Subscription, 'countries' | 'themes' | 'minUrgency'>, offered: ReadonlySet<string>): string {
  const countries = s.countries.length > 0 ? formatList(locale, countryNames(locale, s.countries)) : t(locale, 'filters.allCountries')
  const themes = s.themes.length > 0 ? formatList(locale, themeWords(locale, s.themes, offered)) : t(locale, 'filters.allThemes')
  return t(locale, 'filters.summary', { countries, themes, urgency: t(locale, `urgency.${s.minUrgency}`) })
}

const preferencesPath = (o: PageOptions, token: string) => `${o.basePath}/subscriptions/${token}`

export function confirmPage(locale: Locale, o: PageOptions, token: string, s: Subscription, offered: ReadonlySet<string>): string {
  const action = `${o.basePath}/subscriptions/confirm/${token}`
  return layout(locale, t(locale, 'confirm.title'), html`
<p>${t(locale, 'confirm.intro', { email: s.email })}</p>
<p>${t(locale, 'confirm.filters', { filters: filtersSummary(locale, s, offered) })}</p>
<form method="post" action="${action}">
<button type="submit">${t(locale, 'confirm.button')}</button>
</form>
<h2 id="not-me">${t(locale, 'confirm.notMeTitle')}</h2>
<p class="muted">${t(locale, 'confirm.notMeHelp')}</p>
<form method="post" action="${action}/cancel">
<button type="submit" class="secondary">${t(locale, 'confirm.notMeButton')}</button>
</form>`)
}

export function confirmedPage(locale: Locale, o: PageOptions, manageToken: string): string {
  return layout(locale, t(locale, 'confirmed.title'), html`
<p>${t(locale, 'confirmed.body')}</p>
<p><a href="${preferencesPath(o, manageToken)}">${t(locale, 'confirmed.manage')}</a></p>`)
}

export function cancelledPage(locale: Locale): string {
  return layout(locale, t(locale, 'cancelled.title'), html`<p>${t(locale, 'cancelled.body')}</p>`)
}

export interface PreferencesPageData {
  token: string
  subscription: Subscription
  /** Themes of public appeals (`knownThemes`); offered with the catalogue's. */
  themes: readonly string[]
  notice?: 'saved' | 'invalid' | 'resubscribed'
}

export function preferencesPage(locale: Locale, o: PageOptions, d: PreferencesPageData): string {
  const s = d.subscription
  const action = preferencesPath(o, d.token)
  const offered = offeredThemes(d.themes)
  const otherThemes = s.themes.filter((theme) => !offered.has(theme)).length
  const languages = [...new Set<string>([...LOCALES, s.language])]
  const notice = d.notice === 'saved' ? t(locale, 'prefs.saved')
    : d.notice === 'invalid' ? t(locale, 'prefs.invalid')
      : d.notice === 'resubscribed' ? t(locale, 'resubscribed.body') : null

  return layout(locale, t(locale, 'prefs.title'), html`
${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}
<dl>
<dt>${t(locale, 'prefs.address')}</dt><dd>${s.email}</dd>
<dt>${t(locale, 'prefs.status')}</dt><dd>${t(locale, `status.${s.status}`)}</dd>
</dl>
${s.status === 'pending' ? html`<p class="notice">${t(locale, 'prefs.pending')}</p>` : ''}
<p class="current" id="current">${t(locale, 'prefs.current', { filters: filtersSummary(locale, s, offered) })}</p>
<form method="post" action="${action}">
<p><label for="language">${t(locale, 'prefs.language')}</label>
<select id="language" name="language">
${languageOptions(languages, s.language)}
</select></p>
<fieldset>
<legend>${t(locale, 'prefs.urgency')}</legend>
${urgencyRadios(locale, s.minUrgency)}
</fieldset>
<fieldset>
<legend>${t(locale, 'prefs.countries')}</legend>
<p class="muted">${t(locale, 'prefs.countriesHelp')}</p>
${countryPicker(locale, new Set(s.countries))}
</fieldset>
<fieldset>
<legend>${t(locale, 'prefs.themes')}</legend>
<p class="muted">${t(locale, 'prefs.themesHelp')}</p>
${themeCheckboxes(locale, offered, s.themes)}
${otherThemes > 0 ? html`<label><input type="checkbox" name="keepOtherThemes" value="1" checked> <span>${t(locale, 'prefs.keepOtherThemes', { count: otherThemes })}</span></label>` : ''}
</fieldset>
<button type="submit">${t(locale, 'prefs.save')}</button>
</form>
<h2>${t(locale, 'prefs.stopTitle')}</h2>
${s.status === 'unsubscribed'
    ? html`<form method="post" action="${action}/resubscribe"><button type="submit">${t(locale, 'prefs.resubscribe')}</button></form>`
    : html`<p class="muted">${t(locale, 'prefs.stopHelp')}</p>
<form method="post" action="${action}/unsubscribe"><button type="submit" class="secondary">${t(locale, 'prefs.unsubscribe')}</button></form>`}
<h2>${t(locale, 'prefs.dataTitle')}</h2>
<p><a href="${o.basePath}/v1/subscriptions/${d.token}/export" download="subscription.json">${t(locale, 'prefs.export')}</a></p>
<p class="muted">${t(locale, 'prefs.eraseHelp')}</p>
<p><a class="button secondary" href="${action}/erase">${t(locale, 'prefs.erase')}</a></p>`)
}

/** The visible unsubscribe link of every mail: one button posting to the one-click route; changes nothing by itself. */
export function unsubscribePage(locale: Locale, o: PageOptions, token: string, s: Subscription): string {
  const action = preferencesPath(o, token)
  if (s.status === 'unsubscribed') {
    return layout(locale, t(locale, 'unsubscribe.alreadyTitle'), html`
<p>${t(locale, 'unsubscribe.alreadyBody', { email: s.email })}</p>
<form method="post" action="${action}/resubscribe">
<button type="submit">${t(locale, 'prefs.resubscribe')}</button>
</form>
<p><a href="${action}">${t(locale, 'nav.preferences')}</a></p>`)
  }
  return layout(locale, t(locale, 'unsubscribe.title'), html`
<p>${t(locale, 'unsubscribe.body', { email: s.email })}</p>
<form method="post" action="${action}/unsubscribe">
<button type="submit">${t(locale, 'prefs.unsubscribe')}</button>
</form>
<p><a href="${action}">${t(locale, 'unsubscribe.instead')}</a></p>`)
}

export function unsubscribedPage(locale: Locale, o: PageOptions, token: string): string {
  return layout(locale, t(locale, 'unsubscribed.title'), html`
<p>${t(locale, 'unsubscribed.body')}</p>
<h2>${t(locale, 'unsubscribed.undo')}</h2>
<form method="post" action="${preferencesPath(o, token)}/resubscribe">
<button type="submit" class="secondary">${t(locale, 'prefs.resubscribe')}</button>
</form>
<p><a href="${preferencesPath(o, token)}">${t(locale, 'nav.preferences')}</a></p>`)
}

/** What erasure deletes and keeps, said before the one button that erases. */
export function erasePage(locale: Locale, o: PageOptions, token: string): string {
  const action = preferencesPath(o, token)
  return layout(locale, t(locale, 'erase.title'), html`
<p>${t(locale, 'erase.intro')}</p>
<h2>${t(locale, 'erase.deletedTitle')}</h2>
<ul>
<li>${t(locale, 'erase.deletedSubscription')}</li>
<li>${t(locale, 'erase.deletedQueued')}</li>
<li>${t(locale, 'erase.deletedCounter')}</li>
</ul>
<h2>${t(locale, 'erase.keptTitle')}</h2>
<ul>
<li>${t(locale, 'erase.keptLedger')}</li>
<li>${t(locale, 'erase.keptHash')}</li>
</ul>
<h2>${t(locale, 'erase.afterTitle')}</h2>
<p>${t(locale, 'erased.comeBack')}</p>
<form method="post" action="${action}/erase">
<button type="submit">${t(locale, 'prefs.erase')}</button>
</form>
<p><a href="${action}">${t(locale, 'erase.cancel')}</a></p>`)
}

export function erasedPage(locale: Locale): string {
  return layout(locale, t(locale, 'erased.title'), html`
<p>${t(locale, 'erased.body')}</p>
<p>${t(locale, 'erased.kept')}</p>
<p>${t(locale, 'erased.comeBack')}</p>`)
}

export type ErrorKind = 'invalid' | 'expired' | 'used' | 'pending'

export function errorPage(locale: Locale, kind: ErrorKind): string {
  return layout(locale, t(locale, `error.${kind}Title`), html`<p>${t(locale, `error.${kind}Body`)}</p>`)
}
