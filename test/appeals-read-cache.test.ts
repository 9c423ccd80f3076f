// The in-process cache of public appeal reads never serves a version older
// than a committed change: changes made through another process reach it by
// NOTIFY (bounded wait), changes through the same process at once, and while
// its LISTEN connection is down it is bypassed.
import t from 'tap'
import { pino } from 'pino'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { buildApp } from '../src/app.js'
import { createPool, type Pool } from '../src/db/pool.js'
import { buildTestApp, type TestApp } from './helpers/context.js'
import { anAppeal, createDraft, createPublished, expectStatus, type Tap } from './helpers/liaoning.js'
import { eventually } from './helpers/eventually.js'

/** Polls until `check` holds; fails after `timeoutMs` (the NOTIFY's bounded wait). */
const waitFor = async (check: () => Promise<boolean> | boolean, what: string, timeoutMs = 2000): Promise<void> => {
  await eventually(check, timeoutMs, what, { intervalMs: 10 })
}

/** Counts the queries the app's pool runs: a cached read runs none. */
function countQueries(pool: Pool): { readonly count: number } {
  const counter = { count: 0 }
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown
  pool.query = ((...args: unknown[]) => { counter.count++; return query(...args) }) as typeof pool.query
  return counter
}

/** A second API process on the same database (like another `serve`): its writes reach us only by NOTIFY. */
async function otherProcess(t: Tap, ctx: TestApp): Promise<{ app: FastifyInstance; request: TestApp['request'] }> {
  const pool = createPool(ctx.config.databaseUrl, { max: 4 })
  const app = await buildApp({ config: ctx.config, pool, redis: ctx.redis, logger: pino({ level: 'silent' }), readCache: false })
  await app.ready()
  t.teardown(async () => { await app.close(); await pool.end() })
  return {
    app,
    request: (as, method, url, body, headers = {}) => app.inject({
      method, url, headers: { ...(as ? { authorization: `Bearer ${ctx.keys[as]}` } : {}), ...headers },
      ...(body !== undefined ? { payload: body as InjectOptions['payload'] } : {}),
    }),
  }
}

const publicGet = (ctx: TestApp, id: string) => ctx.request(null, 'GET', `/v1/appeals/${id}`)
const publicList = (ctx: TestApp) => ctx.request(null, 'GET', '/v1/appeals?limit=20')
const listed = async (ctx: TestApp, id: string) => (publicList(ctx)).then((r) => r.json().items.find((a: { id: string }) => a.id === id))

async function cacheActive(ctx: TestApp): Promise<void> {
  await waitFor(() => ctx.app.publicReadCache?.active === true, 'the read cache to listen', 5000)
}

/**
 * Reads twice: the second answer must come from memory (no query) and equal
 * the first. The NOTIFY of a write made just before may still be on its way
 * and rightly empty the cache between the two reads: then read again, a few
 * times at most.
 */
async function expectCached(t: Tap, ctx: TestApp, queries: { readonly count: number }, id: string): Promise<any> {
  let first, firstList, again, againList
  let queried = 0
  for (let attempt = 0; attempt < 10; attempt++) {
    first = await publicGet(ctx, id)
    firstList = await publicList(ctx)
    const before = queries.count
    again = await publicGet(ctx, id)
    againList = await publicList(ctx)
    queried = queries.count - before
    if (queried === 0) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  if (!first || !firstList || !again || !againList) throw new Error('unreachable: the loop runs at least once')
  t.equal(queried, 0, 'served from the cache: no query')
  t.equal(again.body, first.body, 'the same body')
  t.equal(againList.body, firstList.body, 'the same list')
  t.equal(again.headers.etag, first.headers.etag, 'the same ETag')
  return again.statusCode === 200 ? again.json() : null
}

t.test('a cached public read reflects every change another process commits, within the NOTIFY', async (t) => {
  const ctx = await buildTestApp(t)
  const other = await otherProcess(t, ctx)
  const queries = countQueries(ctx.pool)
  await cacheActive(ctx)
  const appeal = await createPublished(ctx)
  const url = `/v1/appeals/${appeal.id}`
  let version = appeal.version as number

  const change = async (what: string, write: () => Promise<{ statusCode: number; body: string; json(): any }>, expected: number,
    check: (a: any) => boolean) => {
    t.equal((await expectCached(t, ctx, queries, appeal.id)).version, version, `${what}: cached before`)
    const res = await write()
    t.equal(res.statusCode, expected, `${what}: ${res.body.slice(0, 300)}`)
    version = res.json().version
    await waitFor(async () => {
      const got = await publicGet(ctx, appeal.id)
      return got.statusCode === 200 && got.json().version === version && got.headers.etag === `"${version}"` && check(got.json())
    }, `${what} on GET /v1/appeals/{id}`)
    await waitFor(async () => (await listed(ctx, appeal.id))?.version === version, `${what} in the list`)
  }

  await change('a PATCH', () => other.request('editor', 'PATCH', url, { title: 'Seven North Koreans face forced return' }, { 'if-match': `"${version}"` }), 200,
    (a) => a.title === 'Seven North Koreans face forced return')
  await change('a translation', () => other.request('editor', 'PUT', `${url}/translations/ko`, { title: '강제송환 위기', summary: '일곱 명이 강제송환 위기에 있다.' }), 201,
    (a) => a.translations.some((x: { language: string }) => x.language === 'ko'))
  await change('a follow-up', () => other.request('editor', 'POST', `${url}/updates`, { body: 'Moved to a detention centre in Shenyang.' }), 201,
    (a) => a.updates.length === 1)
  await change('a close', () => other.request('editor', 'POST', `${url}/close`, { outcome: { code: 'released' } }), 200,
    (a) => a.status === 'closed' && a.outcome.code === 'released')

  t.equal((await expectCached(t, ctx, queries, appeal.id)).status, 'closed', 'the closed appeal is cached')
  const res = await other.request('editor', 'POST', `${url}/withdraw`, { reason: 'Publicity now endangers the families.' })
  expectStatus(t, res, 200)
  await waitFor(async () => (await publicGet(ctx, appeal.id)).statusCode === 404, 'the withdrawal on GET /v1/appeals/{id}')
  await waitFor(async () => (await listed(ctx, appeal.id)) === undefined, 'the withdrawal in the list')
  t.equal((await ctx.request('partner', 'GET', url)).statusCode, 404, 'partners no longer see it')
  t.equal((await ctx.request('editor', 'GET', url)).json().status, 'withdrawn', 'its editors still do')
})

t.test('changes made through the same process are visible at once, with no wait', async (t) => {
  const ctx = await buildTestApp(t)
  const queries = countQueries(ctx.pool)
  await cacheActive(ctx)
  const appeal = await createPublished(ctx)
  const url = `/v1/appeals/${appeal.id}`

  const steps: [string, () => Promise<{ statusCode: number; json(): any }>, (a: any) => boolean][] = [
    ['a PATCH', () => ctx.request('editor', 'PATCH', url, { summary: 'Changed summary.' }, { 'if-match': `"${appeal.version}"` }), (a) => a.summary === 'Changed summary.'],
    ['a translation', () => ctx.request('editor', 'PUT', `${url}/translations/fr`, { title: 'Sept personnes', summary: 'Menacées de renvoi.' }),
      (a) => a.translations.some((x: { language: string }) => x.language === 'fr')],
    ['a follow-up', () => ctx.request('editor', 'POST', `${url}/updates`, { body: 'Still detained.' }), (a) => a.updates.length === 1],
    ['a close', () => ctx.request('editor', 'POST', `${url}/close`, { outcome: { code: 'no_change' } }), (a) => a.status === 'closed'],
  ]
  for (const [what, write, check] of steps) {
    await expectCached(t, ctx, queries, appeal.id)
    const res = await write()
    t.ok(res.statusCode < 300, `${what} succeeded`)
    const got = expectStatus(t, await publicGet(ctx, appeal.id), 200)
    t.equal(got.version, res.json().version, `${what}: the next read has the new version`)
    t.ok(check(got), `${what}: the next read shows it`)
    t.equal((await listed(ctx, appeal.id))?.version, res.json().version, `${what}: so does the list`)
  }
  await expectCached(t, ctx, queries, appeal.id)
  expectStatus(t, await ctx.request('editor', 'POST', `${url}/withdraw`, { reason: 'duplicate' }), 200)
  t.equal((await publicGet(ctx, appeal.id)).statusCode, 404, 'withdrawn: gone from the next read')
  t.equal(await listed(ctx, appeal.id), undefined, 'and from the list')
})

t.test('cached answers equal uncached ones; partners share them; staff bypass the cache and see drafts', async (t) => {
  const ctx = await buildTestApp(t)
  const other = await otherProcess(t, ctx) // no cache
  await cacheActive(ctx)
  const published = await createPublished(ctx)
  const draft = await createDraft(ctx, anAppeal({ title: 'A draft' }))

  for (const path of [`/v1/appeals/${published.id}`, '/v1/appeals?limit=20', '/v1/appeals?limit=5&country=CN', '/v1/appeals?q=refoulement']) {
    const uncached = await other.request(null, 'GET', path)
    for (const as of [null, null, 'partner', 'partner'] as const) {
      const res = await ctx.request(as, 'GET', path)
      t.equal(res.statusCode, uncached.statusCode, `${path} as ${as ?? 'anonymous'}: status`)
      t.equal(res.body, uncached.body, `${path} as ${as ?? 'anonymous'}: body`)
      for (const header of ['content-type', 'etag', 'content-length']) {
        t.equal(res.headers[header], uncached.headers[header], `${path} as ${as ?? 'anonymous'}: ${header}`)
      }
    }
  }

  t.equal((await publicGet(ctx, draft.id)).statusCode, 404, 'the public never sees a draft')
  t.equal((await ctx.request('partner', 'GET', `/v1/appeals/${draft.id}`)).statusCode, 404, 'nor does a partner')
  for (const staff of ['editor', 'admin'] as const) {
    t.equal(expectStatus(t, await ctx.request(staff, 'GET', `/v1/appeals/${draft.id}`), 200).status, 'draft', `${staff} sees the draft`)
    const items = expectStatus(t, await ctx.request(staff, 'GET', '/v1/appeals?limit=20'), 200).items
    t.ok(items.some((a: { id: string }) => a.id === draft.id), `${staff} lists the draft`)
  }
  t.notOk((await listed(ctx, draft.id)), 'the public list (cached) still has no draft')
  const patched = expectStatus(t, await other.request('editor', 'PATCH', `/v1/appeals/${draft.id}`, { title: 'A changed draft' }), 200)
  t.equal(expectStatus(t, await ctx.request('editor', 'GET', `/v1/appeals/${draft.id}`), 200).title, patched.title,
    'staff read Postgres: a change by another process shows without waiting')
})

t.test('while LISTEN is down the cache is bypassed, then used again once it listens', async (t) => {
  const ctx = await buildTestApp(t)
  const queries = countQueries(ctx.pool)
  await cacheActive(ctx)
  const appeal = await createPublished(ctx)
  await expectCached(t, ctx, queries, appeal.id)

  const admin = createPool(ctx.config.databaseUrl, { max: 1 })
  t.teardown(() => admin.end())
  const { rows } = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE application_name = 'urgent-appeals-read-cache' AND datname = current_database()`)
  t.equal(rows.length, 1, 'one listener connection')
  // Waits (up to 5 s) until the backend is gone, so no NOTIFY can reach it.
  await admin.query('SELECT pg_terminate_backend($1, 5000)', [rows[0]!.pid])
  // A change no notification will announce to this process: straight in SQL, from another connection.
  await admin.query(`UPDATE appeals SET title = 'Changed while deaf', version = version + 1 WHERE id = $1`, [appeal.id])
  const got = expectStatus(t, await publicGet(ctx, appeal.id), 200)
  t.equal(got.title, 'Changed while deaf', 'visible at once: the cache is bypassed')
  t.equal((await listed(ctx, appeal.id))?.title, 'Changed while deaf', 'the list too')
  t.equal(ctx.app.publicReadCache?.active, false, 'not listening')
  const before = queries.count
  await publicGet(ctx, appeal.id)
  t.ok(queries.count > before, 'every read goes to Postgres while deaf')

  await cacheActive(ctx) // reconnects with backoff
  await expectCached(t, ctx, queries, appeal.id)
  await admin.query(`UPDATE appeals SET title = 'Changed once listening', version = version + 1 WHERE id = $1`, [appeal.id])
  await waitFor(async () => (await publicGet(ctx, appeal.id)).json().title === 'Changed once listening', 'the change after reconnecting')
  await waitFor(async () => (await listed(ctx, appeal.id))?.title === 'Changed once listening', 'the list after reconnecting')
})
