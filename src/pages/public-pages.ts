// Owns the public site's pages (contract §8): the home page (open appeals,
// nearest deadline first, and the signup form), the index of appeals with
// its filters, the appeal page (summary, people at risk as counts, whom to
// write to and a ready letter for each, asks, deadline, follow-ups,
// outcome, sources, "I took action", signup), the hosted signup form and
// its one answer, and the 404/410 pages, which show nothing of an appeal.
//
// Pure functions of their inputs (the appeal as the public API shows it,
// the page's language, today's UTC date): routes/pages.ts caches what they
// return. No JavaScript is needed; the only script (copy-button.ts) adds
// copy buttons. Text an editor wrote that is not in the page's language is
// marked with its own `lang` (and `dir`).
import type { Appeal } from '../schemas/appeal.js'
import {
  countryName, formatDate, formatList, languageName, LOCALES, localeFor, t, themeLabel, type Locale, type MessageKey,
} from '../i18n/index.js'
import { pickContent } from '../email/alert-message.js'
import { markdownToHtml } from '../email/markdown.js'
import { html, trusted, type SafeHtml } from './html.js'
import { langAttributes, layout, type AlternateLink } from './layout.js'
import { byName, countryPicker, languageOptions, regions, themeCheckboxes, urgencyRadios } from './fields.js'
import { COPY_SCRIPT_PATH } from './copy-button.js'

/** Where and when a page is rendered: everything a page depends on besides its data. */
export interface Site {
  locale: Locale
  /** PUBLIC_BASE_URL without a trailing slash: absolute links (canonical, Open Graph, hreflang). */
  baseUrl: string
  /** Its path ('' or e.g. '/alerts'): same-origin links and form actions. */
  basePath: string
  /** Today as YYYY-MM-DD in UTC: "days left" count from it. */
  today: string
}

type Params = Record<string, string | undefined>

/**
 * `/appeals` + `{ country: 'CN' }` → `/appeals?country=CN&lang=fr` under the
 * base path; empty values dropped. Links carry the page's language, so a
 * page's bytes depend on its language alone, not on how it was chosen.
 */
function pageHref(site: Site, path: string, params: Params = {}, locale: string | null = site.locale): string {
  const query = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) if (value) query.set(key, value)
  if (locale) query.set('lang', locale)
  const search = query.toString()
  return `${site.basePath}${path}${search ? `?${search}` : ''}`
}

const absolute = (site: Site, href: string) => `${site.baseUrl}${href.slice(site.basePath.length)}`

const pluralRules = new Map<Locale, Intl.PluralRules>()
const numberFormats = new Map<Locale, Intl.NumberFormat>()

/** `{count} people` or `{count} person`, by the language's plural rules, the number written as the reader writes it. */
function counted(locale: Locale, key: string, count: number): string {
  let rules = pluralRules.get(locale)
  if (!rules) pluralRules.set(locale, rules = new Intl.PluralRules(locale))
  let format = numberFormats.get(locale)
  if (!format) numberFormats.set(locale, format = new Intl.NumberFormat(locale))
  return t(locale, `${key}.${rules.select(count) === 'one' ? 'one' : 'other'}` as MessageKey, { count: format.format(count) })
}

// ---- The frame of public pages ------------------------------------------------

interface Frame {
  title: string
  body: SafeHtml
  /** The page's own path and parameters: language links and canonical URL. */
  path: string
  params?: Params
  indexable: boolean
  description?: string
  titleLang?: string
  /** Which item of the site navigation this page is. */
  current?: 'home' | 'appeals' | 'subscribe'
  alternates?: AlternateLink[]
  openGraph?: 'website' | 'article'
  scripts?: string[]
}

function frame(site: Site, f: Frame): string {
  const { locale } = site
  const here = (lang: string) => pageHref(site, f.path, f.params, lang)
  const nav = (key: 'home' | 'appeals' | 'subscribe', path: string, label: string) =>
    html`<li><a href="${pageHref(site, path)}"${f.current === key ? html` aria-current="page"` : ''}>${label}</a></li>`
  const header = html`<a class="skip" href="#main">${t(locale, 'pub.skip')}</a>
<header class="site">
<a class="brand" href="${pageHref(site, '/')}">${t(locale, 'site.name')}</a>
<nav aria-label="${t(locale, 'pub.nav.site')}"><ul>
${nav('appeals', '/appeals', t(locale, 'pub.nav.appeals'))}
${nav('subscribe', '/subscribe', t(locale, 'pub.nav.subscribe'))}
</ul></nav>
<nav aria-label="${t(locale, 'pub.nav.languages')}"><ul class="langs">
${LOCALES.map((lang) => html`<li><a href="${here(lang)}" hreflang="${lang}" lang="${lang}"${lang === locale ? html` aria-current="true"` : ''}>${t(lang, 'page.langName')}</a></li>
`)}</ul></nav>
</header>`
  const feedTitle = t(locale, 'pub.feed.title')
  const feeds: AlternateLink[] = [
    { href: `${site.basePath}/feeds/appeals.atom?lang=${locale}`, type: 'application/atom+xml', title: feedTitle },
    { href: `${site.basePath}/feeds/appeals.json?lang=${locale}`, type: 'application/feed+json', title: feedTitle },
  ]
  const languages: AlternateLink[] = f.indexable
    ? [...LOCALES.map((lang) => ({ href: absolute(site, here(lang)), hreflang: lang })),
        { href: absolute(site, pageHref(site, f.path, f.params, null)), hreflang: 'x-default' }]
    : []
  const canonical = absolute(site, here(locale))
  const description = f.description ?? t(locale, 'pub.home.intro')
  const footer = html`<p>${t(locale, 'pub.feeds')}
<a href="${feeds[0]!.href}">${t(locale, 'pub.feeds.atom')}</a> ·
<a href="${feeds[1]!.href}">${t(locale, 'pub.feeds.json')}</a></p>
`
  return layout({
    locale, title: f.title, body: f.body, indexable: f.indexable, header, footer,
    ...(f.titleLang ? { titleLang: f.titleLang } : {}),
    description,
    ...(f.indexable ? { canonical } : {}),
    alternates: [...languages, ...feeds, ...(f.alternates ?? [])],
    ...(f.openGraph ? { openGraph: { type: f.openGraph, title: f.title, description, url: canonical } } : {}),
    ...(f.scripts ? { scripts: f.scripts } : {}),
  })
}

// ---- Pieces shared by the pages -----------------------------------------------

/** Days from `today` to `deadline` (both YYYY-MM-DD, UTC calendar days). */
function daysLeft(today: string, deadline: string): number {
  return Math.round((Date.parse(`${deadline}T00:00:00Z`) - Date.parse(`${today}T00:00:00Z`)) / 86_400_000)
}

/** "Act by 30 June 2099 (27 days left)", "… (last day today)", or "The deadline was …". */
function deadlineText(site: Site, deadline: string): string {
  const { locale } = site
  const date = formatDate(locale, deadline)
  const left = daysLeft(site.today, deadline)
  if (left < 0) return t(locale, 'pub.deadline.passed', { date })
  const remaining = left === 0 ? t(locale, 'pub.deadline.today') : counted(locale, 'pub.deadline.daysLeft', left)
  return t(locale, 'pub.deadline.actBy', { date, remaining })
}

const countriesOf = (locale: Locale, codes: readonly string[]) => formatList(locale, codes.map((c) => countryName(locale, c)))

function badge(locale: Locale, appeal: Appeal): SafeHtml {
  return html`<span class="badge badge-${appeal.urgency}">${t(locale, `urgency.label.${appeal.urgency}`)}</span>`
}

/** One appeal in a list: title linking to its page, urgency, countries, deadline or outcome, summary. */
function card(site: Site, appeal: Appeal, level: 'h2' | 'h3'): SafeHtml {
  const { locale } = site
  const content = pickContent(appeal, locale)
  const lang = langAttributes(content.language, locale)
  const heading = html`<a href="${pageHref(site, `/appeals/${appeal.id}`)}">${content.title}</a>`
  const status = appeal.status === 'closed'
    ? html`<strong>${t(locale, 'pub.status.closed')}${appeal.outcome ? html` · ${t(locale, 'pub.outcome', { outcome: t(locale, `outcome.${appeal.outcome.code}`) })}` : ''}</strong>`
    : appeal.actionDeadline ? html`<strong>${deadlineText(site, appeal.actionDeadline)}</strong>` : ''
  return html`<li class="card">
${level === 'h2' ? html`<h2${lang}>${heading}</h2>` : html`<h3${lang}>${heading}</h3>`}
<p class="meta">${badge(locale, appeal)} <span>${countriesOf(locale, appeal.countries)}</span>${status ? html` · ${status}` : ''}</p>
<p${lang}>${content.summary}</p>
</li>
`
}

const cards = (site: Site, appeals: readonly Appeal[], level: 'h2' | 'h3') =>
  html`<ul class="cards">
${appeals.map((a) => card(site, a, level))}</ul>`

export type SignupField = 'email' | 'language' | 'countries' | 'themes' | 'minUrgency'
export const SIGNUP_FIELDS: readonly SignupField[] = ['email', 'language', 'countries', 'themes', 'minUrgency']

const FIELD_LABEL: Record<SignupField, MessageKey> = {
  email: 'pub.signup.email', language: 'prefs.language', countries: 'prefs.countries', themes: 'prefs.themes', minUrgency: 'prefs.urgency',
}
const FIELD_ERROR: Record<SignupField, MessageKey> = {
  email: 'pub.error.email', language: 'pub.error.language', countries: 'pub.error.countries', themes: 'pub.error.themes', minUrgency: 'pub.error.minUrgency',
}

/** The short signup form of the home and appeal pages: an address and a language; the rest on /subscribe. */
function signupBox(site: Site): SafeHtml {
  const { locale } = site
  return html`<section class="signup" aria-labelledby="signup-title">
<h2 id="signup-title">${t(locale, 'pub.signup.title')}</h2>
<p>${t(locale, 'pub.signup.intro')}</p>
<form method="post" action="${pageHref(site, '/subscribe')}">
<p><label class="stacked" for="signup-email">${t(locale, 'pub.signup.email')}</label>
<input id="signup-email" name="email" type="email" autocomplete="email" inputmode="email" maxlength="254" required></p>
<p><label class="stacked" for="signup-language">${t(locale, 'prefs.language')}</label>
<select id="signup-language" name="language">
${languageOptions(LOCALES, locale)}
</select></p>
<p class="muted">${t(locale, 'pub.signup.privacy')}</p>
<button type="submit">${t(locale, 'pub.signup.button')}</button>
</form>
<p><a href="${pageHref(site, '/subscribe')}">${t(locale, 'pub.signup.more')}</a></p>
</section>`
}

// ---- Home ---------------------------------------------------------------------------

/**
 * Open appeals, nearest deadline first: deadlines still ahead (soonest
 * first), then appeals without a deadline (newest first), then those whose
 * deadline has passed (most recent first).
 */
function byNearestDeadline(today: string, appeals: readonly Appeal[]): Appeal[] {
  const rank = (a: Appeal) => (a.actionDeadline === null ? 1 : a.actionDeadline >= today ? 0 : 2)
  return [...appeals].sort((a, b) => {
    const ra = rank(a)
    const rb = rank(b)
    if (ra !== rb) return ra - rb
    if (ra === 0) return a.actionDeadline!.localeCompare(b.actionDeadline!) || (b.publishedAt ?? '').localeCompare(a.publishedAt ?? '')
    if (ra === 2) return b.actionDeadline!.localeCompare(a.actionDeadline!)
    return (b.publishedAt ?? '').localeCompare(a.publishedAt ?? '')
  })
}

/** How many open appeals the home page lists; the index has them all. */
const HOME_LIMIT = 20

export function homePage(site: Site, open: readonly Appeal[]): string {
  const { locale } = site
  const shown = byNearestDeadline(site.today, open).slice(0, HOME_LIMIT)
  return frame(site, {
    title: t(locale, 'pub.home.title'), path: '/', indexable: true, current: 'home', openGraph: 'website',
    body: html`<p class="lead">${t(locale, 'pub.home.intro')}</p>
<h2>${t(locale, 'pub.home.open')}</h2>
${shown.length > 0 ? cards(site, shown, 'h3') : html`<p>${t(locale, 'pub.home.none')}</p>`}
<p><a href="${pageHref(site, '/appeals')}">${t(locale, 'pub.home.all')}</a></p>
${signupBox(site)}`,
  })
}

// ---- Index ----------------------------------------------------------------------------

export interface IndexFilters { country?: string; theme?: string; urgency?: string; status?: string; cursor?: string }
export const INDEX_FILTERS = ['country', 'theme', 'urgency', 'status'] as const
export type IndexFilter = (typeof INDEX_FILTERS)[number]

export interface IndexPageData {
  filters: IndexFilters
  /** null: the filters were not valid (a 400 page naming them). */
  items: readonly Appeal[] | null
  nextCursor: string | null
  invalid?: readonly IndexFilter[]
  /** The `cursor` was not one the list issued (a 400 page offering the first page). */
  badCursor?: boolean
  /** Themes the filter offers: the catalogue's and public appeals'. */
  themes: ReadonlySet<string>
}

const FILTER_LABEL: Record<IndexFilter, MessageKey> = {
  country: 'pub.filter.country', theme: 'pub.filter.theme', urgency: 'pub.filter.urgency', status: 'pub.filter.status',
}

function errorSummary(locale: Locale, items: { href: string; text: string }[]): SafeHtml {
  return html`<div class="notice error" role="alert" tabindex="-1" id="problems">
<h2>${t(locale, 'pub.error.summary')}</h2>
<ul>${items.map((i) => html`<li><a href="${i.href}">${i.text}</a></li>`)}</ul>
</div>`
}

function filterForm(site: Site, d: IndexPageData): SafeHtml {
  const { locale } = site
  const f = d.filters
  const any = t(locale, 'pub.filter.any')
  const option = (value: string, label: string, chosen: string | undefined) =>
    html`<option value="${value}"${value === chosen ? html` selected` : ''}>${label}</option>`
  const invalid = (name: IndexFilter) => (d.invalid?.includes(name) ? html` aria-invalid="true" aria-describedby="problems"` : '')
  const themes = [...d.themes].map((slug) => ({ slug, name: themeLabel(locale, slug) })).sort(byName(locale))
  return html`<form method="get" action="${site.basePath}/appeals" class="filters">
<fieldset>
<legend>${t(locale, 'pub.filter.title')}</legend>
<input type="hidden" name="lang" value="${locale}">
<div class="filter-grid">
<p><label class="stacked" for="f-country">${t(locale, 'pub.filter.country')}</label>
<select id="f-country" name="country"${invalid('country')}>
${option('', any, f.country ?? '')}
${regions(locale).map((r) => html`<optgroup label="${r.name}">${r.countries.map((c) => option(c.code, c.name, f.country))}</optgroup>
`)}</select></p>
<p><label class="stacked" for="f-theme">${t(locale, 'pub.filter.theme')}</label>
<select id="f-theme" name="theme"${invalid('theme')}>
${option('', any, f.theme ?? '')}
${themes.map((theme) => option(theme.slug, theme.name, f.theme))}
</select></p>
<p><label class="stacked" for="f-urgency">${t(locale, 'pub.filter.urgency')}</label>
<select id="f-urgency" name="urgency"${invalid('urgency')}>
${option('', any, f.urgency ?? '')}
${(['critical', 'high', 'normal'] as const).map((u) => option(u, t(locale, `urgency.label.${u}`), f.urgency))}
</select></p>
<p><label class="stacked" for="f-status">${t(locale, 'pub.filter.status')}</label>
<select id="f-status" name="status"${invalid('status')}>
${option('', any, f.status ?? '')}
${(['published', 'closed'] as const).map((s) => option(s, t(locale, `pub.status.${s}`), f.status))}
</select></p>
</div>
<button type="submit">${t(locale, 'pub.filter.apply')}</button>
${INDEX_FILTERS.some((k) => f[k]) ? html` <a class="button secondary" href="${pageHref(site, '/appeals')}">${t(locale, 'pub.filter.clear')}</a>` : ''}
</fieldset>
</form>`
}

export function indexPage(site: Site, d: IndexPageData): string {
  const { locale } = site
  const params: Params = { ...d.filters }
  const filtersOnly: Params = { country: d.filters.country, theme: d.filters.theme, urgency: d.filters.urgency, status: d.filters.status }
  const list = d.items === null ? ''
    : d.items.length === 0 ? html`<p>${t(locale, 'pub.index.none')}</p>`
      : cards(site, d.items, 'h2')
  return frame(site, {
    title: t(locale, 'pub.index.title'), path: '/appeals', params, current: 'appeals', openGraph: 'website',
    // Filtered and later pages are for people, not for search engines.
    indexable: d.items !== null && !d.filters.cursor && !INDEX_FILTERS.some((k) => d.filters[k]),
    description: t(locale, 'pub.index.description'),
    body: html`${(d.invalid && d.invalid.length > 0) || d.badCursor
      ? errorSummary(locale, [
        ...(d.invalid ?? []).map((name) => ({ href: `#f-${name}`, text: t(locale, 'pub.error.filter', { field: t(locale, FILTER_LABEL[name]) }) })),
        ...(d.badCursor ? [{ href: pageHref(site, '/appeals', filtersOnly), text: t(locale, 'pub.error.cursor') }] : []),
      ])
      : ''}
${filterForm(site, d)}
${list}
${d.nextCursor || d.filters.cursor ? html`<nav class="pages" aria-label="${t(locale, 'pub.index.pages')}"><ul>
${d.filters.cursor ? html`<li><a href="${pageHref(site, '/appeals', filtersOnly)}">${t(locale, 'pub.index.first')}</a></li>` : ''}
${d.nextCursor ? html`<li><a href="${pageHref(site, '/appeals', { ...filtersOnly, cursor: d.nextCursor })}" rel="next">${t(locale, 'pub.index.next')}</a></li>` : ''}
</ul></nav>` : ''}`,
  })
}

// ---- The appeal page ---------------------------------------------------------------------

const PEOPLE_PARTS = ['women', 'men', 'girls', 'boys', 'minors'] as const

/** "7 people, among them 3 women, 3 men and 1 girl": counts only. */
function peopleText(locale: Locale, p: Appeal['peopleAtRisk']): string {
  const total = counted(locale, p.atLeast ? 'pub.people.atLeast' : 'pub.people.total', p.total)
  const parts = PEOPLE_PARTS.filter((k) => (p[k] ?? 0) > 0).map((k) => counted(locale, `pub.people.${k}`, p[k]!))
  return parts.length > 0 ? t(locale, 'pub.people.among', { total, parts: formatList(locale, parts) }) : total
}

/** A language of ours in which a letter's fixed wording exists, for a BCP 47 tag; null if none. */
function catalogueFor(tag: string): Locale | null {
  const primary = tag.split('-')[0]!.toLowerCase()
  if (primary === 'zh') return /-(Hant|TW|HK|MO)\b/i.test(tag) ? null : 'zh-Hans' // we write Simplified Chinese only
  return (LOCALES as readonly string[]).includes(primary) ? localeFor(primary) : null
}

export interface Letter {
  /** BCP 47 tag of the text the letter quotes (a version of the appeal). */
  language: string
  /** The catalogue of the letter's own wording. */
  locale: Locale
  /** Why it is in that language: the target's, the page's, or the appeal's own when the page's has no version. */
  why: 'preferred' | 'page' | 'original'
  subject: string
  text: string
}

const primaryOf = (tag: string) => tag.split('-')[0]!.toLowerCase()

/**
 * The ready letter to one target, in one language throughout: the target's
 * preferred language when the appeal has a version in it (the original or
 * a translation) and we have the letter's wording in that language; else
 * the page's language when the appeal has a version in it; else the
 * language the appeal was written in, which is what the page shows. The
 * target's own salutation is used when the letter is in the appeal's
 * original language (the one the editor wrote it in); otherwise a greeting
 * from the catalogue.
 */
function readyLetter(appeal: Appeal, target: Appeal['targets'][number], pageLocale: Locale): Letter {
  const hasVersion = (tag: string) => primaryOf(pickContent(appeal, tag).language) === primaryOf(tag)
  const preferred = target.preferredLanguage && hasVersion(target.preferredLanguage) ? catalogueFor(target.preferredLanguage) : null
  const original = catalogueFor(appeal.language)
  const [locale, why]: [Locale, Letter['why']] = preferred && preferred !== pageLocale ? [preferred, 'preferred']
    : hasVersion(pageLocale) || !original ? [pageLocale, 'page']
      : [original, 'original']
  const content = pickContent(appeal, locale)
  // The catalogue's wording brings its own punctuation.
  const bare = (text: string) => text.trim().replace(/[\s.,:;!。，：；！]+$/u, '')
  const greeting = target.salutation && primaryOf(content.language) === primaryOf(appeal.language)
    ? t(locale, 'letter.salutationGiven', { salutation: bare(target.salutation) })
    : t(locale, 'letter.salutation', { name: target.name })
  const asks = content.asks.map((a) => `- ${a}`).join('\n')
  const text = [
    greeting, '',
    t(locale, 'letter.intro', { title: bare(content.title) }), '',
    content.summary, '',
    ...(asks ? [t(locale, 'letter.urge'), asks, ''] : []),
    t(locale, 'letter.closing'),
    t(locale, 'letter.signature'),
  ].join('\n')
  return { language: content.language, locale, why, subject: content.title, text }
}

/** mailto: with the letter, unless that makes a link too long for some mail clients (then the subject only). */
function mailtoHref(email: string, letter: Letter): string {
  const base = `mailto:${encodeURIComponent(email).replace(/%40/g, '@')}?subject=${encodeURIComponent(letter.subject)}`
  const full = `${base}&body=${encodeURIComponent(letter.text)}`
  return full.length <= 2000 ? full : base
}

function targetBlock(site: Site, appeal: Appeal, target: Appeal['targets'][number], index: number): SafeHtml {
  const { locale } = site
  const letter = readyLetter(appeal, target, locale)
  const id = `letter-${index + 1}`
  return html`<li class="target">
<h4>${target.name}</h4>
${target.title ? html`<p class="muted">${target.title}</p>` : ''}
<dl>
${target.salutation ? html`<dt>${t(locale, 'mail.salutation')}</dt><dd>${target.salutation}</dd>` : ''}
${target.address ? html`<dt>${t(locale, 'mail.postalAddress')}</dt><dd class="address">${target.address}</dd>` : ''}
${target.email ? html`<dt>${t(locale, 'pub.target.email')}</dt><dd>${target.email}</dd>` : ''}
${target.preferredLanguage ? html`<dt>${t(locale, 'pub.target.language')}</dt><dd>${languageName(locale, target.preferredLanguage)}</dd>` : ''}
</dl>
<h5>${t(locale, 'pub.letter.title', { name: target.name })}</h5>
${letter.why !== 'page' ? html`<p class="muted">${t(locale, letter.why === 'preferred' ? 'pub.letter.inPreferred' : 'pub.letter.inOriginal', { language: languageName(locale, letter.language) })}</p>` : ''}
<div class="letter" id="${id}"${langAttributes(letter.language, locale)}>${letter.text}</div>
<p class="actions"><button type="button" class="secondary" data-copy="${id}" data-status="${id}-status" data-copied="${t(locale, 'pub.letter.copied')}" data-failed="${t(locale, 'pub.letter.copyFailed')}" hidden>${t(locale, 'pub.letter.copy')}</button>
${target.email ? html`<a class="button" href="${mailtoHref(target.email, letter)}">${t(locale, 'mail.emailButton', { name: target.name })}</a>` : ''}</p>
<p class="muted" id="${id}-status" role="status"></p>
</li>
`
}

export interface AppealPageData {
  appeal: Appeal
  /** The visitor came back from "I took action" (`?acted=1`): thanks instead of the button. */
  acted?: boolean
  /** Actions taken on the appeal so far, shown with the thanks. */
  actionsTaken?: number
}

export function appealPage(site: Site, d: AppealPageData): string {
  const { locale } = site
  const { appeal } = d
  const content = pickContent(appeal, locale)
  const inPage = langAttributes(content.language, locale)
  const asksLang = langAttributes(content.asksLanguage, locale)
  // Follow-ups and outcome notes are written once, in the original's language.
  const originalLang = langAttributes(appeal.language, locale)
  const open = appeal.status === 'published'
  // The button's route (routes/actions.ts) answers 303 back here, `?acted=1`, keeping `lang`.
  const actionsPath = `${site.basePath}/appeals/${appeal.id}/actions?lang=${locale}`
  const outcome = appeal.outcome

  const facts = html`<dl class="facts">
<dt>${t(locale, 'pub.people.title')}</dt><dd>${peopleText(locale, appeal.peopleAtRisk)}</dd>
<dt>${t(locale, 'mail.countries')}</dt><dd>${countriesOf(locale, appeal.countries)}</dd>
${appeal.themes.length > 0 ? html`<dt>${t(locale, 'pub.appeal.themes')}</dt><dd>${formatList(locale, appeal.themes.map((th) => themeLabel(locale, th)))}</dd>` : ''}
${open && appeal.actionDeadline ? html`<dt>${t(locale, 'pub.appeal.deadline')}</dt><dd><strong>${deadlineText(site, appeal.actionDeadline)}</strong></dd>` : ''}
${appeal.publishedAt ? html`<dt>${t(locale, 'pub.appeal.published')}</dt><dd>${formatDate(locale, appeal.publishedAt)}</dd>` : ''}
</dl>`

  const acted = d.acted
    ? html`<div class="notice" role="status">
<p><strong>${t(locale, 'pub.acted.thanks')}</strong></p>
${d.actionsTaken !== undefined && d.actionsTaken > 0 ? html`<p>${counted(locale, 'pub.acted.count', d.actionsTaken)}</p>` : ''}
</div>`
    : html`<p>${t(locale, 'pub.acted.help')}</p>
<form method="post" action="${actionsPath}">
<button type="submit">${t(locale, 'pub.acted.button')}</button>
</form>`

  const action = open ? html`<section class="action" aria-labelledby="act-now">
<h2 id="act-now">${t(locale, 'pub.act.title')}</h2>
${appeal.actionDeadline ? html`<p><strong>${deadlineText(site, appeal.actionDeadline)}</strong></p>` : ''}
<h3>${t(locale, 'pub.act.asks')}</h3>
<ol${asksLang}>${content.asks.map((a) => html`<li>${a}</li>`)}</ol>
${appeal.targets.length > 0 ? html`<h3>${t(locale, 'mail.writeTo')}</h3>
<p>${t(locale, 'pub.letter.help')}</p>
<ul class="targets">
${appeal.targets.map((target, i) => targetBlock(site, appeal, target, i))}</ul>` : ''}
<section id="act" aria-labelledby="act-title">
<h3 id="act-title">${t(locale, 'pub.acted.title')}</h3>
${acted}
</section>
</section>` : html`<h2>${t(locale, 'pub.closed.asks')}</h2>
<ol${asksLang}>${content.asks.map((a) => html`<li>${a}</li>`)}</ol>`

  const outcomeBox = outcome ? html`<section class="notice outcome" aria-labelledby="outcome-title">
<h2 id="outcome-title">${t(locale, 'pub.outcome', { outcome: t(locale, `outcome.${outcome.code}`) })}</h2>
${outcome.note ? html`<p${originalLang}>${outcome.note}</p>` : ''}
<p>${t(locale, 'mail.closed')}</p>
</section>` : ''

  const updates = appeal.updates.length > 0 ? html`<h2>${t(locale, 'pub.updates.title')}</h2>
<ol class="updates">
${appeal.updates.map((u) => html`<li>
<h3>${t(locale, 'mail.update', { number: u.number })} <span class="muted">· ${formatDate(locale, u.publishedAt)}</span></h3>
<div${originalLang}>${trusted(markdownToHtml(u.body))}</div>
</li>
`)}</ol>` : ''

  const body = content.body ? html`<h2>${t(locale, 'mail.background')}</h2>
<div class="prose"${langAttributes(content.bodyLanguage, locale)}>${trusted(markdownToHtml(content.body))}</div>` : ''

  const sources = appeal.sources.length > 0 ? html`<h2>${t(locale, 'mail.sources')}</h2>
<ul>${appeal.sources.map((s) => html`<li><a href="${s.url}" rel="noopener noreferrer">${s.title}</a>${s.publisher ? html` (${s.publisher})` : ''}${s.publishedOn ? html`, ${formatDate(locale, s.publishedOn)}` : ''}</li>`)}</ul>` : ''

  const legal = appeal.legalBasis.length > 0 ? html`<h2>${t(locale, 'pub.legalBasis')}</h2>
<ul${originalLang}>${appeal.legalBasis.map((l) => html`<li>${l}</li>`)}</ul>` : ''

  return frame(site, {
    title: content.title, titleLang: content.language, path: `/appeals/${appeal.id}`,
    indexable: !d.acted, openGraph: 'article', description: content.summary,
    scripts: open && appeal.targets.length > 0 ? [`${site.basePath}${COPY_SCRIPT_PATH}`] : [],
    alternates: [{ href: `${site.basePath}/appeals/${appeal.id}/cap.xml`, type: 'application/cap+xml', title: t(locale, 'pub.feeds.cap') }],
    body: html`<p class="meta">${badge(locale, appeal)} <span>${t(locale, 'pub.appeal.reference', { reference: appeal.reference })}</span>${appeal.status === 'closed' ? html` · <strong>${t(locale, 'pub.status.closed')}</strong>` : ''}</p>
${content.language.toLowerCase() !== locale.toLowerCase() && catalogueFor(content.language) !== locale
    ? html`<p class="muted">${t(locale, 'pub.appeal.notTranslated', { language: languageName(locale, content.language) })}</p>` : ''}
${outcomeBox}
<p class="lead"${inPage}>${content.summary}</p>
${facts}
${action}
${updates}
${body}
${legal}
${sources}
<p class="muted"><a href="${site.basePath}/appeals/${appeal.id}/cap.xml">${t(locale, 'pub.feeds.cap')}</a></p>
${signupBox(site)}`,
  })
}

// ---- Signup ----------------------------------------------------------------------------------

export interface SignupValues {
  email: string
  language: string
  countries: readonly string[]
  themes: readonly string[]
  minUrgency: string
}

export interface SubscribePageData {
  /** Themes the form offers: the catalogue's and public appeals'. */
  themes: ReadonlySet<string>
  /** What was posted, when it is shown again with `invalid`. */
  values?: SignupValues
  invalid?: readonly SignupField[]
}

export function subscribePage(site: Site, d: SubscribePageData): string {
  const { locale } = site
  const v = d.values ?? { email: '', language: locale, countries: [], themes: [], minUrgency: 'normal' }
  const bad = (field: SignupField) => d.invalid?.includes(field) ?? false
  const describedBy = (field: SignupField) => (bad(field) ? html` aria-invalid="true" aria-describedby="${field}-error"` : '')
  // A group (fieldset) takes no aria-invalid: its error is described only.
  const groupDescribedBy = (field: SignupField) => (bad(field) ? html` aria-describedby="${field}-error"` : '')
  const fieldError = (field: SignupField) => (bad(field) ? html`<p class="field-error" id="${field}-error">${t(locale, FIELD_ERROR[field])}</p>` : '')
  const languages = [...new Set<string>([...LOCALES, ...(v.language && bad('language') ? [] : [v.language])])].filter(Boolean)
  const invalid = d.invalid ?? []
  return frame(site, {
    title: t(locale, 'pub.subscribe.title'), path: '/subscribe', current: 'subscribe',
    indexable: invalid.length === 0 && d.values === undefined, openGraph: 'website',
    description: t(locale, 'pub.signup.intro'),
    body: html`${invalid.length > 0
      ? errorSummary(locale, invalid.map((field) => ({ href: field === 'email' || field === 'language' ? `#${field}` : `#${field}-legend`, text: `${t(locale, FIELD_LABEL[field])}: ${t(locale, FIELD_ERROR[field])}` })))
      : ''}
<p>${t(locale, 'pub.signup.intro')}</p>
<form method="post" action="${pageHref(site, '/subscribe')}">
<p><label class="stacked" for="email">${t(locale, 'pub.signup.email')}</label>
${fieldError('email')}<input id="email" name="email" type="email" autocomplete="email" inputmode="email" maxlength="254" required value="${v.email}"${describedBy('email')}></p>
<p><label class="stacked" for="language">${t(locale, 'prefs.language')}</label>
${fieldError('language')}<select id="language" name="language"${describedBy('language')}>
${languageOptions(languages, v.language)}
</select></p>
<fieldset${groupDescribedBy('minUrgency')}>
<legend id="minUrgency-legend" tabindex="-1">${t(locale, 'prefs.urgency')}</legend>
${fieldError('minUrgency')}${urgencyRadios(locale, v.minUrgency)}
</fieldset>
<fieldset${groupDescribedBy('countries')}>
<legend id="countries-legend" tabindex="-1">${t(locale, 'prefs.countries')}</legend>
${fieldError('countries')}<p class="muted">${t(locale, 'prefs.countriesHelp')}</p>
${countryPicker(locale, new Set(v.countries))}
</fieldset>
<fieldset${groupDescribedBy('themes')}>
<legend id="themes-legend" tabindex="-1">${t(locale, 'prefs.themes')}</legend>
${fieldError('themes')}<p class="muted">${t(locale, 'prefs.themesHelp')}</p>
${themeCheckboxes(locale, d.themes, v.themes)}
</fieldset>
<p class="muted">${t(locale, 'pub.signup.privacy')}</p>
<button type="submit">${t(locale, 'pub.signup.button')}</button>
</form>`,
  })
}

/** The one answer to a signup, whatever the address's state (new, pending, subscribed, unsubscribed, blocked). */
export function subscribeSentPage(site: Site): string {
  const { locale } = site
  return frame(site, {
    title: t(locale, 'pub.sent.title'), path: '/subscribe', current: 'subscribe', indexable: false,
    body: html`<p>${t(locale, 'pub.sent.body')}</p>
<p class="muted">${t(locale, 'pub.sent.spam')}</p>
<p><a href="${pageHref(site, '/appeals')}">${t(locale, 'pub.sent.back')}</a></p>`,
  })
}

// ---- 404 and 410 --------------------------------------------------------------------------------

/** Unknown, draft or embargoed: nothing says whether such an appeal exists. */
export function notFoundPage(site: Site, path: string): string {
  const { locale } = site
  return frame(site, {
    title: t(locale, 'pub.notFound.title'), path, indexable: false,
    body: html`<p>${t(locale, 'pub.notFound.body')}</p>
<p><a href="${pageHref(site, '/appeals')}">${t(locale, 'pub.home.all')}</a></p>`,
  })
}

/** Too many requests from one address (the public rate limit): wait and retry. */
export function tooManyPage(site: Site, path: string): string {
  const { locale } = site
  return frame(site, {
    title: t(locale, 'pub.tooMany.title'), path, indexable: false,
    body: html`<p>${t(locale, 'pub.tooMany.body')}</p>`,
  })
}

/** Withdrawn by its organisation: said, and nothing of it shown. */
export function gonePage(site: Site, path: string): string {
  const { locale } = site
  return frame(site, {
    title: t(locale, 'pub.gone.title'), path, indexable: false,
    body: html`<p>${t(locale, 'pub.gone.body')}</p>
<p><a href="${pageHref(site, '/appeals')}">${t(locale, 'pub.home.all')}</a></p>`,
  })
}
