import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildTestApp, startTestSweeper, type TestApp } from './helpers/context.js'
import { allEvents, anAppeal, approve, createDraft, expectProblem, expectStatus } from './helpers/liaoning.js'
import { eventually } from './helpers/eventually.js'

/** Polls `check` until it returns a truthy value; fails after `timeoutMs`. */
const waitFor = <T>(check: () => Promise<T | null | undefined | false>, what: string, timeoutMs = 10_000) =>
  eventually(check, timeoutMs, what, { intervalMs: 50 })

const publishedEventsOf = async (ctx: TestApp, id: string) =>
  (await allEvents(ctx)).filter((e) => e.type === 'appeal.published' && e.data.appeal?.id === id)

t.test('an embargoed appeal is scheduled by publish and published by the worker when the embargo lifts', async (t) => {
  const ctx = await buildTestApp(t)
  const embargoUntil = new Date(Date.now() + 3000).toISOString() // room for the approval before publish is asked
  const draft = await createDraft(ctx, anAppeal({ embargoUntil }))
  await approve(ctx, draft.id) // a child case: a second key approves before publish is asked
  t.equal(draft.embargoUntil, embargoUntil)
  t.equal(draft.scheduledPublishAt, null, 'not scheduled before publish is asked')

  const res = await ctx.request('editor', 'POST', `/v1/appeals/${draft.id}/publish`)
  const scheduled = expectStatus(t, res, 200)
  t.equal(scheduled.status, 'draft', 'still a draft behind its embargo')
  t.equal(scheduled.scheduledPublishAt, embargoUntil, 'scheduled for the end of the embargo')
  t.equal(scheduled.publishedAt, null)
  t.equal(scheduled.version, 2)
  t.equal(res.headers.etag, '"2"')
  t.same(await allEvents(ctx), [], 'nothing is announced yet')

  // Asking again changes nothing but is not an error.
  const again = expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${draft.id}/publish`), 200)
  t.equal(again.scheduledPublishAt, embargoUntil)
  t.equal(again.version, 2, 'a second request does not make a new version')

  expectProblem(t, await ctx.request(null, 'GET', `/v1/appeals/${draft.id}`), 404, 'not-found')
  expectProblem(t, await ctx.request('partner', 'GET', `/v1/appeals/${draft.id}`), 404, 'not-found')
  t.same(expectStatus(t, await ctx.request(null, 'GET', '/v1/appeals'), 200).items, [], 'not in the public list')

  await startTestSweeper(t, ctx.config)
  const published = await waitFor(async () => {
    const a = (await ctx.request(null, 'GET', `/v1/appeals/${draft.id}`)).json()
    return a.status === 'published' ? a : null
  }, 'the embargo to lift')
  t.ok(Date.parse(published.publishedAt) >= Date.parse(embargoUntil), `published at ${published.publishedAt}, not before ${embargoUntil}`)
  t.equal(published.scheduledPublishAt, null, 'no longer scheduled')
  t.equal(published.embargoUntil, embargoUntil)

  // Give the worker a few more sweeps: still exactly one event.
  await sleep(600)
  const events = await publishedEventsOf(ctx, draft.id)
  t.equal(events.length, 1, 'exactly one appeal.published')
  t.match(events[0], { data: { appeal: { id: draft.id, status: 'published', publishedAt: published.publishedAt } } })
  t.equal(expectStatus(t, await ctx.request(null, 'GET', '/v1/appeals'), 200).items.length, 1, 'now in the public list')
  const { rows } = await ctx.pool.query(`SELECT actor_role FROM audit_log WHERE action = 'appeal.publish' AND resource_id = $1`, [draft.id])
  t.same(rows, [{ actor_role: 'operator' }], 'the release is audited as the system\'s act')
})

t.test('scheduled drafts: moved, cancelled and past embargoes', async (t) => {
  const ctx = await buildTestApp(t)
  const soon = () => new Date(Date.now() + 800).toISOString()

  // An embargo already over: publish is immediate.
  const past = await createDraft(ctx, anAppeal({ embargoUntil: '2020-01-01T00:00:00.000Z' }))
  await approve(ctx, past.id)
  const now = expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${past.id}/publish`), 200)
  t.equal(now.status, 'published')
  t.equal(now.scheduledPublishAt, null)

  // Moved later while scheduled: the schedule follows the embargo.
  const moved = await createDraft(ctx, anAppeal({ embargoUntil: soon() }))
  await approve(ctx, moved.id)
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${moved.id}/publish`), 200)
  const later = new Date(Date.now() + 60 * 60 * 1000).toISOString()
  const patched = expectStatus(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${moved.id}`, { embargoUntil: later }), 200)
  t.equal(patched.scheduledPublishAt, later)

  // Withdrawn while scheduled: never published, never announced.
  const cancelled = await createDraft(ctx, anAppeal({ embargoUntil: soon() }))
  await approve(ctx, cancelled.id)
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${cancelled.id}/publish`), 200)
  const withdrawn = expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${cancelled.id}/withdraw`, { reason: 'family asked us not to' }), 200)
  t.equal(withdrawn.status, 'withdrawn')
  t.equal(withdrawn.scheduledPublishAt, null)

  // A scheduled draft cannot lose the asks it needs to go out.
  const needsAsks = await createDraft(ctx, anAppeal({ embargoUntil: later }))
  await approve(ctx, needsAsks.id)
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${needsAsks.id}/publish`), 200)
  const noAsks = await ctx.request('editor', 'PATCH', `/v1/appeals/${needsAsks.id}`, { asks: [] })
  t.match(expectProblem(t, noAsks, 422, 'not-ready-to-publish').errors, [{ pointer: '/asks' }])

  const worker = await startTestSweeper(t, ctx.config)
  await sleep(1200)
  await worker.sweeper.sweep()
  const status = async (id: string) => (await ctx.request('editor', 'GET', `/v1/appeals/${id}`)).json().status
  t.equal(await status(moved.id), 'draft', 'a moved embargo holds')
  t.equal(await status(cancelled.id), 'withdrawn', 'a withdrawn appeal stays withdrawn')
  t.equal(await status(needsAsks.id), 'draft')
  const types = (await allEvents(ctx)).map((e) => `${e.type} ${e.data.appeal?.id ?? e.data.appealId}`)
  t.same(types, [`appeal.published ${past.id}`], 'only the appeal published at once was announced')
})
