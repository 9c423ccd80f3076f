import t from 'tap'
import { buildTestApp } from './helpers/context.js'
import {
  anAppeal, createDraft, createPublished, expectInvalid, expectProblem, expectStatus, rowCounts,
} from './helpers/liaoning.js'

t.test('appeal errors', async (t) => {
  const ctx = await buildTestApp(t)
  const base = anAppeal()

  t.test('invalid bodies are 400 with a pointer per offending value, and write nothing', async (t) => {
    const before = await rowCounts(ctx)
    const cases: [string, unknown, string][] = [
      ['unknown property', { ...base, foo: 1 }, '/foo'],
      ['unknown nested property', { ...base, peopleAtRisk: { ...base.peopleAtRisk, names: ['x'] } }, '/peopleAtRisk/names'],
      ['a number sent as a string (no coercion)', { ...base, peopleAtRisk: { ...base.peopleAtRisk, total: '7' } }, '/peopleAtRisk/total'],
      ['a missing required field', { ...base, title: undefined }, '/title'],
      ['an empty title', { ...base, title: '' }, '/title'],
      ['an unknown urgency', { ...base, urgency: 'urgent' }, '/urgency'],
      ['an unknown country', { ...base, countries: ['XX'] }, '/countries/0'],
      ['no country', { ...base, countries: [] }, '/countries'],
      ['a repeated country', { ...base, countries: ['CN', 'CN'] }, '/countries'],
      ['a subdivision outside the countries', { ...base, subdivisions: ['RU-MOW'] }, '/subdivisions/0'],
      ['an unknown language', { ...base, language: 'qq' }, '/language'],
      ['a malformed language tag', { ...base, language: 'english!' }, '/language'],
      ['a breakdown exceeding the total', { ...base, peopleAtRisk: { total: 2, women: 2, girls: 1 } }, '/peopleAtRisk/total'],
      ['a bad theme slug', { ...base, themes: ['Forced Return'] }, '/themes/0'],
      ['a bad date', { ...base, actionDeadline: '2099-02-30' }, '/actionDeadline'],
      ['a timestamp without zone', { ...base, embargoUntil: '2099-01-01T10:00:00' }, '/embargoUntil'],
      ['a non-http source', { ...base, sources: [{ title: 'x', url: 'javascript:alert(1)' }] }, '/sources/0/url'],
      ['an unknown target country', { ...base, targets: [{ name: 'x', country: 'XX' }] }, '/targets/0/country'],
    ]
    for (const [what, body, pointer] of cases) {
      await t.test(what, async (t) => {
        const res = await ctx.request('editor', 'POST', '/v1/appeals', body)
        expectInvalid(t, res, pointer)
      })
    }
    t.same(await rowCounts(ctx), before, 'nothing was written')
  })

  t.test('the request itself is malformed', async (t) => {
    const before = await rowCounts(ctx)
    let res = await ctx.request('editor', 'POST', '/v1/appeals', '{"title": ', { 'content-type': 'application/json' })
    expectProblem(t, res, 400, 'malformed-body')
    res = await ctx.request('editor', 'POST', '/v1/appeals', '', { 'content-type': 'application/json' })
    expectProblem(t, res, 400, 'malformed-body')
    res = await ctx.request('editor', 'POST', '/v1/appeals', JSON.stringify([base]), { 'content-type': 'application/json' })
    expectProblem(t, res, 400, 'validation-error')
    res = await ctx.request('editor', 'POST', '/v1/appeals', JSON.stringify({ ...base, body: 'x'.repeat(513 * 1024) }), { 'content-type': 'application/json' })
    expectProblem(t, res, 413, 'body-too-large')
    res = await ctx.request('editor', 'POST', '/v1/appeals', JSON.stringify(base), { 'content-type': 'text/plain' })
    expectProblem(t, res, 415, 'unsupported-media-type')
    res = await ctx.request('editor', 'POST', '/v1/appeals', 'title=x', { 'content-type': 'application/x-www-form-urlencoded' })
    expectProblem(t, res, 415, 'unsupported-media-type')
    t.same(await rowCounts(ctx), before, 'nothing was written')
  })

  t.test('bad path parameters are 400 in: path', async (t) => {
    let res = await ctx.request(null, 'GET', '/v1/appeals/not-a-uuid')
    expectInvalid(t, res, '/id', 'path')
    res = await ctx.request('editor', 'POST', '/v1/appeals/123/publish')
    expectInvalid(t, res, '/id', 'path')
    const draft = await createDraft(ctx)
    res = await ctx.request('editor', 'PUT', `/v1/appeals/${draft.id}/translations/qq`, { title: 'x', summary: 'y' })
    expectInvalid(t, res, '/language', 'path')
    res = await ctx.request('editor', 'PUT', `/v1/appeals/${draft.id}/translations/not_a_tag`, { title: 'x', summary: 'y' })
    expectInvalid(t, res, '/language', 'path')
  })

  t.test('bad query parameters are 400 in: query', async (t) => {
    for (const [query, pointer] of [
      ['limit=0', '/limit'], ['limit=101', '/limit'], ['limit=ten', '/limit'], ['status=foo', '/status'],
      ['cursor=garbage', '/cursor'], ['country=XX', '/country'], ['country=china', '/country'],
      ['updatedSince=yesterday', '/updatedSince'], ['sort=title', '/sort'], ['language=qq', '/language'], ['q=', '/q'],
    ] as const) {
      expectInvalid(t, await ctx.request(null, 'GET', `/v1/appeals?${query}`), pointer, 'query')
    }
  })

  t.test('illegal transitions are 409 and change nothing', async (t) => {
    const draft = await createDraft(ctx)
    const closed = await createPublished(ctx)
    expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${closed.id}/close`, { outcome: { code: 'released' } }), 200)
    const withdrawn = await createPublished(ctx)
    expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${withdrawn.id}/withdraw`, { reason: 'risk' }), 200)

    const before = await rowCounts(ctx)
    const cases: [string, 'POST' | 'PATCH' | 'PUT', string, unknown, Record<string, string>?][] = [
      ['publish a closed appeal', 'POST', `/v1/appeals/${closed.id}/publish`, undefined],
      ['close a closed appeal', 'POST', `/v1/appeals/${closed.id}/close`, { outcome: { code: 'released' } }],
      ['edit a closed appeal', 'PATCH', `/v1/appeals/${closed.id}`, { title: 'New' }, { 'if-match': '"3"' }],
      ['close a draft', 'POST', `/v1/appeals/${draft.id}/close`, { outcome: { code: 'released' } }],
      ['post a follow-up to a draft', 'POST', `/v1/appeals/${draft.id}/updates`, { body: 'news' }],
      ['post a follow-up to a closed appeal', 'POST', `/v1/appeals/${closed.id}/updates`, { body: 'news' }],
      ['edit a withdrawn appeal', 'PATCH', `/v1/appeals/${withdrawn.id}`, { title: 'New' }, { 'if-match': '"3"' }],
      ['publish a withdrawn appeal', 'POST', `/v1/appeals/${withdrawn.id}/publish`, undefined],
      ['translate a withdrawn appeal', 'PUT', `/v1/appeals/${withdrawn.id}/translations/fr`, { title: 'x', summary: 'y' }],
      ['withdraw twice', 'POST', `/v1/appeals/${withdrawn.id}/withdraw`, { reason: 'again' }],
    ]
    for (const [what, method, url, body, headers] of cases) {
      const problem = expectProblem(t, await ctx.request('editor', method, url, body, headers), 409, 'illegal-transition')
      t.match(problem.detail, /status is '(draft|closed|withdrawn)'/, what)
    }
    t.same(await rowCounts(ctx), before, 'nothing was written')
  })

  t.test('publishing needs at least one ask', async (t) => {
    const draft = await createDraft(ctx, anAppeal({ asks: [] }))
    const before = await rowCounts(ctx)
    const problem = expectProblem(t, await ctx.request('editor', 'POST', `/v1/appeals/${draft.id}/publish`), 422, 'not-ready-to-publish')
    t.match(problem.errors, [{ pointer: '/asks' }])
    t.same(await rowCounts(ctx), before, 'nothing was written')
    const after = expectStatus(t, await ctx.request('editor', 'GET', `/v1/appeals/${draft.id}`), 200)
    t.equal(after.status, 'draft')
  })

  t.test('editing a published appeal needs the right If-Match', async (t) => {
    const appeal = await createPublished(ctx)
    const url = `/v1/appeals/${appeal.id}`
    const before = await rowCounts(ctx)
    expectProblem(t, await ctx.request('editor', 'PATCH', url, { title: 'New title' }), 428, 'precondition-required')
    const stale = expectProblem(t, await ctx.request('editor', 'PATCH', url, { title: 'New title' }, { 'if-match': '"1"' }), 412, 'precondition-failed')
    t.match(stale.detail, /\(2\)/, 'names the current version')
    expectProblem(t, await ctx.request('editor', 'PATCH', url, { title: 'New title' }, { 'if-match': 'garbage' }), 412, 'precondition-failed')
    t.same(await rowCounts(ctx), before, 'nothing was written')
    t.equal(expectStatus(t, await ctx.request(null, 'GET', url), 200).title, appeal.title)
    // A stale If-Match on a draft is refused too: the editor asked for it.
    const draft = await createDraft(ctx)
    expectProblem(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${draft.id}`, { title: 'x' }, { 'if-match': '"7"' }), 412, 'precondition-failed')
    t.equal(expectStatus(t, await ctx.request('editor', 'PATCH', url, { title: 'New title' }, { 'if-match': '"2"' }), 200).title, 'New title')
  })

  t.test('an empty PATCH is 400', async (t) => {
    const draft = await createDraft(ctx)
    const problem = expectProblem(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${draft.id}`, {}), 400, 'validation-error')
    t.equal(problem.errors[0].in, 'body')
  })

  t.test('PATCH keeps the appeal consistent with what it already holds', async (t) => {
    const draft = await createDraft(ctx) // CN and KP, subdivision CN-LN
    const before = await rowCounts(ctx)
    expectInvalid(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${draft.id}`, { countries: ['KP'] }), '/countries')
    expectInvalid(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${draft.id}`, { subdivisions: ['KP-01', 'RU-MOW'] }), '/subdivisions/1')
    expectInvalid(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${draft.id}`, { peopleAtRisk: { total: 1, men: 2 } }), '/peopleAtRisk/total')
    t.same(await rowCounts(ctx), before, 'nothing was written')
    // Changing both together is fine.
    const ok = await ctx.request('editor', 'PATCH', `/v1/appeals/${draft.id}`, { countries: ['KP'], subdivisions: [] })
    t.same(expectStatus(t, ok, 200).countries, ['KP'])
  })

  t.test('a translation in the original language is 422', async (t) => {
    const draft = await createDraft(ctx)
    const before = await rowCounts(ctx)
    for (const tag of ['en', 'EN']) {
      const res = await ctx.request('editor', 'PUT', `/v1/appeals/${draft.id}/translations/${tag}`, { title: 'x', summary: 'y' })
      t.match(expectProblem(t, res, 422, 'translation-of-original').errors, [{ pointer: '/language', in: 'path' }])
    }
    t.same(await rowCounts(ctx), before, 'nothing was written')
  })

  t.test('the original cannot move to the language of one of its translations', async (t) => {
    const draft = await createDraft(ctx)
    expectStatus(t, await ctx.request('editor', 'PUT', `/v1/appeals/${draft.id}/translations/ko`, { title: 'x', summary: 'y' }), 201)
    const before = await rowCounts(ctx)
    const res = await ctx.request('editor', 'PATCH', `/v1/appeals/${draft.id}`, { language: 'KO' })
    t.match(expectProblem(t, res, 422, 'translation-of-original').errors, [{ pointer: '/language', in: 'body' }])
    t.same(await rowCounts(ctx), before, 'nothing was written')
    const moved = expectStatus(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${draft.id}`, { language: 'EN-gb' }), 200)
    t.equal(moved.language, 'en-GB', 'tags are stored canonical')
  })

  t.test('an unknown appeal or route is a 404 problem', async (t) => {
    const missing = '00000000-0000-4000-8000-000000000000'
    expectProblem(t, await ctx.request(null, 'GET', `/v1/appeals/${missing}`), 404, 'not-found')
    expectProblem(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${missing}`, { title: 'x' }), 404, 'not-found')
    expectProblem(t, await ctx.request('editor', 'POST', `/v1/appeals/${missing}/publish`), 404, 'not-found')
    expectProblem(t, await ctx.request(null, 'GET', '/v1/nope'), 404, 'not-found')
    expectProblem(t, await ctx.request('editor', 'DELETE', '/v1/appeals'), 404, 'not-found')
  })

  t.test('validation problems list every offending value at once', async (t) => {
    const res = await ctx.request('editor', 'POST', '/v1/appeals', { ...base, title: '', urgency: 'soon', foo: true })
    const problem = expectProblem(t, res, 400, 'validation-error')
    t.same(problem.errors.map((e: { pointer: string }) => e.pointer).sort(), ['/foo', '/title', '/urgency'])
    t.match(problem.detail, /3 invalid values/)
  })
})
