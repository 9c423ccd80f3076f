import t from 'tap'
import { buildTestApp } from './helpers/context.js'
import {
  allEvents, anAppeal, approve, createDraft, createPublished, expectInvalid, expectProblem, expectStatus, rowCounts,
} from './helpers/liaoning.js'

t.test('Idempotency-Key on appeal POSTs', async (t) => {
  const ctx = await buildTestApp(t)
  const appealCount = async () => (await rowCounts(ctx)).appeals

  t.test('a replayed create returns the first response and creates nothing', async (t) => {
    const body = anAppeal({ title: 'Idempotent create' })
    const headers = { 'idempotency-key': 'create-1' }
    const first = await ctx.request('editor', 'POST', '/v1/appeals', body, headers)
    const created = expectStatus(t, first, 201)
    t.notOk(first.headers['idempotent-replayed'], 'the first response is not a replay')
    const before = await rowCounts(ctx)

    const replay = await ctx.request('editor', 'POST', '/v1/appeals', body, headers)
    t.equal(replay.statusCode, 201)
    t.equal(replay.headers['idempotent-replayed'], 'true')
    t.equal(replay.body, first.body, 'byte for byte the same body')
    t.equal(replay.json().id, created.id)
    t.equal(replay.headers.etag, first.headers.etag)
    t.equal(replay.headers.location, first.headers.location)
    t.match(replay.headers['content-type'], /^application\/json/)
    t.same(await rowCounts(ctx), before, 'no second appeal, no second audit entry')

    // The same JSON with its properties in another order is the same request.
    const reordered = Object.fromEntries(Object.entries(body).reverse())
    const again = await ctx.request('editor', 'POST', '/v1/appeals', reordered, headers)
    t.equal(again.headers['idempotent-replayed'], 'true')
    t.equal(again.json().id, created.id)
  })

  t.test('the same key with another request is 422 and writes nothing', async (t) => {
    const headers = { 'idempotency-key': 'create-2' }
    expectStatus(t, await ctx.request('editor', 'POST', '/v1/appeals', anAppeal({ title: 'First' }), headers), 201)
    const before = await rowCounts(ctx)
    const res = await ctx.request('editor', 'POST', '/v1/appeals', anAppeal({ title: 'Second' }), headers)
    const problem = expectProblem(t, res, 422, 'idempotency-key-reused')
    t.match(problem.errors, [{ pointer: '/idempotency-key', in: 'header' }])
    t.same(await rowCounts(ctx), before)
    // Another endpoint is another request too.
    const draft = await createDraft(ctx)
    expectProblem(t, await ctx.request('editor', 'POST', `/v1/appeals/${draft.id}/publish`, undefined, headers), 422, 'idempotency-key-reused')
    t.equal(expectStatus(t, await ctx.request('editor', 'GET', `/v1/appeals/${draft.id}`), 200).status, 'draft', 'not published')
  })

  t.test('keys are scoped to the API key that sent them', async (t) => {
    const headers = { 'idempotency-key': 'shared-key' }
    const body = anAppeal({ title: 'Scoped' })
    const mine = expectStatus(t, await ctx.request('editor', 'POST', '/v1/appeals', body, headers), 201)
    const before = await appealCount()
    const admin = await ctx.request('admin', 'POST', '/v1/appeals', body, headers)
    const theirs = await ctx.request('otherEditor', 'POST', '/v1/appeals', anAppeal({ title: 'Something else' }), headers)
    t.notOk(admin.headers['idempotent-replayed'])
    t.notOk(theirs.headers['idempotent-replayed'])
    const ids = [mine.id, expectStatus(t, admin, 201).id, expectStatus(t, theirs, 201).id]
    t.equal(new Set(ids).size, 3, 'three appeals')
    t.equal(await appealCount(), before + 2)
  })

  t.test('publish, follow-ups and close replay instead of acting twice', async (t) => {
    const draft = await createDraft(ctx)
    await approve(ctx, draft.id)
    const url = `/v1/appeals/${draft.id}`
    const eventsBefore = (await allEvents(ctx)).length

    const publish = await ctx.request('editor', 'POST', `${url}/publish`, undefined, { 'idempotency-key': 'publish-1' })
    expectStatus(t, publish, 200)
    const publishAgain = await ctx.request('editor', 'POST', `${url}/publish`, undefined, { 'idempotency-key': 'publish-1' })
    t.equal(publishAgain.statusCode, 200, 'a retried publish is not a 409')
    t.equal(publishAgain.headers['idempotent-replayed'], 'true')
    t.equal(publishAgain.body, publish.body)

    const update = { body: 'The group was moved.' }
    const u1 = await ctx.request('editor', 'POST', `${url}/updates`, update, { 'idempotency-key': 'update-1' })
    const u2 = await ctx.request('editor', 'POST', `${url}/updates`, update, { 'idempotency-key': 'update-1' })
    t.equal(expectStatus(t, u1, 201).updates.length, 1)
    t.equal(u2.headers['idempotent-replayed'], 'true')
    const u3 = await ctx.request('editor', 'POST', `${url}/updates`, update, { 'idempotency-key': 'update-2' })
    t.same(expectStatus(t, u3, 201).updates.map((u: { number: number }) => u.number), [1, 2], 'a new key is a new follow-up')

    const close = { outcome: { code: 'released' } }
    const c1 = await ctx.request('editor', 'POST', `${url}/close`, close, { 'idempotency-key': 'close-1' })
    const c2 = await ctx.request('editor', 'POST', `${url}/close`, close, { 'idempotency-key': 'close-1' })
    expectStatus(t, c1, 200)
    t.equal(c2.statusCode, 200)
    t.equal(c2.headers['idempotent-replayed'], 'true')

    const types = (await allEvents(ctx)).slice(eventsBefore).map((e) => e.type)
    t.same(types, ['appeal.published', 'appeal.updated', 'appeal.updated', 'appeal.closed'], 'one event per action')
  })

  t.test('a failed action is not remembered: fixing the cause and retrying with the same key works', async (t) => {
    const draft = await createDraft(ctx, anAppeal({ asks: [] }))
    const headers = { 'idempotency-key': 'publish-after-fix' }
    expectProblem(t, await ctx.request('editor', 'POST', `/v1/appeals/${draft.id}/publish`, undefined, headers), 422, 'not-ready-to-publish')
    expectStatus(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${draft.id}`, { asks: ['Release them.'] }), 200)
    await approve(ctx, draft.id)
    const retry = await ctx.request('editor', 'POST', `/v1/appeals/${draft.id}/publish`, undefined, headers)
    t.equal(expectStatus(t, retry, 200).status, 'published')
    t.notOk(retry.headers['idempotent-replayed'])
  })

  t.test('concurrent requests with one key create one appeal', async (t) => {
    const before = await appealCount()
    const body = anAppeal({ title: 'Double click' })
    const results = await Promise.all([1, 2, 3].map(() => ctx.request('editor', 'POST', '/v1/appeals', body, { 'idempotency-key': 'double-click' })))
    for (const r of results) {
      t.ok(r.statusCode === 201 || r.statusCode === 409, `201 or 409 in flight, got ${r.statusCode}`)
      if (r.statusCode === 409) {
        expectProblem(t, r, 409, 'idempotency-key-in-flight')
        t.ok(r.headers['retry-after'], 'says when to retry')
      }
    }
    const ids = new Set(results.filter((r) => r.statusCode === 201).map((r) => r.json().id))
    t.equal(ids.size, 1, 'every success names the same appeal')
    t.equal(await appealCount(), before + 1)
  })

  t.test('malformed keys are 400 in: header', async (t) => {
    const before = await rowCounts(ctx)
    for (const key of ['x'.repeat(300), 'has spaces in it', '', 'ünïcode']) {
      const res = await ctx.request('editor', 'POST', '/v1/appeals', anAppeal(), { 'idempotency-key': key })
      expectInvalid(t, res, '/idempotency-key', 'header')
    }
    t.same(await rowCounts(ctx), before)
  })

  t.test('after 24 hours a key is forgotten', async (t) => {
    const headers = { 'idempotency-key': 'old-key' }
    const body = anAppeal({ title: 'Yesterday' })
    const first = expectStatus(t, await ctx.request('editor', 'POST', '/v1/appeals', body, headers), 201)
    await ctx.pool.query(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'old-key'`)
    const second = await ctx.request('editor', 'POST', '/v1/appeals', body, headers)
    t.notOk(second.headers['idempotent-replayed'])
    t.not(expectStatus(t, second, 201).id, first.id, 'a new appeal')
    const third = await ctx.request('editor', 'POST', '/v1/appeals', body, headers)
    t.equal(third.headers['idempotent-replayed'], 'true', 'the key now remembers the new response')
    t.equal(third.json().id, second.json().id)
  })

  t.test('without a key, every POST acts', async (t) => {
    const body = anAppeal({ title: 'No key' })
    const a = expectStatus(t, await ctx.request('editor', 'POST', '/v1/appeals', body), 201)
    const b = expectStatus(t, await ctx.request('editor', 'POST', '/v1/appeals', body), 201)
    t.not(a.id, b.id)
    const published = await createPublished(ctx)
    expectProblem(t, await ctx.request('editor', 'POST', `/v1/appeals/${published.id}/publish`), 409, 'illegal-transition')
  })
})
