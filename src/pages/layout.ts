// Owns the frame of every page a person sees (supporter pages, the public
// site, and the console next): the document head, the one inline
// stylesheet, the header and footer. Pages pass their title and body (built
// with the tagged template of html.ts) and say what the head carries: a
// robots policy (indexable or not), a description, a canonical URL,
// `rel="alternate"` links (language versions, feeds), Open Graph meta and
// same-origin scripts. Nothing is ever loaded from another origin.
import { t, type Locale } from '../i18n/index.js'
import { html, trusted, type SafeHtml } from './html.js'

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
[hidden]{display:none!important}
.skip{position:absolute;left:-9999px;top:.5rem}
.skip:focus{left:.5rem;z-index:1;background:var(--bg);padding:.5rem 1rem}
header.site{display:flex;flex-wrap:wrap;align-items:center;gap:0 1rem;padding-top:.5rem;padding-bottom:.5rem}
header.site .brand{color:var(--fg);text-decoration:none;font-size:1.15rem;margin-right:auto;display:inline-flex;align-items:center;min-height:44px}
header.site ul{display:flex;flex-wrap:wrap;list-style:none;margin:0;padding:0}
header.site nav a{display:inline-flex;align-items:center;min-height:44px;padding:0 .45rem;font-weight:600}
header.site nav a[aria-current]{text-decoration-thickness:3px;text-underline-offset:4px}
header.site nav a:not([aria-current]){text-decoration:none}
.langs{width:100%;font-size:.95rem}
.langs a{font-weight:400!important}
.lead{font-size:1.15rem}
.meta{color:var(--muted);margin:.25rem 0}
.badge{display:inline-block;padding:0 .45rem;border-radius:4px;font-size:.875rem;font-weight:700;border:2px solid var(--accent);color:var(--accent)}
.badge-critical{background:var(--accent);color:var(--on-accent)}
.badge-normal{border-color:var(--muted);color:var(--fg)}
ul.cards,ul.targets{list-style:none;padding:0}
.card{border-top:1px solid var(--line);padding:.5rem 0 .75rem}
.card h2,.card h3{font-size:1.2rem;line-height:1.3;margin:.25rem 0}
.action{border:2px solid var(--accent);border-radius:8px;padding:0 1rem 1rem;margin:1.5rem 0}
.action>h2{margin-top:1rem}
h3{font-size:1.1rem;margin:1.5rem 0 .5rem}
.target{border-top:1px solid var(--line);margin-top:1rem}
.target h4{font-size:1.1rem;margin:.75rem 0 0}
.target h5{font-size:1rem;margin:1rem 0 .25rem}
.address{white-space:pre-line}
.letter{white-space:pre-wrap;border:1px solid var(--line);border-radius:6px;padding:.75rem 1rem;background:color-mix(in srgb,var(--fg) 5%,var(--bg))}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin:.75rem 0 0}
.actions .button{max-width:100%}
label.stacked{display:block;font-weight:600;padding:.2rem 0}
input[type=email],input[type=text],input[type=url],input[type=date],input[type=datetime-local]{font:inherit;width:100%;max-width:28rem;min-height:44px;padding:.5rem;color:var(--fg);background:var(--bg);border:1px solid var(--muted);border-radius:4px}
[aria-invalid=true]{border:2px solid var(--accent)!important}
.field-error{color:var(--accent);font-weight:600;margin:.25rem 0}
.notice.error h2{margin:.25rem 0}
.signup{border-top:4px solid var(--accent);margin-top:2.5rem}
.filters legend{font-size:1.1rem}
.filter-grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(11rem,1fr));gap:0 1rem}
.filter-grid p{margin:.25rem 0 .75rem}
.filter-grid select{width:100%}
.pages ul{display:flex;flex-wrap:wrap;gap:1rem;list-style:none;padding:0}
.pages a{display:inline-flex;align-items:center;min-height:44px}
.updates{padding-left:1.25rem}
.updates h3{margin-top:1rem}
.prose h3,.prose h4{font-size:1.05rem}
.outcome h2{margin:.5rem 0}
@media (max-width:30rem){dl.facts,.target dl{grid-template-columns:1fr;gap:0}dl.facts dd,.target dd{margin-bottom:.5rem}}
`
const trustedStyle = trusted(STYLE)

/** A `<link rel="alternate">`: a language version of the page (`hreflang`) or a feed (`type`). */
export interface AlternateLink {
  href: string
  hreflang?: string
  type?: string
  title?: string
}

/** Open Graph meta for sharing (read by the sharing site's crawler; no script, no tracker). */
export interface OpenGraph {
  type: 'website' | 'article'
  title: string
  description: string
  /** Absolute URL of the page. */
  url: string
}

export interface LayoutOptions {
  locale: Locale
  /** The page's h1, and the first part of its <title>. */
  title: string
  body: SafeHtml
  /** `lang` of the title when it is not in the page's language (an appeal not translated yet). */
  titleLang?: string
  /** Public pages may be indexed; anything else (supporter pages, errors, answers to forms) is `noindex`. */
  indexable?: boolean
  description?: string
  /** Absolute URL of this page as it should be indexed and shared. */
  canonical?: string
  alternates?: readonly AlternateLink[]
  openGraph?: OpenGraph
  /** Same-origin script URLs, loaded deferred (progressive enhancement only). */
  scripts?: readonly string[]
  /** The header's content (site name, navigation, language switcher); the site name alone when absent. */
  header?: SafeHtml
  /** Extra footer content, before the site's one line. */
  footer?: SafeHtml
  /** false: the body brings its own h1. */
  h1?: boolean
  /**
   * The document's referrer policy; `no-referrer` unless said. The console
   * says `same-origin`: with `no-referrer` a browser sends `Origin: null` on
   * form posts, and the console's cross-site check needs the real origin.
   */
  referrer?: 'no-referrer' | 'same-origin'
}

/** Right-to-left scripts an appeal's text may be written in (our own catalogues are all left-to-right). */
const RTL = new Set(['ar', 'arc', 'ckb', 'dv', 'fa', 'he', 'ks', 'ku-Arab', 'ps', 'sd', 'ug', 'ur', 'yi'])

/** ` lang="…"` (and ` dir="rtl"`) for text whose language is not the one around it; nothing when it is. */
export function langAttributes(language: string, around: string): SafeHtml {
  if (language.toLowerCase() === around.toLowerCase()) return html``
  const primary = language.split('-')[0]!.toLowerCase()
  return html` lang="${language}"${RTL.has(primary) ? html` dir="rtl"` : ''}`
}

function head(o: LayoutOptions): SafeHtml {
  const og = o.openGraph
  return html`${o.description ? html`<meta name="description" content="${o.description}">
` : ''}${o.canonical ? html`<link rel="canonical" href="${o.canonical}">
` : ''}${(o.alternates ?? []).map((a) => html`<link rel="alternate"${a.hreflang ? html` hreflang="${a.hreflang}"` : ''}${a.type ? html` type="${a.type}"` : ''}${a.title ? html` title="${a.title}"` : ''} href="${a.href}">
`)}${og ? html`<meta property="og:type" content="${og.type}">
<meta property="og:site_name" content="${t(o.locale, 'site.name')}">
<meta property="og:title" content="${og.title}">
<meta property="og:description" content="${og.description}">
<meta property="og:url" content="${og.url}">
<meta property="og:locale" content="${o.locale === 'zh-Hans' ? 'zh_CN' : o.locale}">
<meta name="twitter:card" content="summary">
` : ''}`
}

export function layout(o: LayoutOptions): string {
  const { locale } = o
  return html`<!doctype html>
<html lang="${locale}" dir="ltr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="${o.indexable ? 'index, follow' : 'noindex, nofollow'}">
<meta name="referrer" content="${o.referrer ?? 'no-referrer'}">
<link rel="icon" href="data:,">
<title>${o.title} · ${t(locale, 'site.name')}</title>
${head(o)}<style>${trustedStyle}</style>
${(o.scripts ?? []).map((src) => html`<script src="${src}" defer></script>
`)}</head>
<body>
${o.header ?? html`<header><span>${t(locale, 'site.name')}</span></header>`}
<main id="main">
${o.h1 === false ? '' : html`<h1${o.titleLang ? langAttributes(o.titleLang, locale) : ''}>${o.title}</h1>
`}${o.body}
</main>
<footer>${o.footer ?? ''}<p>${t(locale, 'site.footer')}</p></footer>
</body>
</html>
`.value
}
