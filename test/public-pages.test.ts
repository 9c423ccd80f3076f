// The public site over HTTP (contract §8), what the browser test
// (public-pages-browser.test.ts) does not look at: what caches and crawlers
// see — ETag, Last-Modified, 304, Cache-Control, Vary, Content-Language, a
// page changed through the API never answered from an old validator — the
// language of every page, the appeal page's head (Open Graph, alternates,
// hreflang) and its strict CSP, nothing from other origins; 404/410 pages
// that show nothing and are never stored; the thank-you; the index's
// filters, 400 pages and cursor pagination; the hosted signup form's
// neutral answer, its 400 page and its 429 page; the home page's order.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { LOCALES, t as msg, type Locale, type MessageKey } from '../src/i18n/index.js'
import { COPY_SCRIPT_PATH } from '../src/pages/copy-button.js'
import { escapeHtml } from '../src/pages/html.js'
import { buildTestApp, type TestApp } from './helpers/context.js'
import { eventually } from './helpers/eventually.js'
import { anAppeal, createDraft, createPublished, expectStatus, type Tap } from './helpers/liaoning.js'
import { CHINESE, FRENCH, publishEverything, secretAppeal, seedSite } from './helpers/public-site.js'

const BASE = 'https://appeals.example.org'
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
/** Every text field of the seed's hidden appeals carries one of these (public-site.ts). */
const MARKERS = /DRAFTMARK|EMBARGOMARK|WITHDRAWNMARK|WDRAFTMARK|LATERMARK/i

type Res = Awaited<ReturnType<TestApp['request']>>

const get = (ctx: TestApp, url: string, headers: Record<string, string> = {}) => ctx.request(null, 'GET', url, undefined, headers)
const postForm = (ctx: TestApp, url: string, form: string, headers: Record<string, string> = {}) =>
  ctx.app.inject({ method: 'POST', url, headers: { ...FORM, accept: 'text/html', ...headers }, payload: form })

/** A catalogue string as it appears in the page's HTML. */
const text = (locale: Locale, key: MessageKey, params: Record<string, string | number> = {}) => escapeHtml(msg(locale, key, params))

const decode = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')

/** The attributes of each tag named `tag`, decoded. */
function tags(body: string, tag: string): Record<string, string>[] {
  return [...body.matchAll(new RegExp(`<${tag}\\b([^>]*)>`, 'g'))].map((m) =>
    Object.fromEntries([...m[1]!.matchAll(/([\w:-]+)(?:="([^"]*)")?/g)].map((a) => [a[1]!, decode(a[2] ?? '')])))
}
const meta = (body: string, property: string) => tags(body, 'meta').find((m) => m.property === property)?.content
/** Titles of the appeal cards (home and index), in page order. */
const cardTitles = (body: string) =>
  [...body.matchAll(/<li class="card">\s*<h[23][^>]*><a href="[^"]*">([^<]*)<\/a><\/h[23]>/g)].map((m) => decode(m[1]!))
/** Every URL the page points at: src, href, form action. */
const urlsOf = (body: string) => [...body.matchAll(/\s(?:src|href|action)="([^"]*)"/g)].map((m) => decode(m[1]!))
const htmlLang = (body: string) => /<html lang="([^"]+)"/.exec(body)?.[1]

/** The page answer's common headers, asserted. */
function expectPage(t: Tap, res: Res, status: number, locale: Locale, what: string) {
  t.equal(res.statusCode, status, `${what}: ${status}${res.statusCode === status ? '' : ` (${res.body.slice(0, 300)})`}`)
  t.match(String(res.headers['content-type']), /^text\/html; charset=utf-8/, `${what}: HTML`)
  t.equal(res.headers['content-language'], locale, `${what}: Content-Language ${locale}`)
  t.equal(htmlLang(res.body), locale, `${what}: <html lang="${locale}">`)
  t.match(String(res.headers.vary), /\bAccept-Language\b/i, `${what}: Vary: Accept-Language`)
}

/** The cache answers only while it listens for changes: wait for that, so the tests go through it. */
async function cacheListening(ctx: TestApp) {
  await eventually(() => ctx.app.publicReadCache?.active === true, 5000, 'the public read cache to listen')
}

t.test('conditional GET on every page; a change through the API drops the cached page at once', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_BASE_URL: BASE })
  await cacheListening(ctx)
  const appeal = await createPublished(ctx)
  const pages = ['/', '/appeals', `/appeals/${appeal.id}`, '/subscribe']
  const etags = new Map<string, string>()
  for (const path of pages) {
    const first = await get(ctx, path)
    expectPage(t, first, 200, 'en', path)
    const etag = String(first.headers.etag)
    etags.set(path, etag)
    t.match(etag, /^"[A-Za-z0-9_-]{22}"$/, `${path}: a strong ETag`)
    t.equal(first.headers['cache-control'], 'public, no-cache', `${path}: stored, revalidated on every use`)
    const again = await get(ctx, path, { 'if-none-match': etag })
    t.equal(again.statusCode, 304, `${path}: If-None-Match → 304`)
    t.equal(again.body, '', `${path}: 304 has no body`)
    t.equal(again.headers.etag, etag, `${path}: 304 repeats the ETag`)
    t.equal(again.headers['cache-control'], 'public, no-cache', `${path}: and the Cache-Control`)
    t.equal((await get(ctx, path, { 'if-none-match': `W/${etag}` })).statusCode, 304, `${path}: a weak comparison matches too`)
    t.equal((await get(ctx, path, { 'if-none-match': '"something-else"' })).statusCode, 200, `${path}: another ETag → 200`)
    const french = await get(ctx, `${path}${path.includes('?') ? '&' : '?'}lang=fr`, { 'if-none-match': etag })
    t.equal(french.statusCode, 200, `${path}: the English ETag does not match the French page`)
    t.not(french.headers.etag, etag, `${path}: the French page has its own ETag`)
  }

  // The appeal page: Last-Modified is when the appeal last changed (today, so not midnight).
  const path = `/appeals/${appeal.id}`
  const page = await get(ctx, path)
  t.equal(page.headers['last-modified'], new Date(appeal.updatedAt).toUTCString(), 'Last-Modified: the appeal\'s updatedAt')
  const lastModified = String(page.headers['last-modified'])
  t.equal((await get(ctx, path, { 'if-modified-since': lastModified })).statusCode, 304, 'If-Modified-Since its Last-Modified → 304')
  t.equal((await get(ctx, path, { 'if-modified-since': new Date(Date.parse(lastModified) - 1000).toUTCString() })).statusCode, 200,
    'If-Modified-Since a second earlier → 200')

  // A PATCH: the next request with the old ETag gets the new page, on every page showing the appeal.
  const patched = expectStatus(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${appeal.id}`,
    { title: 'China: seven North Koreans moved to Shenyang' }, { 'if-match': `"${appeal.version}"` }), 200)
  for (const p of ['/', '/appeals', path]) {
    const after = await get(ctx, p, { 'if-none-match': etags.get(p)! })
    t.equal(after.statusCode, 200, `${p}: after the PATCH, the old ETag no longer matches`)
    t.match(after.body, 'China: seven North Koreans moved to Shenyang', `${p}: the new title is shown`)
    t.notMatch(after.body, 'face forced return to torture', `${p}: the old one is gone`)
    t.not(after.headers.etag, etags.get(p), `${p}: a new ETag`)
    etags.set(p, String(after.headers.etag))
  }
  const afterPatch = await get(ctx, path)
  t.equal(afterPatch.headers['last-modified'], new Date(patched.updatedAt).toUTCString(), 'Last-Modified moved to the PATCH')
  // The pages that list appeals: Last-Modified is the last public change (today, so not midnight).
  for (const p of ['/', '/appeals']) {
    const listing = await get(ctx, p)
    t.equal(listing.headers['last-modified'], new Date(patched.updatedAt).toUTCString(), `${p}: Last-Modified is the last change to a public appeal`)
    t.equal((await get(ctx, p, { 'if-modified-since': String(listing.headers['last-modified']) })).statusCode, 304, `${p}: If-Modified-Since it → 304`)
    t.equal((await get(ctx, p, { 'if-modified-since': new Date(Date.parse(appeal.updatedAt) - 1000).toUTCString() })).statusCode, 200,
      `${p}: If-Modified-Since before the PATCH → 200`)
  }

  // A follow-up.
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${appeal.id}/updates`, { body: 'They were moved to Tumen on 3 June.' }), 201)
  const followed = await get(ctx, path, { 'if-none-match': etags.get(path)! })
  t.equal(followed.statusCode, 200, 'after a follow-up, the old ETag no longer matches')
  t.match(followed.body, 'They were moved to Tumen on 3 June.', 'the follow-up is on the page')

  // A change no request of this process made (another process): the NOTIFY drops the cache too.
  const before = String(followed.headers.etag)
  await ctx.pool.query(`UPDATE appeals SET title = 'China: retitled by another process', updated_at = now() WHERE id = $1`, [appeal.id])
  const seen = await eventually(async () => {
    const res = await get(ctx, path, { 'if-none-match': before })
    return res.statusCode === 200 && res.body.includes('retitled by another process') ? res : null
  }, 5000, 'the page to show a change made elsewhere')
  t.not(seen.headers.etag, before, 'a change made elsewhere: a new ETag')
})

t.test('the page language: ?lang=, then Accept-Language; every UI label in the page\'s language', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_BASE_URL: BASE })
  const appeal = await publishEverything(ctx)
  const path = `/appeals/${appeal.id}`
  const labels: MessageKey[] = ['pub.people.title', 'pub.act.title', 'pub.acted.button', 'mail.writeTo']
  const titles: Record<Locale, string> = { en: appeal.title, fr: FRENCH.title, es: appeal.title, ko: appeal.title, 'zh-Hans': CHINESE.title }
  for (const locale of LOCALES) {
    const res = await get(ctx, `${path}?lang=${locale}`)
    expectPage(t, res, 200, locale, `?lang=${locale}`)
    t.match(res.body, new RegExp(`<h1(?: lang="en")?>${escapeHtml(titles[locale])}</h1>`), `${locale}: the appeal in its ${locale} version, or the original`)
    for (const key of labels) {
      t.ok(res.body.includes(text(locale, key)), `${locale}: the label ${key} in ${locale}`)
      if (locale === 'en') continue
      t.not(msg(locale, key), msg('en', key), `${locale}: ${key} is translated`)
      t.notOk(res.body.includes(text('en', key)), `${locale}: no English ${key} on the page`)
    }
  }
  // Text that is not in the page's language says so (screen readers switch voice).
  t.match((await get(ctx, `${path}?lang=ko`)).body, `<h1 lang="en">${escapeHtml(appeal.title)}</h1>`, 'an untranslated title is marked lang="en"')
  t.match((await get(ctx, `${path}?lang=fr`)).body, `<h1>${escapeHtml(FRENCH.title)}</h1>`, 'a translated one is not')

  for (const [query, acceptLanguage, locale] of [
    ['', 'ko-KR,ko;q=0.9,en-US;q=0.8', 'ko'],
    ['', 'zh-CN,zh;q=0.9', 'zh-Hans'],
    ['', 'es-419', 'es'],
    ['', 'de-DE, fr;q=0.5', 'fr'],
    ['', 'de-DE', 'en'],
    ['?lang=es', 'ko', 'es'],
    ['?lang=zh-CN', 'fr', 'zh-Hans'],
    ['?lang=xx', 'ko', 'ko'],
    ['?lang=xx', 'fr-CA', 'fr'],
    ['?lang=xx', '', 'en'],
  ] as const) {
    const res = await get(ctx, `${path}${query}`, acceptLanguage ? { 'accept-language': acceptLanguage } : {})
    expectPage(t, res, 200, locale, `${query || 'no ?lang'} with Accept-Language "${acceptLanguage}"`)
  }
  // Links carry the language: the page chosen by Accept-Language is the same document as its ?lang= page.
  const byHeader = await get(ctx, path, { 'accept-language': 'ko' })
  const byQuery = await get(ctx, `${path}?lang=ko`)
  t.equal(byHeader.headers.etag, byQuery.headers.etag, 'one ETag for the Korean page, however chosen')
  // Not the language switcher (hreflang), nor the CAP message (it carries every language).
  const ours = tags(byHeader.body, 'a').filter((a) => !a.hreflang).map((a) => a.href ?? '')
    .filter((href) => href.startsWith('/') && !href.endsWith('/cap.xml'))
  t.ok(ours.length > 5, 'the page links to our pages')
  t.same(ours.filter((href) => !/[?&]lang=ko\b/.test(href)), [], 'and every such link keeps the reader in Korean')
  for (const other of ['/', '/appeals', '/subscribe']) {
    expectPage(t, await get(ctx, other, { 'accept-language': 'zh-Hans' }), 200, 'zh-Hans', `${other} by Accept-Language`)
    const korean = await get(ctx, `${other}?lang=ko`)
    expectPage(t, korean, 200, 'ko', `${other}?lang=ko`)
    t.ok(korean.body.includes(text('ko', 'pub.nav.appeals')), `${other}: the navigation in Korean`)
    t.notOk(korean.body.includes(`>${text('en', 'pub.nav.appeals')}<`), `${other}: not in English`)
  }
})

t.test('the appeal page: counts only, Open Graph, alternates, nothing from another origin, a strict CSP', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_BASE_URL: BASE })
  const appeal = await publishEverything(ctx)
  const path = `/appeals/${appeal.id}`
  const res = await get(ctx, path)
  expectPage(t, res, 200, 'en', path)
  const body = res.body

  // People at risk: the counts, and nothing else about them.
  const people = new RegExp(`<dt>${text('en', 'pub.people.title')}</dt><dd>([^<]*)</dd>`).exec(body)?.[1]
  t.equal(people, '7 people, among them 3 women, 3 men, and 1 girl', 'people at risk as counts')
  for (const detail of ['detained', 'forced labour', '2019-04-28', 'North Korean']) {
    t.notOk(people?.includes(detail), `not "${detail}"`)
  }
  const french = new RegExp(`<dt>${text('fr', 'pub.people.title')}</dt><dd>([^<]*)</dd>`).exec((await get(ctx, `${path}?lang=fr`)).body)?.[1]
  t.equal(french, '7 personnes, dont 3 femmes, 3 hommes et 1 fille', 'in French, by its plural rules')

  // Open Graph: what a sharing site's crawler shows.
  t.equal(meta(body, 'og:type'), 'article', 'og:type article')
  t.equal(meta(body, 'og:title'), appeal.title, 'og:title: the appeal\'s title')
  t.equal(meta(body, 'og:description'), appeal.summary, 'og:description: its summary')
  t.equal(meta(body, 'og:url'), `${BASE}${path}?lang=en`, 'og:url absolute to PUBLIC_BASE_URL')
  t.equal(meta(body, 'og:locale'), 'en', 'og:locale')
  t.equal(meta((await get(ctx, `${path}?lang=zh-Hans`)).body, 'og:title'), CHINESE.title, 'the Chinese page shares the Chinese title')
  const links = tags(body, 'link')
  t.equal(links.find((l) => l.rel === 'canonical')?.href, `${BASE}${path}?lang=en`, 'canonical URL')
  t.equal(tags(body, 'meta').find((m) => m.name === 'robots')?.content, 'index, follow', 'indexable')

  // Alternates: the feeds, the CAP message, and every language version.
  const alternates = links.filter((l) => l.rel === 'alternate')
  const byType = (type: string) => alternates.find((l) => l.type === type)?.href
  t.equal(byType('application/atom+xml'), '/feeds/appeals.atom?lang=en', 'the Atom feed')
  t.equal(byType('application/feed+json'), '/feeds/appeals.json?lang=en', 'the JSON feed')
  t.equal(byType('application/cap+xml'), `${path}/cap.xml`, 'the appeal\'s CAP message')
  for (const href of [byType('application/atom+xml'), byType('application/feed+json'), byType('application/cap+xml')]) {
    const followed = await get(ctx, href!)
    t.equal(followed.statusCode, 200, `${href} answers`)
  }
  const hreflang = Object.fromEntries(alternates.filter((l) => l.hreflang).map((l) => [l.hreflang, l.href]))
  t.same(hreflang, {
    ...Object.fromEntries(LOCALES.map((l) => [l, `${BASE}${path}?lang=${l}`])), 'x-default': `${BASE}${path}`,
  }, 'an absolute hreflang alternate per language, and x-default')
  for (const locale of LOCALES) {
    t.equal(htmlLang((await get(ctx, hreflang[locale]!.slice(BASE.length))).body), locale, `the ${locale} alternate is in ${locale}`)
  }

  // Nothing from another origin: every URL is ours, a source of the appeal, or a mailto: to a target.
  const sources = new Set((appeal.sources as { url: string }[]).map((s) => s.url))
  const foreign = urlsOf(body).filter((url) => !(
    (url.startsWith('/') && !url.startsWith('//')) || url.startsWith('#') || url === 'data:,'
    || url.startsWith(`${BASE}/`) || url.startsWith('mailto:ambassador@example.org?') || sources.has(url)))
  t.same(foreign, [], 'every src, href and action is same-origin, a source or a mailto:')
  t.ok(urlsOf(body).some((url) => sources.has(url)), 'the sources are linked')
  t.same(tags(body, 'script').map((s) => s.src), [COPY_SCRIPT_PATH], 'one script, same-origin, no inline script')
  const script = await get(ctx, COPY_SCRIPT_PATH)
  t.equal(script.statusCode, 200, 'the script is served')
  t.match(String(script.headers['content-type']), /^text\/javascript/, 'as JavaScript')
  t.notMatch(body, /<[^>]*\son[a-z]+="/i, 'no inline event handler')

  const csp = String(res.headers['content-security-policy'])
  const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map((d) => [d[0]!, d.slice(1)]))
  t.same(directives.get('script-src'), ["'self'"], `script-src 'self' only (no 'unsafe-inline', no other origin): ${csp}`)
  t.same(directives.get('default-src'), ["'self'"], "default-src 'self'")
  t.same(directives.get('form-action'), ["'self'"], "form-action 'self'")
  t.same(directives.get('frame-ancestors'), ["'none'"], "frame-ancestors 'none'")
  t.notOk(directives.get('style-src')?.some((v) => v !== "'self'" && v !== "'unsafe-inline'"), 'styles from nowhere else')
})

t.test('drafts, embargoed and unknown appeals are 404, withdrawn 410: never stored, nothing of the appeal', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_BASE_URL: BASE })
  await cacheListening(ctx)
  const site = await seedSite(ctx)
  const cases = [
    [site.draft.id, 404, 'pub.notFound.title', 'a draft'],
    [site.scheduled.id, 404, 'pub.notFound.title', 'an embargoed appeal'],
    [site.withdrawnDraft.id, 404, 'pub.notFound.title', 'a withdrawn draft (never public)'],
    [randomUUID(), 404, 'pub.notFound.title', 'an unknown id'],
    ['not-a-uuid', 404, 'pub.notFound.title', 'a non-UUID id'],
    [site.withdrawn.id, 410, 'pub.gone.title', 'a withdrawn appeal'],
  ] as const
  for (const [id, status, title, what] of cases) {
    for (const query of ['', '?acted=1', '?lang=ko']) {
      const locale: Locale = query === '?lang=ko' ? 'ko' : 'en'
      const res = await get(ctx, `/appeals/${id}${query}`)
      expectPage(t, res, status, locale, `${what}${query}`)
      t.equal(res.headers['cache-control'], 'no-store', `${what}${query}: never stored`)
      t.equal(res.headers.etag, undefined, `${what}${query}: no validator`)
      t.match(res.body, `<h1>${text(locale, title)}</h1>`, `${what}${query}: says so`)
      t.notMatch(res.body, MARKERS, `${what}${query}: nothing of the appeal`)
      t.equal(tags(res.body, 'meta').find((m) => m.name === 'robots')?.content, 'noindex, nofollow', `${what}${query}: not indexed`)
    }
  }

  const markup = await get(ctx, '/appeals/%22%3E%3Cb%3Ebold%3C%2Fb%3E')
  expectPage(t, markup, 404, 'en', 'an id with markup')
  t.notMatch(markup.body, /<b>bold|"><b>/, 'the id is not echoed as markup')

  // Withdrawn while cached: the next request, even with the page's ETag, is the 410.
  const later = await createPublished(ctx, secretAppeal('LATERMARK'))
  const page = await get(ctx, `/appeals/${later.id}`)
  t.equal(page.statusCode, 200, 'a published appeal')
  t.match(page.body, 'LATERMARK title', 'shown')
  t.equal((await get(ctx, `/appeals/${later.id}`, { 'if-none-match': String(page.headers.etag) })).statusCode, 304, 'cached')
  t.match((await get(ctx, '/')).body, 'LATERMARK title', 'listed on the home page')
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${later.id}/withdraw`, { reason: 'the family asked us to' }), 200)
  const gone = await get(ctx, `/appeals/${later.id}`, { 'if-none-match': String(page.headers.etag) })
  t.equal(gone.statusCode, 410, 'withdrawn: 410 at once, not 304')
  t.equal(gone.headers['cache-control'], 'no-store', 'the 410 is never stored')
  t.notMatch(gone.body, MARKERS, 'and shows nothing of the appeal')
  t.notMatch((await get(ctx, '/')).body, MARKERS, 'gone from the home page')
  t.notMatch((await get(ctx, '/appeals')).body, MARKERS, 'and from the index')
})

t.test('"I took action": the thank-you page is never stored and shows the count', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_BASE_URL: BASE })
  await cacheListening(ctx)
  const appeal = await createPublished(ctx)
  const path = `/appeals/${appeal.id}`
  const plain = await get(ctx, path)
  t.ok(plain.body.includes(text('en', 'pub.acted.button')), 'the button')

  const click = await postForm(ctx, `${path}/actions`, '')
  t.equal(click.statusCode, 303, 'the button posts and comes back')
  const back = String(click.headers.location).replace(/#.*$/, '')
  t.equal(back, `${path}?acted=1`, 'to the thank-you')
  const thanks = await get(ctx, back, { 'if-none-match': String(plain.headers.etag) })
  expectPage(t, thanks, 200, 'en', 'the thank-you')
  t.equal(thanks.headers['cache-control'], 'no-store', 'never stored')
  t.equal(thanks.headers.etag, undefined, 'no validator: the page ETag does not answer it')
  t.match(thanks.body, text('en', 'pub.acted.thanks'), 'the thanks')
  t.match(thanks.body, '1 action has been taken on this appeal so far.', 'the count')
  t.notOk(thanks.body.includes(text('en', 'pub.acted.button')), 'no second button')
  t.equal(tags(thanks.body, 'meta').find((m) => m.name === 'robots')?.content, 'noindex, nofollow', 'not indexed')
  t.notOk(tags(thanks.body, 'link').some((l) => l.rel === 'canonical'), 'no canonical URL for the thank-you')

  await postForm(ctx, `${path}/actions?lang=ko`, '')
  const korean = await get(ctx, `${path}?acted=1&lang=ko`)
  expectPage(t, korean, 200, 'ko', 'the Korean thank-you')
  t.match(korean.body, text('ko', 'pub.acted.count.other', { count: 2 }), 'the new count at once, in Korean')
  t.equal((await get(ctx, path, { 'if-none-match': String(plain.headers.etag) })).statusCode, 304,
    'the page itself did not change (the count is on the thank-you only)')
})

t.test('the index: filters, 400 pages naming the field, cursor pagination', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_BASE_URL: BASE })
  const site = await seedSite(ctx)
  const myanmar: string[] = []
  for (let i = 1; i <= 22; i++) {
    const title = `Myanmar: detained activist ${i}`
    await createPublished(ctx, anAppeal({ title, countries: ['MM'], subdivisions: [], urgency: 'normal', themes: ['detention'] }))
    myanmar.push(title)
  }

  for (const [query, expected] of [
    ['country=CN', [site.open.title]],
    ['country=IR', [site.closed.title]],
    ['status=closed', [site.closed.title]],
    ['theme=freedom-of-expression', [site.closed.title]],
    ['urgency=critical', [site.open.title]],
    ['urgency=high&status=published', []],
    ['country=SY', []],
  ] as const) {
    const res = await get(ctx, `/appeals?${query}`)
    expectPage(t, res, 200, 'en', query)
    t.same(cardTitles(res.body), expected, `${query}: ${expected.length} appeal(s)`)
    if (expected.length === 0) t.match(res.body, text('en', 'pub.index.none'), `${query}: says none match`)
    t.equal(tags(res.body, 'meta').find((m) => m.name === 'robots')?.content, 'noindex, nofollow', `${query}: filtered pages are not indexed`)
  }

  // Pages of 20, followed by their rel="next" links.
  for (const [query, all] of [
    ['country=MM', myanmar],
    ['', [...myanmar, site.open.title, site.closed.title]],
  ] as const) {
    const seen: string[] = []
    let url: string | undefined = `/appeals${query ? `?${query}` : ''}`
    let pages = 0
    while (url && pages < 5) {
      const res = await get(ctx, url)
      expectPage(t, res, 200, 'en', url)
      const titles = cardTitles(res.body)
      t.ok(titles.length <= 20, `${url}: at most 20 a page`)
      seen.push(...titles)
      pages++
      url = tags(res.body, 'a').find((a) => a.rel === 'next')?.href
      if (pages > 1) t.ok(tags(res.body, 'a').some((a) => a.href === `/appeals?${query ? `${query}&` : ''}lang=en`), 'a link to the first page')
    }
    t.equal(pages, 2, `${query || 'no filter'}: two pages`)
    t.equal(new Set(seen).size, seen.length, `${query || 'no filter'}: no appeal twice`)
    t.same([...seen].sort(), [...all].sort(), `${query || 'no filter'}: every appeal once`)
  }
  t.notMatch((await get(ctx, '/appeals')).body, MARKERS, 'no draft, embargoed or withdrawn appeal')

  // Bad filters: a 400 page naming the field, listing nothing.
  for (const [query, field] of [
    ['country=ZZ', 'country'],
    ['country=china', 'country'],
    ['status=draft', 'status'],
    ['status=withdrawn', 'status'],
    ['urgency=low', 'urgency'],
    ['theme=No%20Such', 'theme'],
  ] as const) {
    const res = await get(ctx, `/appeals?${query}`)
    expectPage(t, res, 400, 'en', query)
    t.equal(res.headers['cache-control'], 'no-store', `${query}: never stored`)
    const label = msg('en', `pub.filter.${field}`)
    t.match(res.body, text('en', 'pub.error.filter', { field: label }), `${query}: names ${label}`)
    t.match(res.body, `<select id="f-${field}" name="${field}" aria-invalid="true"`, `${query}: marks the field`)
    t.same(cardTitles(res.body), [], `${query}: lists nothing`)
    t.notMatch(res.body, MARKERS, `${query}: shows no hidden appeal`)
  }
  const korean = await get(ctx, '/appeals?status=draft&lang=ko')
  expectPage(t, korean, 400, 'ko', 'a bad filter in Korean')
  t.match(korean.body, text('ko', 'pub.error.filter', { field: msg('ko', 'pub.filter.status') }), 'the 400 page in Korean')

  // A forged cursor: a 400 page offering the first page, with the filters kept.
  for (const cursor of ['Zm9yZ2Vk', 'not a cursor']) {
    const res = await get(ctx, `/appeals?country=MM&cursor=${encodeURIComponent(cursor)}`)
    expectPage(t, res, 400, 'en', `cursor ${cursor}`)
    t.equal(res.headers['cache-control'], 'no-store', `cursor ${cursor}: never stored`)
    t.match(res.body, `<a href="/appeals?country=MM&amp;lang=en">${text('en', 'pub.error.cursor')}</a>`, 'says so and links to the first page')
    t.same(cardTitles(res.body), [], `cursor ${cursor}: lists nothing`)
  }
})

t.test('POST /subscribe: one neutral answer whatever the address, a 400 page that keeps the values', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_BASE_URL: BASE })
  const rowsOf = async (email: string) => (await ctx.pool.query(
    `SELECT s.status, s.language, s.countries, s.themes, s.min_urgency AS "minUrgency",
            (SELECT json_agg(json_build_object('action', c.action, 'source', c.source) ORDER BY c.id) FROM consent_ledger c WHERE c.subscription_id = s.id) AS ledger
       FROM subscriptions s WHERE s.email = $1`, [email])).rows

  const form = 'email=ana%40example.org&language=fr&countries=KP&countries=CN&themes=refoulement&minUrgency=high'
  const first = await postForm(ctx, '/subscribe', form)
  expectPage(t, first, 200, 'fr', 'a valid signup (answered in the language chosen for the alerts)')
  t.equal(first.headers['cache-control'], 'no-store', 'the answer is never stored')
  t.match(first.body, `<h1>${text('fr', 'pub.sent.title')}</h1>`, '"check your email"')
  t.same(await rowsOf('ana@example.org'), [{
    status: 'pending', language: 'fr', countries: ['CN', 'KP'], themes: ['refoulement'], minUrgency: 'high',
    ledger: [{ action: 'subscribe', source: 'page' }],
  }], 'a pending subscription as chosen, its consent recorded with source "page"')

  const again = await postForm(ctx, '/subscribe', form)
  t.equal(again.statusCode, first.statusCode, 'the same address again: the same status')
  t.equal(again.body, first.body, 'and the same page, byte for byte')
  const changed = await postForm(ctx, '/subscribe', 'email=ana%40example.org&language=fr&countries=SY&minUrgency=critical')
  t.equal(changed.statusCode, 200, 'other preferences: 200')
  t.equal(changed.body, first.body, 'other preferences for the pending address: the same page')
  t.same(await rowsOf('ana@example.org'), [{
    status: 'pending', language: 'fr', countries: ['CN', 'KP'], themes: ['refoulement'], minUrgency: 'high',
    ledger: [{ action: 'subscribe', source: 'page' }],
  }], 'no second row, and what the first link confirms is unchanged')
  await ctx.pool.query(`UPDATE subscriptions SET status = 'active', confirmed_at = now() WHERE email = 'ana@example.org'`)
  const active = await postForm(ctx, '/subscribe', form)
  t.equal(active.statusCode, 200, 'an active address: 200')
  t.equal(active.body, first.body, 'an active address: the same page (nothing tells whether an address is subscribed)')

  // Invalid: a 400 page naming the field and keeping every value.
  const bad = await postForm(ctx, '/subscribe?lang=en', 'email=not-an-email&language=ko&countries=CN&themes=refoulement&minUrgency=critical')
  expectPage(t, bad, 400, 'en', 'a bad address')
  t.equal(bad.headers['cache-control'], 'no-store', 'the 400 page is never stored')
  t.match(bad.body, `${text('en', 'pub.signup.email')}: ${text('en', 'pub.error.email')}`, 'the error summary names the field')
  t.match(bad.body, /<input id="email" name="email" [^>]*value="not-an-email" aria-invalid="true"/, 'the address kept, marked invalid')
  t.match(bad.body, '<option value="ko" selected>', 'the language kept')
  t.match(bad.body, '<input type="checkbox" name="countries" value="CN" checked>', 'the country kept')
  t.match(bad.body, '<input type="checkbox" name="themes" value="refoulement" checked>', 'the theme kept')
  t.match(bad.body, '<input type="radio" name="minUrgency" value="critical" checked>', 'the urgency kept')
  t.same(await rowsOf('not-an-email'), [], 'nothing stored')
  for (const [payload, field, label] of [
    ['email=ben%40example.org&countries=ZZ', 'countries', 'prefs.countries'],
    ['email=ben%40example.org&minUrgency=low', 'minUrgency', 'prefs.urgency'],
    ['email=ben%40example.org&language=not%20a%20language', 'language', 'prefs.language'],
    ['language=en', 'email', 'pub.signup.email'],
  ] as const) {
    const res = await postForm(ctx, '/subscribe', payload)
    expectPage(t, res, 400, 'en', payload)
    t.match(res.body, `${text('en', label)}: ${text('en', `pub.error.${field}`)}`, `${payload}: names ${field}`)
    t.match(res.body, `aria-describedby="${field}-error"`, `${payload}: the field points at its error`)
  }
  t.same(await rowsOf('ben@example.org'), [], 'no invalid signup stored')
})

t.test('the public rate limit on the pages: a 429 page with Retry-After, not a problem document', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_BASE_URL: BASE, PUBLIC_RATE_LIMIT: '3' })
  t.equal((await get(ctx, '/subscribe')).statusCode, 200, 'request 1 of 3')
  t.equal((await postForm(ctx, '/subscribe', 'email=cho%40example.org')).statusCode, 200, 'request 2 of 3')
  t.equal((await get(ctx, '/')).statusCode, 200, 'request 3 of 3')
  for (const [res, what] of [
    [await postForm(ctx, '/subscribe?lang=ko', 'email=dae%40example.org'), 'POST /subscribe'],
    [await get(ctx, `/appeals/${randomUUID()}?lang=ko`), 'an appeal page'],
    [await get(ctx, '/appeals', { 'accept-language': 'ko' }), 'the index'],
  ] as const) {
    expectPage(t, res, 429, 'ko', `${what}, over the limit`)
    t.ok(Number(res.headers['retry-after']) >= 1, `${what}: Retry-After`)
    t.equal(res.headers['cache-control'], 'no-store', `${what}: never stored`)
    t.match(res.body, `<h1>${text('ko', 'pub.tooMany.title')}</h1>`, `${what}: a page saying to wait, in the visitor's language`)
  }
  const { rows } = await ctx.pool.query(`SELECT email FROM subscriptions ORDER BY email`)
  t.same(rows, [{ email: 'cho@example.org' }], 'the refused signup stored nothing')
  const api = await get(ctx, '/v1/appeals')
  t.equal(api.statusCode, 429, 'the JSON API shares the budget')
  t.match(String(api.headers['content-type']), /^application\/problem\+json/, 'and keeps its problem documents')
  t.equal((await ctx.app.inject({ method: 'GET', url: '/', remoteAddress: '192.0.2.7' })).statusCode, 200, 'another address has its own budget')
})

t.test('the home page: open appeals, nearest deadline first; nothing closed, draft, embargoed or withdrawn', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_BASE_URL: BASE })
  const site = await seedSite(ctx) // open (deadline 2099-06-30), closed, draft, embargoed, withdrawn
  const march = await createPublished(ctx, anAppeal({ title: 'Deadline in March', actionDeadline: '2099-03-01' }))
  const none = await createPublished(ctx, anAppeal({ title: 'No deadline', actionDeadline: null }))
  const january = await createPublished(ctx, anAppeal({ title: 'Deadline in January', actionDeadline: '2099-01-15' }))
  const february = await createPublished(ctx, anAppeal({ title: 'Deadline in February', actionDeadline: '2099-02-10' }))
  await createDraft(ctx, anAppeal({ title: 'A draft with the nearest deadline', actionDeadline: '2099-01-01' }))

  const res = await get(ctx, '/')
  expectPage(t, res, 200, 'en', 'home')
  t.same(cardTitles(res.body), [january.title, february.title, march.title, site.open.title, none.title],
    'open appeals, nearest deadline first, those without one last')
  t.notMatch(res.body, site.closed.title, 'not the closed appeal')
  t.notMatch(res.body, 'A draft with the nearest deadline', 'not a draft')
  t.notMatch(res.body, MARKERS, 'nothing of the draft, embargoed or withdrawn ones')
  t.match(res.body, '<form method="post" action="/subscribe?lang=en">', 'the signup form')
  t.equal(meta(res.body, 'og:type'), 'website', 'og:type website')
  t.equal(meta(res.body, 'og:url'), `${BASE}/?lang=en`, 'og:url absolute')

  // Closing one takes it off the home page at once.
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${january.id}/close`, { outcome: { code: 'released' } }), 200)
  t.same(cardTitles((await get(ctx, '/')).body), [february.title, march.title, site.open.title, none.title], 'a closed appeal leaves the home page')
})
