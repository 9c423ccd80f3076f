// Owns the supporter pages: confirm, preferences, unsubscribe, erasure and
// friendly errors. Server-rendered, no JavaScript, no external resources,
// one small inline stylesheet; readable on a phone and with a screen
// reader (landmarks, labels, fieldsets, visible focus). Every form posts to
// a same-origin path, as the CSP `form-action 'self'` requires.
import { COUNTRY_CODES } from '../lib/codes.js'
import { countryName, endonym, LOCALES, t, themeLabel, type Locale } from '../i18n/index.js'
import { html, trusted, type SafeHtml } from './html.js'
import type { Subscription } from '../schemas/subscription.js'

const STYLE = `
:root{color-scheme:light dark;--fg:#1a1a1a;--bg:#fff;--muted:#555;--accent:#b3001b;--line:#ccc}
@media (prefers-color-scheme:dark){:root{--fg:#eee;--bg:#161616;--muted:#bbb;--accent:#ff6b7f;--line:#444}}
*{box-sizing:border-box}
body{margin:0;font:1.0625rem/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK KR","Noto Sans CJK SC",sans-serif;color:var(--fg);background:var(--bg)}
header,main,footer{max-width:40rem;margin:0 auto;padding:1rem 1.25rem}
header{border-bottom:4px solid var(--accent);font-weight:700}
h1{font-size:1.6rem;line-height:1.25;margin:.5rem 0 1rem}
h2{font-size:1.2rem;margin:2rem 0 .5rem}
p,li{max-width:65ch}
.muted,footer{color:var(--muted);font-size:.95rem}
.notice{border-left:4px solid var(--accent);padding:.5rem .75rem;margin:1rem 0;background:color-mix(in srgb,var(--accent) 8%,transparent)}
form{margin:1rem 0}
fieldset{border:1px solid var(--line);border-radius:6px;margin:1rem 0;padding:.75rem 1rem}
legend{font-weight:600;padding:0 .25rem}
label{display:flex;gap:.5rem;align-items:flex-start;padding:.25rem 0}
input[type=checkbox],input[type=radio]{width:1.25rem;height:1.25rem;margin-top:.2rem;flex:none}
select{font:inherit;padding:.5rem;min-height:44px;max-width:100%}
button{font:inherit;font-weight:600;min-height:44px;padding:.6rem 1.2rem;border-radius:6px;border:2px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer}
button.secondary{background:transparent;color:var(--accent)}
a{color:var(--accent)}
:focus-visible{outline:3px solid #1a73e8;outline-offset:2px}
details summary{cursor:pointer;padding:.25rem 0;font-weight:600}
.grid{columns:2 14rem;column-gap:1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
dt{font-weight:600}
dd{margin:0}
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

export function filtersSummary(locale: Locale, s: Pick<Subscription, 'countries' | 'themes' | 'minUrgency'>): string {
  const countries = s.countries.length > 0 ? s.countries.map((c) => countryName(locale, c)).join(', ') : t(locale, 'filters.allCountries')
  const themes = s.themes.length > 0 ? s.themes.map(themeLabel).join(', ') : t(locale, 'filters.allThemes')
  return t(locale, 'filters.summary', { countries, themes, urgency: t(locale, `urgency.${s.minUrgency}`) })
}

export function confirmPage(locale: Locale, o: PageOptions, token: string, s: Subscription): string {
  const action = `${o.basePath}/subscriptions/confirm/${token}`
  return layout(locale, t(locale, 'confirm.title'), html`
<p>${t(locale, 'confirm.intro', { email: s.email })}</p>
<p>${t(locale, 'confirm.filters', { filters: filtersSummary(locale, s) })}</p>
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
<p><a href="${o.basePath}/subscriptions/${manageToken}">${t(locale, 'confirmed.manage')}</a></p>`)
}

export function cancelledPage(locale: Locale): string {
  return layout(locale, t(locale, 'cancelled.title'), html`<p>${t(locale, 'cancelled.body')}</p>`)
}

export interface PreferencesPageData {
  token: string
  subscription: Subscription
  /** Themes worth offering (those of public appeals), plus the supporter's own. */
  themes: string[]
  notice?: 'saved' | 'invalid' | 'resubscribed'
}

export function preferencesPage(locale: Locale, o: PageOptions, d: PreferencesPageData): string {
  const s = d.subscription
  const action = `${o.basePath}/subscriptions/${d.token}`
  const collator = new Intl.Collator(locale)
  const countries = [...COUNTRY_CODES].map((code) => ({ code, name: countryName(locale, code) }))
    .sort((a, b) => collator.compare(a.name, b.name))
  const chosen = new Set(s.countries)
  const themes = [...new Set([...d.themes, ...s.themes])].sort()
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
<details>
<summary>${t(locale, 'prefs.countries')}: ${chosen.size > 0 ? t(locale, 'prefs.countriesChosen', { count: chosen.size }) : t(locale, 'filters.allCountries')}</summary>
<div class="grid">
${countries.map((c) => html`<label><input type="checkbox" name="countries" value="${c.code}"${chosen.has(c.code) ? html` checked` : ''}> <span>${c.name}</span></label>`)}
</div>
</details>
</fieldset>
${themes.length > 0 ? html`<fieldset>
<legend>${t(locale, 'prefs.themes')}</legend>
<p class="muted">${t(locale, 'prefs.themesHelp')}</p>
<div class="grid">
${themes.map((theme) => html`<label><input type="checkbox" name="themes" value="${theme}"${s.themes.includes(theme) ? html` checked` : ''}> <span>${themeLabel(theme)}</span></label>`)}
</div>
</fieldset>` : ''}
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
<form method="post" action="${action}/erase"><button type="submit" class="secondary">${t(locale, 'prefs.erase')}</button></form>`)
}

export function unsubscribedPage(locale: Locale, o: PageOptions, token: string): string {
  return layout(locale, t(locale, 'unsubscribed.title'), html`
<p>${t(locale, 'unsubscribed.body')}</p>
<h2>${t(locale, 'unsubscribed.undo')}</h2>
<form method="post" action="${o.basePath}/subscriptions/${token}/resubscribe">
<button type="submit" class="secondary">${t(locale, 'prefs.resubscribe')}</button>
</form>`)
}

export function erasedPage(locale: Locale): string {
  return layout(locale, t(locale, 'erased.title'), html`<p>${t(locale, 'erased.body')}</p>`)
}

export function errorPage(locale: Locale, kind: 'invalid' | 'expired' | 'pending'): string {
  return layout(locale, t(locale, `error.${kind}Title`), html`<p>${t(locale, `error.${kind}Body`)}</p>`)
}
