// The event log (contract §4): GET /v1/events is the polling fallback for
// webhooks — the same bodies, in order, never skipping an event.
import t from 'tap'
import pg from 'pg'
import { buildTestApp, type TestApp } from './helpers/context.js'
import { approve, liaoningAppeal } from './helpers/liaoning.js'
import { withTransaction } from '../src/db/pool.js'
import { appendEvent } from '../src/services/events.js'

type Role = 'admin' | 'editor' | 'partner' | 'otherEditor' | 'otherPartner'
interface LoggedEvent { id: string; type: string; timestamp: string; data: Record<string, unknown> }

async function ok<T = unknown>(res: Promise<{ statusCode: number; body: string; json(): unknown }>, status = 200): Promise<T> {
  const r = await res
  if (r.statusCode !== status) throw new Error(`expected ${status}, got ${r.statusCode}: ${r.body}`)
  return r.json() as T
}

/** Creates and publishes an appeal (reference generated); returns its id. */
async function publishAppeal(ctx: TestApp, title?: string): Promise<string> {
  const { reference: _reference, ...body } = liaoningAppeal()
  const appeal = await ok<{ id: string }>(ctx.request('editor', 'POST', '/v1/appeals', { ...body, ...(title ? { title } : {}) }), 201)
  await approve(ctx, appeal.id) // a child case: a second key approves it
  await ok(ctx.request('editor', 'POST', `/v1/appeals/${appeal.id}/publish`))
  return appeal.id
}

const followUp = (ctx: TestApp, id: string, body: string) =>
  ok(ctx.request('editor', 'POST', `/v1/appeals/${id}/updates`, { body }), 201)

async function page(ctx: TestApp, as: Role, query = ''): Promise<{ items: LoggedEvent[]; nextCursor: string | null }> {
  return ok(ctx.request(as, 'GET', `/v1/events${query}`))
}

/** Every event visible to `as`, following nextCursor with `after`. */
async function walk(ctx: TestApp, as: Role, query: string, limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = []
  let after: string | null = null
  let pages = 0
  for (let guard = 0; guard < 100; guard++) {
    const sep = query ? '&' : ''
    const p = await page(ctx, as, `?limit=${limit}${sep}${query}${after ? `&after=${after}` : ''}`)
    pages++
    if (p.items.length > limit) throw new Error('page larger than limit')
    ids.push(...p.items.map((e) => e.id))
    if (p.nextCursor === null) return { ids, pages }
    if (p.nextCursor !== p.items[p.items.length - 1]!.id) throw new Error('nextCursor is not the last id of the page')
    after = p.nextCursor
  }
  throw new Error('pagination did not end')
}

async function storedEvents(ctx: TestApp): Promise<{ id: string; type: string; payload: Omit<LoggedEvent, 'id'> }[]> {
  const { rows } = await ctx.pool.query('SELECT id, type, payload FROM events ORDER BY position')
  return rows
}

/** Until some transaction of this database waits on a row lock (bounded). */
async function waitForLockWaiter(ctx: TestApp): Promise<void> {
  for (const until = Date.now() + 5_000; Date.now() < until;) {
    const { rowCount } = await ctx.pool.query(
      `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)
    if (rowCount) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error('no transaction ended up waiting for the event position lock')
}

function problemPointers(res: { json(): unknown }): { pointer: string; in?: string }[] {
  return ((res.json() as { errors?: { pointer: string; in?: string }[] }).errors ?? []).map(({ pointer, in: part }) => ({ pointer, in: part }))
}

t.test('partners and editors read the event log; admins too; no key is a 401', async (t) => {
  const ctx = await buildTestApp(t)
  await publishAppeal(ctx)
  for (const as of ['partner', 'otherPartner', 'editor', 'otherEditor', 'admin'] as const) {
    const res = await ctx.request(as, 'GET', '/v1/events')
    t.equal(res.statusCode, 200, `${as}: 200`)
    t.equal(res.json().items.length, 1, `${as} sees the published appeal's event`)
  }
  const anonymous = await ctx.request(null, 'GET', '/v1/events')
  t.equal(anonymous.statusCode, 401)
  t.match(anonymous.headers['content-type'], /^application\/problem\+json/)
  t.match(anonymous.headers['www-authenticate'], /^Bearer/)
  const badKey = await ctx.request(null, 'GET', '/v1/events', undefined, { authorization: 'Bearer ua_aaaaaaaaaa_' + 'A'.repeat(43) })
  t.equal(badKey.statusCode, 401, 'an unknown key is a 401')
  const invalidQuery = await ctx.request(null, 'GET', '/v1/events?limit=0&types=nope')
  t.equal(invalidQuery.statusCode, 401, 'without a key, the query string is not even looked at')
})

t.test('the log lists events in order with exactly the bodies webhooks carry', async (t) => {
  const ctx = await buildTestApp(t)
  const id = await publishAppeal(ctx)
  await followUp(ctx, id, 'The group has been moved to a detention centre in Dandong.')
  await ok(ctx.request('editor', 'POST', `/v1/appeals/${id}/close`, { outcome: { code: 'released', note: 'All seven reached a third country.' } }))
  const appealNow = await ok<Record<string, unknown>>(ctx.request(null, 'GET', `/v1/appeals/${id}`))

  const { items, nextCursor } = await page(ctx, 'partner')
  t.same(items.map((e) => e.type), ['appeal.published', 'appeal.updated', 'appeal.closed'])
  t.equal(nextCursor, null, 'caught up: no next page')
  const stored = await storedEvents(ctx)
  t.same(items.map((e) => e.id), stored.map((e) => e.id), 'ids as stored, in position order')
  for (const [i, item] of items.entries()) {
    t.same(Object.keys(item).sort(), ['data', 'id', 'timestamp', 'type'], `${item.type}: {id, type, timestamp, data}`)
    t.match(item.id, /^msg_[0-9A-Za-z]{26}$/)
    t.match(item.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    const { id: _id, ...body } = item
    t.strictSame(body, stored[i]!.payload, `${item.type}: the body is the webhook body, byte for byte`)
  }
  const closed = items[2]!.data.appeal as Record<string, unknown>
  t.same(closed, appealNow, 'appeal.closed carries the public appeal as it is now')
  t.notOk('organisationId' in closed, 'no internal fields in the public appeal')
  t.same((items[1]!.data.update as { number: number }).number, 1, 'appeal.updated carries the follow-up')
  t.ok(Date.parse(items[0]!.timestamp) <= Date.parse(items[2]!.timestamp), 'timestamps follow the order')
})

t.test('after-pagination walks 30 events with no gaps and no duplicates', async (t) => {
  const ctx = await buildTestApp(t)
  for (let i = 0; i < 10; i++) {
    const id = await publishAppeal(ctx, `Appeal number ${i}`)
    await followUp(ctx, id, `First news on appeal ${i}.`)
    await followUp(ctx, id, `Second news on appeal ${i}.`)
  }
  const all = (await storedEvents(ctx)).map((e) => e.id)
  t.equal(all.length, 30)

  for (const limit of [1, 7, 10, 29, 30, 100]) {
    const { ids, pages } = await walk(ctx, 'partner', '', limit)
    t.same(ids, all, `limit ${limit}: every event once, in order`)
    t.equal(pages, Math.max(1, Math.ceil(30 / limit)), `limit ${limit}: ${pages} pages, the last one says it is the last`)
  }
  const first = await page(ctx, 'editor')
  t.equal(first.items.length, 20, 'default page size is 20')
  t.equal(first.nextCursor, all[19])

  const tail = await page(ctx, 'partner', `?after=${all[29]}`)
  t.same(tail, { items: [], nextCursor: null }, 'after the newest event: an empty page')
  const middle = await page(ctx, 'partner', `?after=${all[14]}&limit=3`)
  t.same(middle.items.map((e) => e.id), all.slice(15, 18), 'after starts right after the given event')

  // A poller that caught up sees only what is new.
  const id = await publishAppeal(ctx, 'A new appeal')
  const news = await page(ctx, 'partner', `?after=${all[29]}`)
  t.same(news.items.map((e) => e.type), ['appeal.published'])
  t.equal((news.items[0]!.data.appeal as { id: string }).id, id)
})

t.test('a poller never skips an event whose transaction commits late', async (t) => {
  const ctx = await buildTestApp(t)
  const slow = new pg.Client({ connectionString: ctx.config.databaseUrl })
  await slow.connect()
  t.teardown(() => slow.end())
  await slow.query('BEGIN')
  const early = await appendEvent(slow, 'webhook.test', { n: 1 }, { organisationId: ctx.orgIds.partner })
  // A second writer starts after the first; it must not become visible first.
  const later = withTransaction(ctx.pool, (tx) => appendEvent(tx, 'webhook.test', { n: 2 }, { organisationId: ctx.orgIds.partner }))
  await waitForLockWaiter(ctx)
  t.same((await page(ctx, 'partner')).items, [], 'nothing visible while the first is uncommitted')
  await slow.query('COMMIT')
  const second = await later
  const { items } = await page(ctx, 'partner')
  t.same(items.map((e) => e.id), [early.id, second.id], 'both, in commit order, none skipped')
})

t.test('types filters by a comma-separated list of event types', async (t) => {
  const ctx = await buildTestApp(t)
  const a = await publishAppeal(ctx)
  await followUp(ctx, a, 'News.')
  await ok(ctx.request('editor', 'POST', `/v1/appeals/${a}/close`, { outcome: { code: 'no_change' } }))
  const b = await publishAppeal(ctx)
  await followUp(ctx, b, 'More news.')

  const published = await page(ctx, 'partner', '?types=appeal.published')
  t.same(published.items.map((e) => e.type), ['appeal.published', 'appeal.published'])
  const two = await page(ctx, 'partner', '?types=appeal.closed,appeal.published')
  t.same(two.items.map((e) => e.type), ['appeal.published', 'appeal.closed', 'appeal.published'], 'in log order, not list order')
  const none = await page(ctx, 'partner', '?types=appeal.withdrawn')
  t.same(none, { items: [], nextCursor: null })

  const { ids } = await walk(ctx, 'partner', 'types=appeal.updated', 1)
  t.equal(ids.length, 2, 'filtered pages follow nextCursor too')
  const afterFirst = await page(ctx, 'partner', `?types=appeal.updated&after=${published.items[0]!.id}`)
  t.same(afterFirst.items.map((e) => e.id), ids, '`after` may name an event the filter leaves out')

  for (const bad of ['appeal.bogus', 'appeal.published,', ',appeal.published', 'appeal.published;appeal.closed', 'APPEAL.PUBLISHED', '']) {
    const res = await ctx.request('partner', 'GET', `/v1/events?types=${encodeURIComponent(bad)}`)
    t.equal(res.statusCode, 400, `types=${bad}: 400`)
    t.same(problemPointers(res), [{ pointer: '/types', in: 'query' }], `types=${bad}: points at /types`)
  }
  const repeated = await ctx.request('partner', 'GET', '/v1/events?types=appeal.published&types=appeal.closed')
  t.equal(repeated.statusCode, 400, 'one comma-separated types parameter, not several')
  t.same(problemPointers(repeated), [{ pointer: '/types', in: 'query' }])
  const encoded = await page(ctx, 'partner', '?types=appeal.closed%2Cappeal.published')
  t.same(encoded.items.map((e) => e.id), two.items.map((e) => e.id), 'an encoded comma is a comma')
})

t.test('after must name a known event; limit is 1–100; unknown parameters are refused', async (t) => {
  const ctx = await buildTestApp(t)
  await publishAppeal(ctx)
  const unknown = await ctx.request('partner', 'GET', '/v1/events?after=msg_00000000000000000000000000')
  t.equal(unknown.statusCode, 400)
  t.match(unknown.headers['content-type'], /^application\/problem\+json/)
  t.match(unknown.json(), { type: '/problems/validation-error', status: 400 })
  t.same(problemPointers(unknown), [{ pointer: '/after', in: 'query' }])

  const malformed = await ctx.request('partner', 'GET', '/v1/events?after=not-an-event')
  t.equal(malformed.statusCode, 400)
  t.same(problemPointers(malformed), [{ pointer: '/after', in: 'query' }])

  for (const limit of ['0', '101', '-1', '2.5', 'ten']) {
    const res = await ctx.request('partner', 'GET', `/v1/events?limit=${limit}`)
    t.equal(res.statusCode, 400, `limit=${limit}: 400`)
    t.same(problemPointers(res), [{ pointer: '/limit', in: 'query' }], `limit=${limit}: points at /limit`)
  }
  for (const limit of ['1', '100']) {
    t.equal((await ctx.request('partner', 'GET', `/v1/events?limit=${limit}`)).statusCode, 200, `limit=${limit}: 200`)
  }
  const extra = await ctx.request('partner', 'GET', '/v1/events?since=2020-01-01')
  t.equal(extra.statusCode, 400, 'an unknown parameter is a 400, not silently ignored')
  t.same(problemPointers(extra), [{ pointer: '/since', in: 'query' }])
})

t.test('events addressed to one organisation are visible only to it (and admins)', async (t) => {
  const ctx = await buildTestApp(t)
  await publishAppeal(ctx)
  const ping = await withTransaction(ctx.pool, (tx) =>
    appendEvent(tx, 'webhook.test', { message: 'test ping' }, { organisationId: ctx.orgIds.partner }))
  const otherPing = await withTransaction(ctx.pool, (tx) =>
    appendEvent(tx, 'webhook.test', { message: 'another ping' }, { organisationId: ctx.orgIds.otherPartner }))

  const types = async (as: Role) => (await page(ctx, as)).items.map((e) => e.id === ping.id ? 'ping' : e.id === otherPing.id ? 'otherPing' : e.type)
  t.same(await types('partner'), ['appeal.published', 'ping'], 'the addressed partner sees its own test event')
  t.same(await types('otherPartner'), ['appeal.published', 'otherPing'], 'another partner sees only its own')
  t.same(await types('editor'), ['appeal.published'], 'an editor of another organisation does not see it')
  t.same(await types('admin'), ['appeal.published', 'ping', 'otherPing'], 'admins see every event')

  const filtered = await page(ctx, 'otherPartner', '?types=webhook.test')
  t.same(filtered.items.map((e) => e.id), [otherPing.id])
  t.same((await page(ctx, 'partner', '?types=webhook.test')).items[0], { id: ping.id, ...ping.payload }, 'the body as stored')

  const probe = await ctx.request('otherPartner', 'GET', `/v1/events?after=${ping.id}`)
  t.equal(probe.statusCode, 400, 'another organisation\'s event id is unknown to a partner as `after`')
  t.same(problemPointers(probe), [{ pointer: '/after', in: 'query' }])
  t.equal((await ctx.request('partner', 'GET', `/v1/events?after=${ping.id}`)).statusCode, 200, 'its own is fine')
  t.equal((await ctx.request('admin', 'GET', `/v1/events?after=${ping.id}`)).statusCode, 200, 'admins may use any')
})

t.test('withdrawal redacts the appeal\'s earlier events to {appealId, reference}', async (t) => {
  const ctx = await buildTestApp(t)
  const id = await publishAppeal(ctx, 'A title that must disappear')
  await followUp(ctx, id, 'A follow-up that must disappear.')
  const kept = await publishAppeal(ctx, 'Another appeal that stays')
  const before = await page(ctx, 'partner')
  const reference = (before.items[0]!.data.appeal as { reference: string }).reference
  await ok(ctx.request('editor', 'POST', `/v1/appeals/${id}/withdraw`, { reason: 'The family asked us to stop: they are at risk.' }))

  const res = await ctx.request('partner', 'GET', '/v1/events')
  t.notMatch(res.body, /must disappear/, 'no content of the withdrawn appeal is left in the log')
  t.notMatch(res.body, /family asked/, 'the reason is never published')
  const { items } = res.json() as { items: LoggedEvent[] }
  t.same(items.map((e) => e.type), ['appeal.published', 'appeal.updated', 'appeal.published', 'appeal.withdrawn'])
  t.same(items.map((e) => e.id), [...before.items.map((e) => e.id), items[3]!.id], 'ids never change')
  for (const i of [0, 1, 3]) t.strictSame(items[i]!.data, { appealId: id, reference }, `${items[i]!.type}: redacted`)
  t.same(items.slice(0, 2).map((e) => e.timestamp), before.items.slice(0, 2).map((e) => e.timestamp), 'types and timestamps stay')
  t.equal((items[2]!.data.appeal as { id: string; title: string }).id, kept)
  t.equal((items[2]!.data.appeal as { title: string }).title, 'Another appeal that stays', 'other appeals are untouched')
  const admin = await page(ctx, 'admin')
  t.notMatch(JSON.stringify(admin), /must disappear/, 'not even admins read it back from the log')
})
