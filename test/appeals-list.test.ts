import t from 'tap'
import { buildTestApp, type TestApp } from './helpers/context.js'
import { anAppeal, createDraft, createPublished, expectStatus } from './helpers/liaoning.js'

type Who = 'editor' | 'admin' | 'partner' | null

async function page(ctx: TestApp, as: Who, query: string): Promise<{ items: any[]; nextCursor: string | null }> {
  const res = await ctx.request(as, 'GET', `/v1/appeals?${query}`)
  if (res.statusCode !== 200) throw new Error(`list failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

/** Follows nextCursor to the end; returns each page's ids. */
async function allPages(ctx: TestApp, as: Who, query: string, between?: (pageNumber: number) => Promise<void>): Promise<{ pages: string[][]; last: { nextCursor: string | null } }> {
  const pages: string[][] = []
  let cursor: string | null = null
  for (let i = 0; i < 50; i++) {
    const p = await page(ctx, as, `${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
    pages.push(p.items.map((a) => a.id))
    if (!p.nextCursor) return { pages, last: p }
    cursor = p.nextCursor
    await between?.(i + 1)
  }
  throw new Error('more than 50 pages')
}

const ids = (list: { items: { id: string }[] }) => list.items.map((a) => a.id)

// Many anonymous reads: keep them clear of the public rate limit.
const NO_RATE_LIMIT = { PUBLIC_RATE_LIMIT: '1000000' }

t.test('keyset pagination over 45 published appeals', async (t) => {
  const ctx = await buildTestApp(t, NO_RATE_LIMIT)
  const created: string[] = []
  for (let i = 0; i < 45; i++) {
    created.push((await createPublished(ctx, anAppeal({ title: `Appeal number ${i}` }))).id)
    if (i % 10 === 0) await createDraft(ctx) // drafts in between are invisible to the public
  }
  const newestFirst = [...created].reverse()

  t.test('ten at a time: every appeal once, newest first, null cursor at the end', async (t) => {
    const { pages, last } = await allPages(ctx, null, 'limit=10')
    t.same(pages.map((p) => p.length), [10, 10, 10, 10, 5])
    t.equal(last.nextCursor, null)
    const seen = pages.flat()
    t.equal(new Set(seen).size, seen.length, 'no duplicates')
    t.same(seen, newestFirst, 'no gaps, newest first')
  })

  t.test('a last page that is exactly full has no next cursor', async (t) => {
    const { pages, last } = await allPages(ctx, null, 'limit=15')
    t.same(pages.map((p) => p.length), [15, 15, 15])
    t.equal(last.nextCursor, null)
    t.same(pages.flat(), newestFirst)
  })

  t.test('the default page is 20; the maximum 100', async (t) => {
    const first = await page(ctx, 'partner', '')
    t.equal(first.items.length, 20)
    t.type(first.nextCursor, 'string')
    const big = await page(ctx, null, 'limit=100')
    t.equal(big.items.length, 45)
    t.equal(big.nextCursor, null)
    const createdAt = big.items.map((a) => Date.parse(a.createdAt))
    t.ok(createdAt.every((v, i) => i === 0 || v <= createdAt[i - 1]!), 'createdAt never increases')
  })

  t.test('appeals created between page fetches neither shift nor repeat pages', async (t) => {
    const added: string[] = []
    const { pages } = await allPages(ctx, null, 'limit=10', async (n) => {
      if (n <= 2) {
        for (let i = 0; i < 3; i++) added.push((await createPublished(ctx, anAppeal({ title: `Late appeal ${n}.${i}` }))).id)
        // And an existing one changes: its place in the list must not.
        const target = newestFirst[25]!
        const current = expectStatus(t, await ctx.request('editor', 'GET', `/v1/appeals/${target}`), 200)
        expectStatus(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${target}`, { title: `Edited ${n}` }, { 'if-match': `"${current.version}"` }), 200)
      }
    })
    t.same(pages.flat(), newestFirst, 'the walk is exactly the appeals that existed when it started')
    const fresh = await page(ctx, null, 'limit=6')
    t.same(ids(fresh), [...added].reverse(), 'the late ones are at the head of a new walk')
  })

  t.test('staff pages include their drafts and stay consistent', async (t) => {
    const { pages } = await allPages(ctx, 'editor', 'limit=7')
    const seen = pages.flat()
    t.equal(new Set(seen).size, seen.length, 'no duplicates')
    t.equal(seen.length, 45 + 6 + 5, 'published, late and draft appeals')
  })
})

t.test('list filters', async (t) => {
  const ctx = await buildTestApp(t, NO_RATE_LIMIT)
  // Liaoning: en, CN + KP, critical, refoulement/torture/children, "detained", "forced return", "execution"; has a ko translation.
  const liaoning = await createPublished(ctx, anAppeal())
  expectStatus(t, await ctx.request('editor', 'PUT', `/v1/appeals/${liaoning.id}/translations/ko`, { title: '중국: 북한 주민 7명', summary: '강제송환 위기' }), 201)
  const iran = await createPublished(ctx, anAppeal({
    title: 'Iran: human rights lawyer detained incommunicado', summary: 'She was arrested at her office and is held without access to a lawyer.',
    body: 'Her family does not know where she is held.', countries: ['IR'], subdivisions: [], themes: ['lawyers', 'incommunicado'],
    urgency: 'high', peopleAtRisk: { total: 1, women: 1 }, asks: ['Release her now.', 'Tell her family where she is held.'],
  }))
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${iran.id}/close`, { outcome: { code: 'released' } }), 200)
  const egypt = await createPublished(ctx, anAppeal({
    language: 'fr', title: 'Égypte : un journaliste torturé en garde à vue', summary: 'Il a été arrêté au Caire et battu pendant son interrogatoire.',
    body: 'Les autorités nient sa détention.', countries: ['EG'], subdivisions: [], themes: ['torture', 'journalists'],
    urgency: 'normal', peopleAtRisk: { total: 1, men: 1 }, asks: ['Libérez-le immédiatement.'],
  }))
  const thailand = await createPublished(ctx, anAppeal({
    title: 'Thailand: Uyghur men face forced return to China', summary: 'Forty-three men held in immigration detention for ten years.',
    body: 'They fear imprisonment if returned.', countries: ['TH'], subdivisions: [], themes: ['refoulement'], urgency: 'critical',
    peopleAtRisk: { total: 43, atLeast: true, men: 43, nationality: 'Chinese (Uyghur)' }, asks: ['Do not deport them.'],
  }))
  const draft = await createDraft(ctx, anAppeal({ title: 'Draft: second Liaoning group detained' }))
  // Drafts only staff see; this one shows that every PostgreSQL stemmer is used, not just a few.
  const turkey = await createDraft(ctx, anAppeal({
    language: 'tr', title: 'Türkiye: gazeteci gözaltında', summary: 'Gazeteci üç gündür gözaltında tutuluyor.', body: '',
    countries: ['TR'], subdivisions: [], asks: ['Serbest bırakın.'], peopleAtRisk: { total: 1 },
  }))
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${turkey.id}/withdraw`, { reason: 'test data' }), 200)

  const publicIds = async (query: string, as: Who = null) => ids(await page(ctx, as, query))

  t.test('status', async (t) => {
    t.same(await publicIds('status=closed'), [iran.id])
    t.same(await publicIds('status=published'), [thailand.id, egypt.id, liaoning.id])
    t.same(await publicIds('status=draft', 'editor'), [draft.id])
  })

  t.test('country matches any of the appeal\'s countries', async (t) => {
    t.same(await publicIds('country=CN'), [liaoning.id])
    t.same(await publicIds('country=KP'), [liaoning.id])
    t.same(await publicIds('country=CN', 'editor'), [draft.id, liaoning.id])
    t.same(await publicIds('country=FR'), [])
  })

  t.test('theme and urgency', async (t) => {
    t.same(await publicIds('theme=torture'), [egypt.id, liaoning.id])
    t.same(await publicIds('theme=refoulement'), [thailand.id, liaoning.id])
    t.same(await publicIds('urgency=critical'), [thailand.id, liaoning.id])
    t.same(await publicIds('urgency=high'), [iran.id])
    t.same(await publicIds('urgency=critical&theme=children'), [liaoning.id], 'filters combine')
  })

  t.test('language matches the original or a translation', async (t) => {
    t.same(await publicIds('language=ko'), [liaoning.id], 'by its Korean translation')
    t.same(await publicIds('language=fr'), [egypt.id])
    t.same(await publicIds('language=FR'), [egypt.id], 'tags are case-insensitive')
    t.same(await publicIds('language=en'), [thailand.id, iran.id, liaoning.id])
    t.same(await publicIds('language=de'), [])
    expectStatus(t, await ctx.request('editor', 'PUT', `/v1/appeals/${thailand.id}/translations/zh-hant`, { title: '泰國：維吾爾族男子面臨遣返', summary: '四十三人' }), 201)
    t.same(await publicIds('language=zh'), [thailand.id], 'a language matches its regional and script variants')
    t.same(await publicIds('language=zh-Hant'), [thailand.id])
    t.same(await publicIds('language=zh-Hans'), [])
  })

  t.test('updatedSince', async (t) => {
    const since = new Date().toISOString()
    await new Promise((resolve) => setTimeout(resolve, 5))
    t.same(await publicIds(`updatedSince=${encodeURIComponent(since)}`), [])
    expectStatus(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${egypt.id}`, { urgency: 'high' }, { 'if-match': `"${egypt.version}"` }), 200)
    t.same(await publicIds(`updatedSince=${encodeURIComponent(since)}`), [egypt.id])
    t.same((await publicIds('updatedSince=2000-01-01T00:00:00Z')).length, 4)
  })

  t.test('full-text q: stemmed, websearch syntax', async (t) => {
    t.same(await publicIds('q=detain'), [iran.id, liaoning.id], 'detain matches detained')
    t.same(await publicIds('q=DETAINED'), [iran.id, liaoning.id], 'and the other way round, in any case')
    t.same(await publicIds('q=detain', 'editor'), [draft.id, iran.id, liaoning.id], 'staff search their drafts too')
    t.same(await publicIds(`q=${encodeURIComponent('"forced return"')}`), [thailand.id, liaoning.id], 'phrase')
    t.same(await publicIds(`q=${encodeURIComponent('"forced return" -execution')}`), [thailand.id], 'exclusion')
    t.same(await publicIds(`q=${encodeURIComponent('"forced return" -executions')}`), [thailand.id], 'exclusion is stemmed too')
    t.same(await publicIds(`q=${encodeURIComponent('forced -"forced return"')}`), [], 'excluded phrase')
    t.same(await publicIds(`q=${encodeURIComponent('lawyers OR Uyghur')}`), [thailand.id, iran.id])
    t.same(await publicIds('q=torturé'), [egypt.id], 'a French appeal is searched in French')
    t.same(await publicIds('q=arrêter'), [egypt.id], 'French stemming: arrêter matches arrêté')
    t.same(await publicIds(`q=${encodeURIComponent('gözaltına')}`, 'editor'), [turkey.id], 'Turkish stemming: gözaltına matches gözaltında')
    t.same(await publicIds('q=UNHCR'), [liaoning.id], 'the asks are searched')
    t.same(await publicIds(`q=${encodeURIComponent('강제송환')}`), [liaoning.id], 'translations are searched')
    t.same(await publicIds(`q=${encodeURIComponent('"the"')}`), [liaoning.id], 'a stop word alone still finds its word')
    t.same(await publicIds('q=detain&country=IR'), [iran.id], 'q combines with filters')
    t.same(await publicIds('q=nothingmatchesthis'), [])
  })

  t.test('filters paginate', async (t) => {
    const first = await page(ctx, null, 'urgency=critical&limit=1')
    t.same(ids(first), [thailand.id])
    t.type(first.nextCursor, 'string')
    const second = await page(ctx, null, `urgency=critical&limit=1&cursor=${first.nextCursor}`)
    t.same(ids(second), [liaoning.id])
    t.equal(second.nextCursor, null)
  })

  t.test('list items are the same representation as GET', async (t) => {
    const list = await page(ctx, null, 'country=TH')
    const one = expectStatus(t, await ctx.request(null, 'GET', `/v1/appeals/${thailand.id}`), 200)
    t.same(list.items[0], one)
  })
})
