import t from 'tap'
import { buildTestApp } from './helpers/context.js'
import { allEvents, anAppeal, approve, createDraft, createPublished, expectProblem } from './helpers/liaoning.js'

t.test('appeal concurrency', async (t) => {
  const ctx = await buildTestApp(t)

  t.test('two edits from the same version: one wins, the other gets 412', async (t) => {
    const appeal = await createPublished(ctx)
    const url = `/v1/appeals/${appeal.id}`
    const results = await Promise.all([
      ctx.request('editor', 'PATCH', url, { title: 'Edit by Ana' }, { 'if-match': '"2"' }),
      ctx.request('editor', 'PATCH', url, { title: 'Edit by Ben' }, { 'if-match': '"2"' }),
    ])
    t.same(results.map((r) => r.statusCode).sort(), [200, 412], results.map((r) => r.body).join('\n'))
    const winner = results.find((r) => r.statusCode === 200)!.json()
    const loser = results.find((r) => r.statusCode === 412)!
    expectProblem(t, loser, 412, 'precondition-failed')
    t.equal(winner.version, 3)
    const current = (await ctx.request(null, 'GET', url)).json()
    t.equal(current.title, winner.title, 'the winner\'s edit is what is stored')
    t.equal(current.version, 3)
    const updates = (await allEvents(ctx)).filter((e) => e.type === 'appeal.updated' && e.data.appeal.id === appeal.id)
    t.equal(updates.length, 1, 'one appeal.updated')
  })

  t.test('two publishes at once: one 200, one 409, one event', async (t) => {
    const draft = await createDraft(ctx)
    await approve(ctx, draft.id)
    const results = await Promise.all([1, 2].map(() => ctx.request('editor', 'POST', `/v1/appeals/${draft.id}/publish`)))
    t.same(results.map((r) => r.statusCode).sort(), [200, 409], results.map((r) => r.body).join('\n'))
    expectProblem(t, results.find((r) => r.statusCode === 409)!, 409, 'illegal-transition')
    const published = (await allEvents(ctx)).filter((e) => e.type === 'appeal.published' && e.data.appeal.id === draft.id)
    t.equal(published.length, 1)
    const { rows } = await ctx.pool.query('SELECT version FROM appeals WHERE id = $1', [draft.id])
    t.equal(rows[0].version, 2)
  })

  t.test('concurrent creates without a reference get distinct, consecutive references', async (t) => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      ctx.request('editor', 'POST', '/v1/appeals', anAppeal({ title: `Parallel ${i}` }))))
    t.same(results.map((r) => r.statusCode), Array(8).fill(201), results.map((r) => r.body.slice(0, 200)).join('\n'))
    const references = results.map((r) => r.json().reference as string)
    t.equal(new Set(references).size, 8, 'all distinct')
    const numbers = references.map((r) => Number(/^UA (\d{3})\/\d{2}$/.exec(r)?.[1])).sort((a, b) => a - b)
    t.same(numbers, Array.from({ length: 8 }, (_, i) => numbers[0]! + i), 'no number skipped')
  })

  t.test('concurrent follow-ups are numbered without gaps or duplicates', async (t) => {
    const appeal = await createPublished(ctx)
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) =>
      ctx.request('editor', 'POST', `/v1/appeals/${appeal.id}/updates`, { body: `News ${i}` })))
    t.same(results.map((r) => r.statusCode), Array(5).fill(201))
    const final = (await ctx.request(null, 'GET', `/v1/appeals/${appeal.id}`)).json()
    t.same(final.updates.map((u: { number: number }) => u.number), [1, 2, 3, 4, 5])
    t.same(final.updates.map((u: { body: string }) => u.body).sort(), ['News 0', 'News 1', 'News 2', 'News 3', 'News 4'])
    t.equal(final.version, 2 + 5)
  })

  t.test('close and withdraw racing end in one consistent state', async (t) => {
    const appeal = await createPublished(ctx)
    const [close, withdraw] = await Promise.all([
      ctx.request('editor', 'POST', `/v1/appeals/${appeal.id}/close`, { outcome: { code: 'released' } }),
      ctx.request('editor', 'POST', `/v1/appeals/${appeal.id}/withdraw`, { reason: 'risk' }),
    ])
    t.equal(withdraw.statusCode, 200, 'withdrawal works on a published or closed appeal')
    t.ok([200, 409].includes(close.statusCode), `close is 200 or 409, not ${close.statusCode}`)
    const { rows } = await ctx.pool.query('SELECT status FROM appeals WHERE id = $1', [appeal.id])
    t.equal(rows[0].status, 'withdrawn')
    const events = (await allEvents(ctx)).filter((e) => e.data.appealId === appeal.id || e.data.appeal?.id === appeal.id)
    t.ok(events.every((e) => JSON.stringify(e.data) === JSON.stringify({ appealId: appeal.id, reference: appeal.reference })),
      'every event of the appeal is redacted, whichever came first')
    t.equal(events.filter((e) => e.type === 'appeal.closed').length, close.statusCode === 200 ? 1 : 0)
  })
})
