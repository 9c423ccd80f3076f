// "I took action" (contract §8): the public button (form → 303 back to the
// page, JSON → 201 with the total), counted per appeal, UTC day and source,
// storing nothing about the person; only published appeals; rate-limited
// like the supporter endpoints; organisations' reports with a key (audited,
// idempotent); and the count shown to the owning organisation's staff
// only — never in public reads, events or webhooks.
import t from 'tap'
import { actionsTaken } from '../src/repositories/actions.js'
import { buildTestApp, type TestApp } from './helpers/context.js'
import { allEvents, anAppeal, approve, createDraft, createPublished, expectInvalid, expectProblem, expectStatus } from './helpers/liaoning.js'

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const JSON_ACCEPT = { accept: 'application/json' }

/** A click on the page's button: an HTML form post. */
const click = (ctx: TestApp, id: string, headers: Record<string, string> = {}, url = `/appeals/${id}/actions`) =>
  ctx.app.inject({ method: 'POST', url, headers: { ...FORM, accept: 'text/html,application/xhtml+xml', ...headers }, payload: '' })
const clickJson = (ctx: TestApp, id: string, headers: Record<string, string> = {}) =>
  ctx.app.inject({ method: 'POST', url: `/appeals/${id}/actions`, headers: { ...JSON_ACCEPT, ...headers } })

const rowsOf = async (ctx: TestApp, id: string) => (await ctx.pool.query(
  `SELECT to_char(day, 'YYYY-MM-DD') AS day, source, organisation_id AS "organisationId", count FROM appeal_actions
    WHERE appeal_id = $1 ORDER BY day, source, organisation_id NULLS FIRST`, [id])).rows
const utcDay = (offsetDays = 0) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10)

t.test('a form click goes back to the page with ?acted=1; JSON gets 201 and the total; counted per appeal and per UTC day', async (t) => {
  const ctx = await buildTestApp(t)
  const a = await createPublished(ctx)
  const b = await createPublished(ctx, anAppeal({ title: 'Second appeal' }))

  const form = await click(ctx, a.id)
  t.equal(form.statusCode, 303, 'See Other: the browser GETs the page')
  t.equal(form.headers.location, `/appeals/${a.id}?acted=1#act`, 'back to the appeal page, where the thanks are shown')
  t.equal(form.headers['cache-control'], 'no-store')
  t.equal(form.body, '')
  const bare = await ctx.app.inject({ method: 'POST', url: `/appeals/${a.id}/actions` })
  t.equal(bare.statusCode, 303, 'an empty body with no type is a form too')
  const multipart = await ctx.app.inject({
    method: 'POST', url: `/appeals/${a.id}/actions?lang=fr`,
    headers: { 'content-type': 'multipart/form-data; boundary=x' }, payload: '--x\r\nContent-Disposition: form-data; name="go"\r\n\r\n1\r\n--x--\r\n',
  })
  t.equal(multipart.statusCode, 303, 'a multipart form is accepted')
  t.equal(multipart.headers.location, `/appeals/${a.id}?acted=1&lang=fr#act`, 'the page language the form named is kept')

  const json = await clickJson(ctx, a.id)
  t.same(expectStatus(t, json, 201), { actionsTaken: 4 }, 'Accept: application/json → 201 with the new total')
  const jsonBody = await ctx.request(null, 'POST', `/appeals/${a.id}/actions`, {})
  t.same(expectStatus(t, jsonBody, 201), { actionsTaken: 5 }, 'a JSON body {} is a JSON caller')
  expectInvalid(t, await ctx.request(null, 'POST', `/appeals/${a.id}/actions`, { email: 'someone@example.org' }), '/email')
  t.equal(await actionsTaken(ctx.pool, a.id), 5, 'the refused request counted nothing')

  t.same(expectStatus(t, await clickJson(ctx, b.id), 201), { actionsTaken: 1 }, 'each appeal has its own count')
  t.equal(await actionsTaken(ctx.pool, a.id), 5)
  t.same(await rowsOf(ctx, a.id), [{ day: utcDay(), source: 'public', organisationId: null, count: 5 }], 'one row per appeal, day and source')

  // The day turns (UTC): yesterday's clicks stay yesterday's.
  await ctx.pool.query(`UPDATE appeal_actions SET day = day - 1 WHERE appeal_id = $1`, [a.id])
  t.same(expectStatus(t, await clickJson(ctx, a.id), 201), { actionsTaken: 6 })
  t.same(await rowsOf(ctx, a.id), [
    { day: utcDay(-1), source: 'public', organisationId: null, count: 5 },
    { day: utcDay(), source: 'public', organisationId: null, count: 1 },
  ])
  const tally = expectStatus(t, await ctx.request('editor', 'GET', `/v1/appeals/${a.id}/actions`), 200)
  t.same(tally, {
    appealId: a.id, actionsTaken: 6, public: 6, organisations: 0,
    days: [{ date: utcDay(-1), public: 5, organisations: 0 }, { date: utcDay(), public: 1, organisations: 0 }],
  }, 'the owning organisation reads the counts per day')
})

t.test('drafts and unknown appeals are 404, withdrawn 410, closed 409: nothing of their content, nothing counted', async (t) => {
  const ctx = await buildTestApp(t)
  const secret = 'Embargoed: do not leak this title'
  const draft = await createDraft(ctx, anAppeal({ title: secret, summary: 'Draft summary that must stay inside', embargoUntil: '2099-01-01T00:00:00Z' }))
  await approve(ctx, draft.id)
  await ctx.request('editor', 'POST', `/v1/appeals/${draft.id}/publish`) // scheduled behind its embargo: still a draft
  const withdrawn = await createPublished(ctx, anAppeal({ title: 'Withdrawn appeal title' }))
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${withdrawn.id}/withdraw`, { reason: 'risk to the family' }), 200)
  const closed = await createPublished(ctx, anAppeal({ title: 'Closed appeal title' }))
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${closed.id}/close`, { outcome: { code: 'released' } }), 200)
  const unknown = '00000000-0000-4000-8000-000000000000'

  const cases = [
    { id: draft.id, status: 404, slug: 'not-found', words: [secret, draft.reference, 'Draft summary'] },
    { id: unknown, status: 404, slug: 'not-found', words: [] },
    { id: withdrawn.id, status: 410, slug: 'appeal-withdrawn', words: ['Withdrawn appeal title', withdrawn.reference, 'risk to the family'] },
    { id: closed.id, status: 409, slug: 'appeal-closed', words: ['Closed appeal title', closed.reference, 'released'] },
  ]
  for (const c of cases) {
    const res = await clickJson(ctx, c.id)
    expectProblem(t, res, c.status, c.slug)
    for (const word of c.words) t.notOk(res.body.includes(word), `${c.slug}: the answer says nothing of the appeal (${word})`)
    const form = await click(ctx, c.id)
    t.equal(form.statusCode, 303, `${c.slug}: a form post goes back to the page…`)
    t.equal(form.headers.location, `/appeals/${c.id}`, '…without acted=1: the page says why (404, 410, or the outcome)')
    t.equal(form.body, '', 'and carries nothing itself')
    t.same(await rowsOf(ctx, c.id), [], 'nothing counted')
  }
  expectInvalid(t, await clickJson(ctx, 'not-a-uuid'), '/id', 'path')
})

t.test('every click counts against the public per-address limit, with a key too', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_RATE_LIMIT: '3' })
  const appeal = await createPublished(ctx)
  t.equal((await click(ctx, appeal.id)).statusCode, 303)
  t.equal((await clickJson(ctx, appeal.id)).statusCode, 201)
  t.equal((await clickJson(ctx, appeal.id, { authorization: `Bearer ${ctx.keys.partner}` })).statusCode, 201, 'a keyed click is the third')
  const limited = await clickJson(ctx, appeal.id, { authorization: `Bearer ${ctx.keys.editor}` })
  expectProblem(t, limited, 429, 'rate-limited')
  t.ok(Number(limited.headers['retry-after']) >= 1, 'Retry-After')
  t.equal((await click(ctx, appeal.id)).statusCode, 429, 'a form post too')
  t.equal(await actionsTaken(ctx.pool, appeal.id), 3, 'refused clicks are not counted')
  const other = await ctx.app.inject({ method: 'POST', url: `/appeals/${appeal.id}/actions`, remoteAddress: '192.0.2.44', headers: JSON_ACCEPT })
  t.equal(other.statusCode, 201, 'another address has its own budget')
})

t.test('nothing about the person who clicked is stored: counts only', async (t) => {
  const ctx = await buildTestApp(t, { TRUST_PROXY: '127.0.0.1' })
  const appeal = await createPublished(ctx)
  const { rows: columns } = await ctx.pool.query(
    `SELECT column_name FROM information_schema.columns WHERE table_name = 'appeal_actions' ORDER BY ordinal_position`)
  t.same(columns.map((c) => c.column_name), ['appeal_id', 'day', 'source', 'organisation_id', 'count'],
    'the table can hold nothing else: no address, IP, user agent, cookie or time of day')

  const before = await ctx.pool.query<{ dump: string }>(`SELECT string_agg(t::text, '|') AS dump FROM appeal_actions t`)
  t.equal(before.rows[0]!.dump, null)
  const traces = { ip: '203.0.113.77', ua: 'Mozilla/5.0 (TraceMe-Phone 9000)', cookie: 'session=trace-me-cookie', lang: 'x-trace-me-lang' }
  const res = await ctx.app.inject({
    method: 'POST', url: `/appeals/${appeal.id}/actions`,
    headers: { ...FORM, 'x-forwarded-for': traces.ip, 'user-agent': traces.ua, cookie: traces.cookie, 'accept-language': traces.lang, referer: 'https://trace-me.example/' },
    payload: 'email=trace-me%40example.org&name=Trace+Me',
  })
  t.equal(res.statusCode, 303)
  t.equal(await actionsTaken(ctx.pool, appeal.id), 1)
  // Every row of every table, as text: none holds a trace of the request.
  const { rows: tables } = await ctx.pool.query<{ name: string }>(
    `SELECT quote_ident(table_name) AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
  const dump = (await Promise.all(tables.map(async ({ name }) =>
    (await ctx.pool.query<{ dump: string | null }>(`SELECT string_agg(t::text, '|') AS dump FROM ${name} t`)).rows[0]!.dump ?? ''))).join('\n')
  for (const [what, value] of Object.entries({ ...traces, email: 'trace-me', referer: 'trace-me.example' })) {
    t.notOk(dump.includes(value), `no ${what} anywhere in the database`)
  }
})

t.test('a cross-site post cannot add to the count', async (t) => {
  const ctx = await buildTestApp(t)
  const appeal = await createPublished(ctx)
  const res = await click(ctx, appeal.id, { 'sec-fetch-site': 'cross-site', origin: 'https://elsewhere.example' })
  expectProblem(t, res, 403, 'cross-site-action')
  t.equal(await actionsTaken(ctx.pool, appeal.id), 0)
  t.equal((await click(ctx, appeal.id, { 'sec-fetch-site': 'same-origin' })).statusCode, 303, 'the page\'s own form is counted')
  t.equal((await click(ctx, appeal.id, { 'sec-fetch-site': 'same-site' })).statusCode, 303, 'so is a page of the same site')
  t.equal(await actionsTaken(ctx.pool, appeal.id), 2)
})

t.test('an organisation reports its supporters\' actions with its key: audited, idempotent, published or closed only', async (t) => {
  const ctx = await buildTestApp(t)
  const appeal = await createPublished(ctx)
  await clickJson(ctx, appeal.id)
  const url = `/v1/appeals/${appeal.id}/actions`

  const first = await ctx.request('partner', 'POST', url, { count: 120 }, { 'idempotency-key': 'letters-2019-05' })
  t.same(expectStatus(t, first, 201), { actionsTaken: 121 }, 'the network\'s total')
  const replay = await ctx.request('partner', 'POST', url, { count: 120 }, { 'idempotency-key': 'letters-2019-05' })
  t.equal(replay.statusCode, 201)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.same(replay.json(), { actionsTaken: 121 })
  t.equal(await actionsTaken(ctx.pool, appeal.id), 121, 'a replay adds nothing')
  expectProblem(t, await ctx.request('partner', 'POST', url, { count: 5 }, { 'idempotency-key': 'letters-2019-05' }), 422, 'idempotency-key-reused')

  const { rows: audit } = await ctx.pool.query(
    `SELECT a.action, a.resource_type, a.resource_id, a.organisation_id, a.actor_role, a.details, k.name AS key
       FROM audit_log a JOIN api_keys k ON k.id = a.api_key_id WHERE a.action = 'appeal.report-actions'`)
  t.same(audit, [{
    action: 'appeal.report-actions', resource_type: 'appeal', resource_id: appeal.id, organisation_id: ctx.orgIds.partner,
    actor_role: 'partner', details: { count: 120 }, key: 'partner test key',
  }], 'audited once, with the key that reported')

  t.same(expectStatus(t, await ctx.request('otherEditor', 'POST', url, { count: 30 }), 201), { actionsTaken: 151 }, 'another NGO\'s editor reports for its supporters')
  t.same(expectStatus(t, await ctx.request('editor', 'POST', url, { count: 9 }), 201), { actionsTaken: 160 }, 'the owning NGO too')
  t.same((await rowsOf(ctx, appeal.id)).map((r) => [r.source, r.organisationId, r.count]).sort(), [
    ['organisation', ctx.orgIds.ngo, 9], ['organisation', ctx.orgIds.otherNgo, 30], ['organisation', ctx.orgIds.partner, 120], ['public', null, 1],
  ].sort(), 'per source: the button, and each reporting organisation')

  // The body: a positive whole number with a ceiling.
  for (const [body, pointer] of [[{ count: 0 }, '/count'], [{ count: 100_001 }, '/count'], [{ count: 1.5 }, '/count'], [{ count: '5' }, '/count'],
    [{}, '/count'], [{ count: 1, note: 'x' }, '/note']] as const) {
    expectInvalid(t, await ctx.request('partner', 'POST', url, body), pointer)
  }
  t.same(expectStatus(t, await ctx.request('partner', 'POST', url, { count: 100_000 }), 201), { actionsTaken: 100_160 }, 'the ceiling itself is accepted')
  expectProblem(t, await ctx.request(null, 'POST', url, { count: 1 }), 401, 'unauthorized')

  // Only what they may read, and only what is or was public.
  const draft = await createDraft(ctx)
  expectProblem(t, await ctx.request('partner', 'POST', `/v1/appeals/${draft.id}/actions`, { count: 1 }), 404, 'not-found')
  expectProblem(t, await ctx.request('otherEditor', 'POST', `/v1/appeals/${draft.id}/actions`, { count: 1 }), 404, 'not-found')
  expectProblem(t, await ctx.request('editor', 'POST', `/v1/appeals/${draft.id}/actions`, { count: 1 }), 409, 'illegal-transition')
  const withdrawn = await createPublished(ctx)
  await ctx.request('editor', 'POST', `/v1/appeals/${withdrawn.id}/withdraw`, { reason: 'safety' })
  expectProblem(t, await ctx.request('partner', 'POST', `/v1/appeals/${withdrawn.id}/actions`, { count: 1 }), 404, 'not-found')
  expectProblem(t, await ctx.request('editor', 'POST', `/v1/appeals/${withdrawn.id}/actions`, { count: 1 }), 409, 'illegal-transition')
  const closed = await createPublished(ctx)
  await ctx.request('editor', 'POST', `/v1/appeals/${closed.id}/close`, { outcome: { code: 'released' } })
  t.same(expectStatus(t, await ctx.request('partner', 'POST', `/v1/appeals/${closed.id}/actions`, { count: 40 }), 201), { actionsTaken: 40 },
    'letters sent before the appeal closed are still reported')
  for (const id of [draft.id, withdrawn.id]) t.same(await rowsOf(ctx, id), [], 'nothing counted on a refusal')
  const { rows: [{ n }] } = await ctx.pool.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'appeal.report-actions'`)
  t.equal(n, 5, 'every counted report audited, no refused one')

  const tally = expectStatus(t, await ctx.request('editor', 'GET', url), 200)
  t.same([tally.actionsTaken, tally.public, tally.organisations], [100_160, 1, 100_159])
  t.same(tally.days, [{ date: utcDay(), public: 1, organisations: 100_159 }])
})

t.test('staff of the owning organisation see actionsTaken; other organisations, partners, public reads and events never do', async (t) => {
  const ctx = await buildTestApp(t)
  const ours = await createPublished(ctx)
  const theirs = await createPublished(ctx, anAppeal({ title: 'Other NGO appeal' }), 'otherEditor')
  for (let i = 0; i < 3; i++) await clickJson(ctx, ours.id)
  await ctx.request('partner', 'POST', `/v1/appeals/${ours.id}/actions`, { count: 10 })
  await clickJson(ctx, theirs.id)

  const get = async (as: 'editor' | 'admin' | 'otherEditor' | 'partner' | null, id: string) =>
    expectStatus(t, await ctx.request(as, 'GET', `/v1/appeals/${id}`), 200)
  const listed = async (as: 'editor' | 'admin' | 'otherEditor' | 'partner' | null, id: string) =>
    (expectStatus(t, await ctx.request(as, 'GET', '/v1/appeals?limit=100'), 200).items as any[]).find((a) => a.id === id)

  t.equal((await get('editor', ours.id)).actionsTaken, 13, 'the owning organisation\'s editor')
  t.equal((await get('admin', ours.id)).actionsTaken, 13, 'an admin')
  t.equal((await listed('editor', ours.id)).actionsTaken, 13, 'in the list too')
  t.equal((await get('otherEditor', theirs.id)).actionsTaken, 1, 'the other NGO sees its own')
  t.equal((await listed('admin', theirs.id)).actionsTaken, 1, 'admins see every organisation\'s')
  for (const as of ['otherEditor', 'partner', null] as const) {
    const who = as ?? 'the public'
    for (let read = 1; read <= 2; read++) { // the second public read comes from the cache
      t.notOk('actionsTaken' in (await get(as, ours.id)), `${who} (read ${read}): not on another organisation's appeal`)
      t.notOk('actionsTaken' in (await listed(as, ours.id)), `${who} (read ${read}): not in the list`)
    }
  }
  t.notOk('actionsTaken' in (await get('editor', theirs.id)), 'our editor does not see the other NGO\'s count')
  t.notOk('actionsTaken' in (await listed('partner', theirs.id)), 'nor does a partner')
  t.notOk('actionsTaken' in (await get(null, theirs.id)), 'nor the public')

  // Delivery progress and the tally: the owning organisation only.
  t.equal(expectStatus(t, await ctx.request('editor', 'GET', `/v1/appeals/${ours.id}/deliveries`), 200).actionsTaken, 13, 'delivery progress shows the count')
  expectProblem(t, await ctx.request('otherEditor', 'GET', `/v1/appeals/${ours.id}/deliveries`), 404, 'not-found')
  expectStatus(t, await ctx.request('admin', 'GET', `/v1/appeals/${ours.id}/actions`), 200)
  expectProblem(t, await ctx.request('otherEditor', 'GET', `/v1/appeals/${ours.id}/actions`), 404, 'not-found')
  expectProblem(t, await ctx.request('partner', 'GET', `/v1/appeals/${ours.id}/actions`), 403, 'forbidden')
  expectProblem(t, await ctx.request(null, 'GET', `/v1/appeals/${ours.id}/actions`), 401, 'unauthorized')

  // Changes after the clicks: their responses and events carry the public representation.
  const update = await ctx.request('editor', 'POST', `/v1/appeals/${ours.id}/updates`, { body: 'The seven were moved to a detention centre in Tumen.' })
  t.notOk('actionsTaken' in expectStatus(t, update, 201), 'a change answers the appeal as its event carries it')
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${ours.id}/close`, { outcome: { code: 'no_change' } }), 200)
  const events = await allEvents(ctx)
  t.ok(events.some((e) => e.type === 'appeal.updated' && e.data.appeal.id === ours.id), 'the follow-up is in the event log')
  t.notOk(JSON.stringify(events).includes('actionsTaken'), 'no event (and so no webhook) carries the count')
})
