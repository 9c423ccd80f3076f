// The appeal feeds as feed readers see them (contract §8): Atom 1.0 and
// JSON Feed 1.1 parsed by a real feed parser (feedsmith), Atom held to RFC
// 4287's structural rules with xmllint; published and closed appeals only,
// newest change first, follow-ups and the outcome as entries of their own,
// the /appeals filters plus `lang`, sanitised HTML, absolute links.
import t from 'tap'
import { parseAtomFeed, parseJsonFeed } from 'feedsmith'
import { buildTestApp, type TestApp } from './helpers/context.js'
import { anAppeal, createDraft, createPublished, expectInvalid, expectStatus, type Tap } from './helpers/liaoning.js'
import { atomRuleViolations } from './helpers/feeds.js'

const BASE = 'https://alerts.example.org/ua'

/** GET that must answer 200 (the body shown when not). */
async function get(t: Tap, ctx: TestApp, path: string, headers: Record<string, string> = {}) {
  const res = await ctx.request(null, 'GET', path, undefined, headers)
  t.equal(res.statusCode, 200, `GET ${path}: ${res.statusCode === 200 ? 'ok' : res.body.slice(0, 400)}`)
  return res
}
const atomOf = (t: Tap, ctx: TestApp, query = '') => get(t, ctx, `/feeds/appeals.atom${query}`)
const jsonOf = (t: Tap, ctx: TestApp, query = '') => get(t, ctx, `/feeds/appeals.json${query}`)

/** An appeal through its whole public life, as the seed case would have it. */
async function seed(t: Tap, ctx: TestApp) {
  const open = await createPublished(ctx, anAppeal({ title: 'China: seven North Koreans face forced return' }))
  const syria = await createPublished(ctx, anAppeal({
    title: 'Syria: journalist held incommunicado', countries: ['SY'], subdivisions: [], themes: ['detention'], urgency: 'high',
    body: 'Held since **March**.\n\n<script>alert(1)</script><img src="https://tracker.example/p.gif"> [click](javascript:alert(1))',
  }))
  const closed = await createPublished(ctx, anAppeal({ title: 'Iran: lawyer sentenced', countries: ['IR'], subdivisions: [], urgency: 'normal' }))
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${closed.id}/close`, { outcome: { code: 'released', note: 'Released on bail on 2 June.' } }), 200)
  const draft = await createDraft(ctx, anAppeal({ title: 'Draft: never public' }))
  const withdrawn = await createPublished(ctx, anAppeal({ title: 'Withdrawn: families at risk' }))
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${withdrawn.id}/withdraw`, { reason: 'Publicity endangers the families.' }), 200)
  // The newest change: a follow-up to the first appeal.
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${open.id}/updates`, { body: 'The seven were **moved** to a detention centre in Tumen.' }), 201)
  return { open, syria, closed, draft, withdrawn }
}

t.test('both feeds parse in a real feed parser and show published and closed appeals, newest change first', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_BASE_URL: BASE })
  const { open, syria, closed, draft, withdrawn } = await seed(t, ctx)

  const atomRes = await atomOf(t, ctx)
  t.equal(atomRes.headers['content-type'], 'application/atom+xml; charset=utf-8')
  t.same(atomRuleViolations(atomRes.body), [], 'RFC 4287 structural rules hold')
  const atom = parseAtomFeed(atomRes.body)
  const entries = atom.entries ?? []
  const ids = entries.map((e) => e.id)
  t.equal(ids[0], entries.find((e) => e.title?.value?.startsWith('Update 1:'))?.id, 'the follow-up, the newest change, comes first')
  t.equal(ids[1], `urn:uuid:${open.id}`, 'then its appeal, whose updated moved with it')
  for (const a of [open, syria, closed]) t.ok(ids.includes(`urn:uuid:${a.id}`), `${a.title} is in the feed`)
  t.notOk(atomRes.body.includes(draft.id) || atomRes.body.includes('Draft: never public'), 'no draft')
  t.notOk(atomRes.body.includes(withdrawn.id) || atomRes.body.includes('Withdrawn: families at risk'), 'no withdrawn appeal')
  const updated = entries.map((e) => Date.parse(e.updated!))
  t.same(updated, [...updated].sort((a, b) => b - a), 'ordered by updated, newest first')

  const follow = entries[0]!
  t.equal(follow.title?.value, 'Update 1: China: seven North Koreans face forced return')
  t.match(follow.content?.value, /moved<\/strong> to a detention centre in Tumen/, 'the follow-up as HTML')
  const outcome = entries.find((e) => e.title?.value?.startsWith('Outcome: Released'))
  t.ok(outcome, 'the outcome is an entry of its own')
  t.match(outcome?.content?.value, /Released on bail on 2 June/)
  const appealEntry = entries.find((e) => e.id === `urn:uuid:${open.id}`)!
  t.equal(appealEntry.xml?.lang, 'en', 'each entry marked with its language')
  t.same(appealEntry.links?.map((l) => [l.rel, l.type, l.href]), [
    ['alternate', 'text/html', `${BASE}/appeals/${open.id}`],
    ['related', 'application/cap+xml', `${BASE}/appeals/${open.id}/cap.xml`],
  ], 'absolute links to the appeal page and its CAP message, from PUBLIC_BASE_URL')
  t.match(appealEntry.content?.value, /Update 1 \(/, 'the appeal entry lists its follow-ups')
  t.equal(atom.links?.find((l) => l.rel === 'self')?.href, `${BASE}/feeds/appeals.atom`)

  const syriaHtml = entries.find((e) => e.id === `urn:uuid:${syria.id}`)!.content!.value!
  t.match(syriaHtml, /Held since <strong>March<\/strong>/, 'Markdown as HTML')
  t.notMatch(syriaHtml, /<script|<img|href="javascript:|tracker\.example/i, 'sanitised: no script, no image, no javascript: link')

  const jsonRes = await jsonOf(t, ctx)
  t.equal(jsonRes.headers['content-type'], 'application/feed+json; charset=utf-8')
  const raw = jsonRes.json()
  t.equal(raw.version, 'https://jsonfeed.org/version/1.1', 'JSON Feed 1.1, not 1.0')
  t.ok(Array.isArray(raw.authors) && raw.author === undefined, '1.1 authors, not the deprecated author')
  const json = parseJsonFeed(jsonRes.body)
  t.same((json.items ?? []).map((i) => i.id), ids, 'the same items in the same order as the Atom feed')
  for (const item of raw.items) {
    t.ok(typeof item.id === 'string' && typeof item.content_html === 'string' && item.url.startsWith(`${BASE}/appeals/`), `item ${item.id} is complete`)
  }
  t.equal(json.feed_url, `${BASE}/feeds/appeals.json`)
})

t.test('the /appeals filters and lang; bad filters are 400 problems', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_BASE_URL: BASE })
  const { open, syria, closed } = await seed(t, ctx)
  expectStatus(t, await ctx.request('editor', 'PUT', `/v1/appeals/${open.id}/translations/ko`,
    { title: '중국: 북한 주민 7명 강제송환 위기', summary: '랴오닝성에 구금된 7명이 고문 위험에 처해 있다.', asks: ['강제송환하지 마십시오.'] }), 201)

  const idsOf = async (query: string) => (parseAtomFeed((await atomOf(t, ctx, query)).body).entries ?? [])
    .map((e) => e.id).filter((id) => [open, syria, closed].some((a) => id === `urn:uuid:${a.id}`))
  t.same(await idsOf('?country=SY'), [`urn:uuid:${syria.id}`], 'country')
  t.same(await idsOf('?theme=detention'), [`urn:uuid:${syria.id}`], 'theme')
  t.same(await idsOf('?urgency=high'), [`urn:uuid:${syria.id}`], 'urgency')
  t.same(await idsOf('?status=closed'), [`urn:uuid:${closed.id}`], 'status')
  t.same(await idsOf('?country=KP&status=published'), [`urn:uuid:${open.id}`], 'filters combine')
  t.same(await idsOf('?utm_source=reader'), await idsOf(''), 'other parameters are ignored')

  const ko = parseAtomFeed((await atomOf(t, ctx, '?lang=ko')).body)
  t.equal(ko.xml?.lang, 'ko', 'the feed is marked with lang')
  const koEntry = ko.entries!.find((e) => e.id === `urn:uuid:${open.id}`)!
  t.equal(koEntry.title?.value, '중국: 북한 주민 7명 강제송환 위기', 'the translation when the appeal has one')
  t.equal(koEntry.xml?.lang, 'ko', 'marked with its language')
  t.match(koEntry.content?.value, /강제송환하지 마십시오/, 'translated asks')
  t.match(koEntry.content?.value, /<div lang="en">/, 'the untranslated background is marked as English')
  t.equal(koEntry.links?.[0]?.href, `${BASE}/appeals/${open.id}?lang=ko`, 'the page in that language')
  const syriaKo = ko.entries!.find((e) => e.id === `urn:uuid:${syria.id}`)!
  t.equal(syriaKo.xml?.lang, 'en', 'an appeal without that translation stays in its original, marked so')
  const koJson = (await jsonOf(t, ctx, '?lang=ko')).json()
  t.equal(koJson.language, 'ko')
  t.equal(koJson.items.find((i: { id: string }) => i.id === `urn:uuid:${open.id}`).language, 'ko', 'JSON Feed items carry their language')

  for (const [query, pointer] of [['?country=XX', '/country'], ['?country=cn', '/country'], ['?status=draft', '/status'],
    ['?urgency=low', '/urgency'], ['?lang=xx', '/lang'], ['?theme=No Such', '/theme']] as const) {
    for (const feed of ['atom', 'json']) expectInvalid(t, await ctx.request(null, 'GET', `/feeds/appeals.${feed}${query}`), pointer, 'query')
  }
})

t.test('conditional GET, Cache-Control, and the cache dropped on every change', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_BASE_URL: BASE })
  await t.resolves(async () => {
    for (let i = 0; i < 100 && ctx.app.publicReadCache?.active !== true; i++) await new Promise((r) => setTimeout(r, 50))
  })
  const appeal = await createPublished(ctx)
  for (const path of ['/feeds/appeals.atom', '/feeds/appeals.json', '/feeds/appeals.atom?country=CN&lang=fr']) {
    const first = await get(t, ctx, path)
    const etag = String(first.headers.etag)
    const lastModified = String(first.headers['last-modified'])
    t.match(etag, /^"[A-Za-z0-9_-]{22}"$/, `${path}: a strong ETag`)
    t.equal(new Date(lastModified).toUTCString(), lastModified, 'an HTTP date')
    t.equal(first.headers['cache-control'], 'public, no-cache', 'caches revalidate every time')
    const byEtag = await ctx.request(null, 'GET', path, undefined, { 'if-none-match': etag })
    t.equal(byEtag.statusCode, 304, 'If-None-Match → 304')
    t.equal(byEtag.body, '', 'no body')
    t.equal(byEtag.headers.etag, etag)
    t.equal((await ctx.request(null, 'GET', path, undefined, { 'if-modified-since': lastModified })).statusCode, 304, 'If-Modified-Since → 304')
    const earlier = new Date(Date.parse(lastModified) - 1000).toUTCString()
    t.equal((await ctx.request(null, 'GET', path, undefined, { 'if-modified-since': earlier })).statusCode, 200, 'modified since an earlier date → 200')
  }

  // A change through this process: the next read shows it at once.
  const before = await atomOf(t, ctx)
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${appeal.id}/updates`, { body: 'Transferred to Tumen.' }), 201)
  const after = await ctx.request(null, 'GET', '/feeds/appeals.atom', undefined, { 'if-none-match': String(before.headers.etag) })
  t.equal(after.statusCode, 200, 'the old ETag no longer matches')
  t.match(after.body, /Transferred to Tumen/)
  t.not(after.headers.etag, before.headers.etag)

  // A change no request of this process made (another process, a script): the NOTIFY drops the cache.
  await ctx.pool.query(`UPDATE appeals SET title = 'China: retitled by another process', updated_at = now() + interval '2 seconds' WHERE id = $1`, [appeal.id])
  let seen = ''
  for (let i = 0; i < 100 && !seen.includes('retitled by another process'); i++) {
    seen = (await ctx.request(null, 'GET', '/feeds/appeals.json')).body
    if (!seen.includes('retitled by another process')) await new Promise((r) => setTimeout(r, 20))
  }
  t.match(seen, /retitled by another process/, 'the feed shows a change made elsewhere')
  const stale = await ctx.request(null, 'GET', '/feeds/appeals.atom', undefined, { 'if-modified-since': String(after.headers['last-modified']) })
  t.equal(stale.statusCode, 200, 'Last-Modified moved forward: If-Modified-Since of the old version → 200')
})

t.test('a withdrawn appeal leaves every feed as soon as the withdrawal commits; the CAP index keeps only its Cancel', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_BASE_URL: BASE })
  const appeal = await createPublished(ctx, anAppeal({ title: 'China: to be withdrawn' }))
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${appeal.id}/updates`, { body: 'Moved to Tumen.' }), 201)
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${appeal.id}/close`, { outcome: { code: 'forcibly_returned' } }), 200)
  const paths = ['/feeds/appeals.atom', '/feeds/appeals.json', '/feeds/appeals.atom?country=CN', '/feeds/appeals.json?lang=ko', '/feeds/cap.atom']
  const etags: Record<string, string> = {}
  for (const path of paths) {
    const res = await ctx.request(null, 'GET', path)
    t.match(res.body, appeal.id, `${path} shows the appeal (and is now cached)`)
    etags[path] = String(res.headers.etag)
  }
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${appeal.id}/withdraw`, { reason: 'The families asked us to.' }), 200)
  for (const path of paths) {
    const res = await ctx.request(null, 'GET', path, undefined, { 'if-none-match': etags[path]! })
    t.equal(res.statusCode, 200, `${path}: the cached version is not confirmed`)
    t.notMatch(res.body, /to be withdrawn|Moved to Tumen/, `${path}: none of its text`)
    if (path !== '/feeds/cap.atom') {
      t.notMatch(res.body, appeal.id, `${path}: no entry of the appeal`)
      continue
    }
    // Aggregators that carried the Alert must learn to retract it: the index lists the Cancel, and nothing else of the appeal.
    const entry = parseAtomFeed(res.body).entries?.find((e) => e.links?.some((l) => l.href === `${BASE}/appeals/${appeal.id}/cap.xml`))
    const withdrawal = (await ctx.pool.query<{ id: string }>(
      `SELECT id FROM events WHERE appeal_id = $1 AND type = 'appeal.withdrawn'`, [appeal.id])).rows[0]!.id
    t.equal(entry?.id, `${BASE}/appeals/${appeal.id}/cap.xml#${withdrawal}`, 'the CAP index: an entry for the withdrawal\'s Cancel')
    t.equal(entry?.title?.value, 'This appeal has been withdrawn')
    t.match(entry?.summary?.value, /^CAP Cancel msg_/)
  }
})
