// Owns the supporter pages: confirm, preferences, unsubscribe, erasure and
// friendly errors. Server-rendered, no JavaScript, no external resources,
// one small inline stylesheet; readable on a phone and with a screen
// reader (landmarks, labels, fieldsets, visible focus). Every form posts to
// a same-origin path, as the CSP `form-action 'self'` requires. GET pages
// only show; each state change is a button posting a form.
//
// Themes a requester chose are never printed as words: only themes of the
// catalogue (i18n/themes.ts) or of public appeals are named; any others are
// counted ("2 other themes").
import { COUNTRY_REGIONS } from '../lib/codes.js'
import { countryName, endonym, formatList, LOCALES, t, THEMES, themeLabel, type Locale } from '../i18n/index.js'
import { html, trusted, type SafeHtml } from './html.js'
import type { Subscription } from '../schemas/subscription.js'

// Colours: body text, links and buttons reach WCAG AA (4.5:1) in both
// schemes. Light: #b3001b on #fff and white on #b3001b are 7.16:1. Dark:
// #ff6b7f on #161616 is 6.6:1, and the button's text is the dark
// background colour on #ff6b7f, 6.6:1 (white on it was 2.74:1).
const STYLE = `
:root{color-scheme:light dark;--fg:#1a1a1a;--bg:#fff;--muted:#555;--accent:#b3001b;--on-accent:#fff;--line:#ccc;--focus:#1a73e8}
@media (prefers-color-scheme:dark){:root{--fg:#eee;--bg:#161616;--muted:#bbb;--accent:#ff6b7f;--on-accent:#161616;--line:#555;--focus:#8ab4f8}}
*{box-sizing:border-box}
body{margin:0;font:1.0625rem/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK KR","Noto Sans CJK SC",sans-serif;color:var(--fg);background:var(--bg);overflow-wrap:break-word}
header,main,footer{max-width:42rem;margin:0 auto;padding:1rem 1.25rem}
header{border-bottom:4px solid var(--accent);font-weight:700}
h1{font-size:1.6rem;line-height:1.25;margin:.5rem 0 1rem}
h2{font-size:1.2rem;margin:2rem 0 .5rem}
p,li{max-width:65ch}
ul{padding-left:1.25rem}
.muted,footer{color:var(--muted);font-size:.95rem}
.notice{border-left:4px solid var(--accent);padding:.5rem .75rem;margin:1rem 0;background:color-mix(in srgb,var(--accent) 8%,transparent)}
.current{border:1px solid var(--line);border-radius:6px;padding:.5rem .75rem}
form{margin:1rem 0}
fieldset{border:1px solid var(--line);border-radius:6px;margin:1rem 0;padding:.75rem 1rem;min-width:0}
legend{font-weight:600;padding:0 .25rem}
label{display:flex;gap:.5rem;align-items:flex-start;padding:.3rem 0;cursor:pointer}
input[type=checkbox],input[type=radio]{width:1.5rem;height:1.5rem;margin:0;flex:none;accent-color:var(--accent)}
select{font:inherit;padding:.5rem;min-height:44px;max-width:100%;color:var(--fg);background:var(--bg);border:1px solid var(--muted);border-radius:4px}
button,a.button{display:inline-block;font:inherit;font-weight:600;min-height:44px;padding:.6rem 1.2rem;border-radius:6px;border:2px solid var(--accent);background:var(--accent);color:var(--on-accent);cursor:pointer;text-decoration:none;line-height:1.4}
button.secondary,a.button.secondary{background:transparent;color:var(--accent)}
a{color:var(--accent)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
details.region{border:1px solid var(--line);border-radius:6px;margin:.5rem 0}
details.region>summary{cursor:pointer;padding:.6rem .75rem;min-height:44px;font-weight:600}
details.region[open]>summary{border-bottom:1px solid var(--line)}
details.region>div{padding:.25rem .75rem .5rem}
.grid{columns:2 13rem;column-gap:1.5rem}
.grid label{break-inside:avoid}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
dt{font-weight:600}
dd{margin:0;min-width:0}
`

export interface PageOptions {
  /** Path of PUBLIC_BASE_URL ('' or e.g. '/alerts'): forms post to same-origin paths under it. */
  basePath: string
}

function layout(locale: Locale, title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="${locale}" dir="ltr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${title} · ${t(locale, 'site.name')}</title>
<style>${trustedStyle}</style>
</head>
<body>
<header><span>${t(locale, 'site.name')}</span></header>
<main id="main">
<h1>${title}</h1>
${body}
</main>
<footer><p>${t(locale, 'site.footer')}</p></footer>
</body>
</html>
`.value
}
const trustedStyle = trusted(STYLE)

/** Themes a page may name: the catalogue and those of public appeals (`knownThemes`). */
export function offeredThemes(known: readonly string[]): ReadonlySet<string> {
  return new Set([...THEMES, ...known])
}

const byName = (locale: Locale) => {
  const collator = new Intl.Collator(locale)
  return (a: { name: string }, b: { name: string }) => collator.compare(a.name, b.name)
}

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

export function filtersSummary(locale: Locale, s: Pick<Subscription, 'countries' | 'themes' | 'minUrgency'>, offered: ReadonlySet<string>): string {
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

/** Countries as checkboxes, one closed <details> per region whose summary names the countries chosen in it. */
function countryPicker(locale: Locale, chosen: ReadonlySet<string>): SafeHtml {
  const sort = byName(locale)
  const regions = Object.entries(COUNTRY_REGIONS).map(([code, countries]) => ({
    code, name: countryName(locale, code),
    countries: countries.map((c) => ({ code: c, name: countryName(locale, c) })).sort(sort),
  })).sort((a, b) => (a.code === 'AQ' ? 1 : b.code === 'AQ' ? -1 : sort(a, b)))
  return html`${regions.map((region) => {
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

export function preferencesPage(locale: Locale, o: PageOptions, d: PreferencesPageData): string {
  const s = d.subscription
  const action = preferencesPath(o, d.token)
  const offered = offeredThemes(d.themes)
  const themes = [...offered].map((slug) => ({ slug, name: themeLabel(locale, slug) })).sort(byName(locale))
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
${languages.map((tag) => html`<option value="${tag}"${tag === s.language ? html` selected` : ''}>${endonym(tag)}</option>`)}
</select></p>
<fieldset>
<legend>${t(locale, 'prefs.urgency')}</legend>
${(['normal', 'high', 'critical'] as const).map((u) => html`<label><input type="radio" name="minUrgency" value="${u}"${u === s.minUrgency ? html` checked` : ''}> <span>${t(locale, `urgency.${u}`)}</span></label>`)}
</fieldset>
<fieldset>
<legend>${t(locale, 'prefs.countries')}</legend>
<p class="muted">${t(locale, 'prefs.countriesHelp')}</p>
${countryPicker(locale, new Set(s.countries))}
</fieldset>
<fieldset>
<legend>${t(locale, 'prefs.themes')}</legend>
<p class="muted">${t(locale, 'prefs.themesHelp')}</p>
<div class="grid">
${themes.map((theme) => html`<label><input type="checkbox" name="themes" value="${theme.slug}"${s.themes.includes(theme.slug) ? html` checked` : ''}> <span>${theme.name}</span></label>
`)}</div>
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
