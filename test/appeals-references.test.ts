// Appeal references (contract §3): unique within the organisation, never
// across organisations. Two NGOs may both have their "UA 001/19"; generated
// references count per organisation; a 409 speaks only of the caller's own
// organisation, and another organisation's references never show — a
// reference only they hold gets the same answer as a free one. Also the
// upgrade (migration 007): each organisation's counter continues after its
// own generated references.
import t from 'tap'
import { runner } from 'node-pg-migrate'
import { buildTestApp, createTestDatabase } from './helpers/context.js'
import { anAppeal, createDraft, createPublished, expectProblem, expectStatus } from './helpers/liaoning.js'
import { createPool } from '../src/db/pool.js'
import { migrate, MIGRATIONS_DIR } from '../src/db/migrate.js'
import { nextReference } from '../src/repositories/appeals.js'

const year = new Date().getUTCFullYear()
const yy = String(year % 100).padStart(2, '0')

t.test('two organisations can both have UA 001/19; generated references count per organisation', async (t) => {
  const ctx = await buildTestApp(t)
  const ours = await createDraft(ctx, anAppeal({ reference: 'UA 001/19' }))
  const theirs = await ctx.request('otherEditor', 'POST', '/v1/appeals', anAppeal({ reference: 'UA 001/19' }))
  t.equal(expectStatus(t, theirs, 201).reference, 'UA 001/19', 'the other NGO gets the same reference')
  t.not(theirs.json().id, ours.id)

  // Generated: each organisation starts at 001, whatever the other has.
  t.equal((await createDraft(ctx)).reference, `UA 001/${yy}`)
  t.equal((await createDraft(ctx, anAppeal(), 'otherEditor')).reference, `UA 001/${yy}`, 'the other NGO\'s first is 001 too')
  t.equal((await createDraft(ctx, anAppeal(), 'otherEditor')).reference, `UA 002/${yy}`)
  t.equal((await createDraft(ctx)).reference, `UA 002/${yy}`, 'ours continues from our own count, not theirs')

  // A number the other NGO chose by hand does not hold ours up; one of our own does.
  await createDraft(ctx, anAppeal({ reference: `UA 003/${yy}` }), 'otherEditor')
  t.equal((await createDraft(ctx)).reference, `UA 003/${yy}`, 'their hand-picked UA 003 is not skipped in our sequence')
  await createDraft(ctx, anAppeal({ reference: `UA 004/${yy}` }))
  t.equal((await createDraft(ctx)).reference, `UA 005/${yy}`, 'our own hand-picked UA 004 is skipped')

  // The staff lists of each organisation hold their own "UA 001/19" only.
  const list = (as: 'editor' | 'otherEditor') => ctx.request(as, 'GET', '/v1/appeals?status=draft&limit=100')
  const named = async (as: 'editor' | 'otherEditor') =>
    (expectStatus(t, await list(as), 200).items as { id: string; reference: string }[]).filter((a) => a.reference === 'UA 001/19').map((a) => a.id)
  t.same(await named('editor'), [ours.id])
  t.same(await named('otherEditor'), [theirs.json().id])
})

t.test('a duplicate within one organisation is a 409 about that organisation only', async (t) => {
  const ctx = await buildTestApp(t)
  const first = await createDraft(ctx, anAppeal({ reference: 'UA 001/19' }))
  await createDraft(ctx, anAppeal({ reference: 'UA 777/19' }), 'otherEditor')

  const duplicate = await ctx.request('editor', 'POST', '/v1/appeals', anAppeal({ reference: 'UA 001/19' }))
  const problem = expectProblem(t, duplicate, 409, 'reference-taken')
  t.match(problem.detail, /same organisation/)
  t.same(problem.errors, [{ pointer: '/reference', in: 'body', message: 'is already used by another appeal of the same organisation' }])
  t.notMatch(JSON.stringify(problem), first.id, 'the problem does not point at the appeal that holds it')

  // Renaming a draft onto a reference of its own organisation: the same 409.
  const second = await createDraft(ctx)
  const rename = await ctx.request('editor', 'PATCH', `/v1/appeals/${second.id}`, { reference: 'UA 001/19' })
  t.equal(expectProblem(t, rename, 409, 'reference-taken').errors[0].pointer, '/reference')

  // An admin of the organisation meets the same rule.
  expectProblem(t, await ctx.request('admin', 'POST', '/v1/appeals', anAppeal({ reference: 'UA 001/19' })), 409, 'reference-taken')
})

t.test('another organisation\'s reference never shows: the same answer as for a free one', async (t) => {
  const ctx = await buildTestApp(t)
  await createDraft(ctx, anAppeal({ reference: 'UA 777/19' }), 'otherEditor')
  await createDraft(ctx, anAppeal({ reference: 'UA 780/19' }), 'otherEditor')
  await createPublished(ctx, anAppeal({ reference: 'UA 778/19' }), 'otherEditor')

  const held = await ctx.request('editor', 'POST', '/v1/appeals', anAppeal({ reference: 'UA 777/19' }))
  const free = await ctx.request('editor', 'POST', '/v1/appeals', anAppeal({ reference: 'UA 779/19' }))
  t.equal(held.statusCode, free.statusCode, 'the status does not tell a reference the other NGO holds from a free one')
  t.equal(expectStatus(t, held, 201).reference, 'UA 777/19')
  t.equal(expectStatus(t, free, 201).reference, 'UA 779/19')
  t.same(Object.keys(held.json()).sort(), Object.keys(free.json()).sort(), 'nor does the body')

  // A published appeal's reference is public, but still the other NGO's: ours may use it too.
  expectStatus(t, await ctx.request('editor', 'POST', '/v1/appeals', anAppeal({ reference: 'UA 778/19' })), 201)

  // Renaming onto the other NGO's reference is no conflict either.
  const draft = await createDraft(ctx)
  const renamed = expectStatus(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${draft.id}`, { reference: 'UA 780/19' }), 200)
  t.equal(renamed.reference, 'UA 780/19')
})

t.test('the upgrade: each organisation continues after its own generated references (migration 007)', async (t) => {
  const databaseUrl = await createTestDatabase(t, { migrated: false })
  // The schema as it was before references became per organisation.
  await runner({
    databaseUrl, dir: MIGRATIONS_DIR, direction: 'up', count: 6, migrationsTable: 'pgmigrations',
    singleTransaction: true, checkOrder: true, log: () => {}, logger: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  })
  const pool = createPool(databaseUrl, { max: 2 })
  t.teardown(() => pool.end())
  const { rows: [a, b, c] } = await pool.query<{ id: string }>(
    `INSERT INTO organisations (name, kind) VALUES ('A', 'ngo'), ('B', 'ngo'), ('C', 'ngo') RETURNING id`)
  const appeal = (org: string, reference: string) => pool.query(
    `INSERT INTO appeals (organisation_id, reference, language, title, summary, urgency, countries, people_at_risk)
     VALUES ($1, $2, 'en', 't', 's', 'high', '{CN}', '{"total": 1}')`, [org, reference])
  // The global counter generated 001…005 this year, alternating between A and B; A also chose UA 500 by hand.
  await pool.query('INSERT INTO reference_counters (year, last) VALUES ($1, 5)', [year])
  for (const [org, n] of [[a!.id, '001'], [b!.id, '002'], [a!.id, '003'], [b!.id, '004'], [b!.id, '005'], [a!.id, '500']] as const) {
    await appeal(org, `UA ${n}/${yy}`)
  }

  await migrate(databaseUrl)
  t.equal(await nextReference(pool, a!.id, year), `UA 004/${yy}`, 'A continues after its own 003 (its hand-picked 500 is not a generated number)')
  t.equal(await nextReference(pool, b!.id, year), `UA 006/${yy}`, 'B continues after its own 005')
  t.equal(await nextReference(pool, c!.id, year), `UA 001/${yy}`, 'an organisation without appeals starts at 001')
  await appeal(c!.id, `UA 001/${yy}`)
  t.pass('and C may now hold a reference A already has')
})
