import t from 'tap'
import { buildTestApp } from './helpers/context.js'
import {
  anAppeal, approve, createDraft, createPublished, expectProblem, expectStatus, requestWithKey, rowCounts,
} from './helpers/liaoning.js'

t.test('appeal authorization', async (t) => {
  const ctx = await buildTestApp(t)
  const draft = await createDraft(ctx, anAppeal({ title: 'Draft of the first NGO' }))
  const published = await createPublished(ctx, anAppeal({ title: 'Published by the first NGO' }))
  const closed = await createPublished(ctx, anAppeal({ title: 'Closed by the first NGO' }))
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${closed.id}/close`, { outcome: { code: 'released' } }), 200)
  const withdrawn = await createPublished(ctx, anAppeal({ title: 'Withdrawn by the first NGO' }))
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${withdrawn.id}/withdraw`, { reason: 'risk' }), 200)
  const otherDraft = await createDraft(ctx, anAppeal({ title: 'Draft of the other NGO' }), 'otherEditor')

  t.test('anonymous readers see published and closed appeals only', async (t) => {
    t.equal(expectStatus(t, await ctx.request(null, 'GET', `/v1/appeals/${published.id}`), 200).status, 'published')
    t.equal(expectStatus(t, await ctx.request(null, 'GET', `/v1/appeals/${closed.id}`), 200).status, 'closed')
    expectProblem(t, await ctx.request(null, 'GET', `/v1/appeals/${draft.id}`), 404, 'not-found')
    expectProblem(t, await ctx.request(null, 'GET', `/v1/appeals/${withdrawn.id}`), 404, 'not-found')
    const list = expectStatus(t, await ctx.request(null, 'GET', '/v1/appeals'), 200)
    t.same(list.items.map((a: { id: string }) => a.id).sort(), [published.id, closed.id].sort())
    // Asking for drafts by filter does not reveal them either.
    for (const status of ['draft', 'withdrawn']) {
      t.same(expectStatus(t, await ctx.request(null, 'GET', `/v1/appeals?status=${status}`), 200).items, [], `status=${status}`)
    }
  })

  t.test('writing needs a key: 401 with WWW-Authenticate', async (t) => {
    const before = await rowCounts(ctx)
    const calls: ['POST' | 'PATCH' | 'PUT', string, unknown][] = [
      ['POST', '/v1/appeals', anAppeal()],
      ['PATCH', `/v1/appeals/${draft.id}`, { title: 'x' }],
      ['PUT', `/v1/appeals/${draft.id}/translations/fr`, { title: 'x', summary: 'y' }],
      ['POST', `/v1/appeals/${draft.id}/publish`, undefined],
      ['POST', `/v1/appeals/${published.id}/updates`, { body: 'x' }],
      ['POST', `/v1/appeals/${published.id}/close`, { outcome: { code: 'released' } }],
      ['POST', `/v1/appeals/${published.id}/withdraw`, { reason: 'x' }],
    ]
    for (const [method, url, body] of calls) {
      const res = await ctx.request(null, method, url, body)
      expectProblem(t, res, 401, 'unauthorized')
      t.match(res.headers['www-authenticate'], /^Bearer /, `${method} ${url}`)
    }
    expectProblem(t, await ctx.request(null, 'GET', `/v1/appeals/${published.id}/deliveries`), 401, 'unauthorized')
    t.same(await rowCounts(ctx), before, 'nothing was written')
  })

  t.test('a malformed, unknown or revoked key is 401, even on public reads', async (t) => {
    const malformed = await ctx.app.inject({ method: 'GET', url: '/v1/appeals', headers: { authorization: 'Bearer not-a-key' } })
    expectProblem(t, malformed, 401, 'unauthorized')
    t.match(malformed.headers['www-authenticate'], /^Bearer /)
    const basic = await ctx.app.inject({ method: 'GET', url: '/v1/appeals', headers: { authorization: 'Basic dXNlcjpwYXNz' } })
    expectProblem(t, basic, 401, 'unauthorized')
    // Right shape, unknown secret.
    const forged = ctx.keys.editor.replace(/.{4}$/, 'AAAA') === ctx.keys.editor ? ctx.keys.editor.replace(/.{4}$/, 'BBBB') : ctx.keys.editor.replace(/.{4}$/, 'AAAA')
    expectProblem(t, await requestWithKey(ctx, forged, 'GET', `/v1/appeals/${published.id}`), 401, 'unauthorized')
    expectProblem(t, await requestWithKey(ctx, forged, 'POST', '/v1/appeals', anAppeal()), 401, 'unauthorized')

    // A fresh editor key works, is revoked by an admin and fails at once.
    const issued = expectStatus(t, await ctx.request('admin', 'POST', '/v1/api-keys', { organisationId: ctx.orgIds.ngo, role: 'editor', name: 'temp' }), 201)
    expectStatus(t, await requestWithKey(ctx, issued.key, 'GET', `/v1/appeals/${draft.id}`), 200)
    t.equal((await ctx.request('admin', 'DELETE', `/v1/api-keys/${issued.apiKey.id}`)).statusCode, 204)
    expectProblem(t, await requestWithKey(ctx, issued.key, 'GET', `/v1/appeals/${draft.id}`), 401, 'unauthorized')
    expectProblem(t, await requestWithKey(ctx, issued.key, 'POST', '/v1/appeals', anAppeal()), 401, 'unauthorized')
    expectProblem(t, await requestWithKey(ctx, issued.key, 'GET', '/v1/appeals'), 401, 'unauthorized')
  })

  t.test('partners read what the public reads and change nothing', async (t) => {
    const before = await rowCounts(ctx)
    expectProblem(t, await ctx.request('partner', 'POST', '/v1/appeals', anAppeal()), 403, 'forbidden')
    expectProblem(t, await ctx.request('partner', 'PATCH', `/v1/appeals/${published.id}`, { title: 'x' }, { 'if-match': '"2"' }), 403, 'forbidden')
    expectProblem(t, await ctx.request('partner', 'POST', `/v1/appeals/${draft.id}/publish`), 403, 'forbidden')
    expectProblem(t, await ctx.request('partner', 'POST', `/v1/appeals/${published.id}/withdraw`, { reason: 'x' }), 403, 'forbidden')
    expectProblem(t, await ctx.request('partner', 'GET', `/v1/appeals/${published.id}/deliveries`), 403, 'forbidden')
    t.same(await rowCounts(ctx), before, 'nothing was written')
    expectProblem(t, await ctx.request('partner', 'GET', `/v1/appeals/${draft.id}`), 404, 'not-found')
    expectProblem(t, await ctx.request('partner', 'GET', `/v1/appeals/${withdrawn.id}`), 404, 'not-found')
    t.equal(expectStatus(t, await ctx.request('partner', 'GET', `/v1/appeals/${published.id}`), 200).id, published.id)
    const list = expectStatus(t, await ctx.request('partner', 'GET', '/v1/appeals'), 200)
    t.same(list.items.map((a: { id: string }) => a.id).sort(), [published.id, closed.id].sort())
  })

  t.test('another NGO\'s editor cannot see or change the first NGO\'s appeals', async (t) => {
    const before = await rowCounts(ctx)
    expectProblem(t, await ctx.request('otherEditor', 'GET', `/v1/appeals/${draft.id}`), 404, 'not-found')
    expectProblem(t, await ctx.request('otherEditor', 'GET', `/v1/appeals/${withdrawn.id}`), 404, 'not-found')
    expectProblem(t, await ctx.request('otherEditor', 'PATCH', `/v1/appeals/${draft.id}`, { title: 'x' }), 404, 'not-found')
    expectProblem(t, await ctx.request('otherEditor', 'POST', `/v1/appeals/${draft.id}/publish`), 404, 'not-found')
    expectProblem(t, await ctx.request('otherEditor', 'PATCH', `/v1/appeals/${published.id}`, { title: 'x' }, { 'if-match': '"2"' }), 404, 'not-found')
    expectProblem(t, await ctx.request('otherEditor', 'PUT', `/v1/appeals/${published.id}/translations/fr`, { title: 'x', summary: 'y' }), 404, 'not-found')
    expectProblem(t, await ctx.request('otherEditor', 'POST', `/v1/appeals/${published.id}/updates`, { body: 'x' }), 404, 'not-found')
    expectProblem(t, await ctx.request('otherEditor', 'POST', `/v1/appeals/${published.id}/close`, { outcome: { code: 'released' } }), 404, 'not-found')
    expectProblem(t, await ctx.request('otherEditor', 'POST', `/v1/appeals/${published.id}/withdraw`, { reason: 'x' }), 404, 'not-found')
    expectProblem(t, await ctx.request('otherEditor', 'GET', `/v1/appeals/${published.id}/deliveries`), 404, 'not-found')
    t.same(await rowCounts(ctx), before, 'nothing was written')
    // Once published, it is public: readable like any published appeal.
    t.equal(expectStatus(t, await ctx.request('otherEditor', 'GET', `/v1/appeals/${published.id}`), 200).title, 'Published by the first NGO')
  })

  t.test('an editor lists the public appeals and their own organisation\'s drafts', async (t) => {
    const mine = expectStatus(t, await ctx.request('editor', 'GET', '/v1/appeals'), 200)
    t.same(mine.items.map((a: { id: string }) => a.id).sort(), [draft.id, published.id, closed.id, withdrawn.id].sort())
    t.notOk(mine.items.some((a: { id: string }) => a.id === otherDraft.id), 'no other NGO\'s draft')
    const theirs = expectStatus(t, await ctx.request('otherEditor', 'GET', '/v1/appeals'), 200)
    t.same(theirs.items.map((a: { id: string }) => a.id).sort(), [otherDraft.id, published.id, closed.id].sort())
    const drafts = expectStatus(t, await ctx.request('editor', 'GET', '/v1/appeals?status=draft'), 200)
    t.same(drafts.items.map((a: { id: string }) => a.id), [draft.id])
  })

  t.test('an admin sees and does everything', async (t) => {
    const all = expectStatus(t, await ctx.request('admin', 'GET', '/v1/appeals?limit=100'), 200)
    t.ok([draft.id, otherDraft.id, withdrawn.id].every((id) => all.items.some((a: { id: string }) => a.id === id)), 'every appeal of every NGO')
    t.equal(expectStatus(t, await ctx.request('admin', 'GET', `/v1/appeals/${otherDraft.id}`), 200).id, otherDraft.id)
    const patched = expectStatus(t, await ctx.request('admin', 'PATCH', `/v1/appeals/${otherDraft.id}`, { title: 'Edited by the admin' }), 200)
    t.equal(patched.title, 'Edited by the admin')
    await approve(ctx, otherDraft.id, 'otherEditor') // the admin made the content: the NGO's own editor approves it
    t.equal(expectStatus(t, await ctx.request('admin', 'POST', `/v1/appeals/${otherDraft.id}/publish`), 200).status, 'published')
    const own = expectStatus(t, await ctx.request('admin', 'POST', '/v1/appeals', anAppeal()), 201)
    t.equal(own.status, 'draft')
    expectStatus(t, await ctx.request('admin', 'GET', `/v1/appeals/${otherDraft.id}/deliveries`), 200)
    // The other NGO still owns what the admin published.
    const { rows } = await ctx.pool.query('SELECT organisation_id FROM appeals WHERE id = $1', [otherDraft.id])
    t.equal(rows[0].organisation_id, ctx.orgIds.otherNgo)
  })

  t.test('delivery progress: editors only, zero counts before any fan-out', async (t) => {
    const res = await ctx.request('editor', 'GET', `/v1/appeals/${published.id}/deliveries`)
    t.same(expectStatus(t, res, 200), {
      appealId: published.id, channels: { email: {}, webhook: {} }, total: 0, pending: 0, ratePerSecond: null, eta: null, actionsTaken: 0,
      emailHealth: {
        sent: 0, hardBounces: 0, softBounces: 0, complaints: 0, hardBounceRate: null, softBounceRate: null, complaintRate: null,
        thresholds: { hardBounceRate: 0.02, complaintRate: 0.001 }, warnings: [],
      },
    })
    t.equal(expectStatus(t, await ctx.request('editor', 'GET', `/v1/appeals/${draft.id}/deliveries`), 200).total, 0)
    expectProblem(t, await ctx.request('partner', 'GET', `/v1/appeals/${published.id}/deliveries`), 403, 'forbidden')
    expectProblem(t, await ctx.request('editor', 'GET', '/v1/appeals/00000000-0000-4000-8000-000000000000/deliveries'), 404, 'not-found')
  })
})
