import t from 'tap'
import { buildTestApp } from './helpers/context.js'
import {
  allEvents, anAppeal, approve, createDraft, createPublished, expectProblem, expectStatus, liaoningAppeal,
} from './helpers/liaoning.js'

const EVENT_ID = /^msg_[0-9A-Za-z]{26}$/
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

t.test('the whole staff workflow on the Liaoning case', async (t) => {
  const ctx = await buildTestApp(t)
  const created = await ctx.request('editor', 'POST', '/v1/appeals', liaoningAppeal())
  t.equal(created.statusCode, 201, created.body)
  const appeal = created.json()
  const url = `/v1/appeals/${appeal.id}`
  t.equal(appeal.status, 'draft')
  t.equal(appeal.version, 1)
  t.equal(appeal.reference, 'UA 001/19')
  t.equal(created.headers.etag, '"1"')
  t.equal(created.headers.location, url)
  t.same(appeal.peopleAtRisk, liaoningAppeal().peopleAtRisk)
  t.same(appeal.targets, liaoningAppeal().targets)
  t.same(appeal.sources, liaoningAppeal().sources)
  t.same(appeal.asks, liaoningAppeal().asks)
  t.same(appeal.themes, liaoningAppeal().themes)
  t.equal(appeal.actionDeadline, '2099-06-30')
  t.match(appeal.createdAt, ISO)
  t.equal(appeal.updatedAt, appeal.createdAt)
  t.equal(appeal.publishedAt, null)
  t.equal(appeal.closedAt, null)
  t.same(appeal.translations, [])
  t.same(appeal.updates, [])
  t.equal(appeal.outcome, null)

  await t.test('a draft is edited without If-Match and announces nothing', async (t) => {
    const res = await ctx.request('editor', 'PATCH', url, { summary: 'Seven North Koreans, including a girl of 10, face forced return.' })
    const body = expectStatus(t, res, 200)
    t.equal(body.version, 2)
    t.equal(res.headers.etag, '"2"')
    t.equal(body.summary, 'Seven North Koreans, including a girl of 10, face forced return.')
    t.equal(body.title, liaoningAppeal().title, 'fields not sent are unchanged')
    t.ok(Date.parse(body.updatedAt) >= Date.parse(appeal.updatedAt))
    t.same(await allEvents(ctx), [], 'drafts never reach the event log')
  })

  await t.test('translations are created (201) and replaced (200)', async (t) => {
    const ko = { title: '중국: 북한 주민 7명 강제송환 위기', summary: '랴오닝성에 구금된 7명이 고문 위험에 처해 있습니다.', asks: ['강제송환을 중단하십시오.'] }
    let res = await ctx.request('editor', 'PUT', `${url}/translations/ko`, ko)
    let body = expectStatus(t, res, 201)
    t.equal(body.version, 3)
    t.equal(res.headers.etag, '"3"')
    t.match(body.translations, [{ language: 'ko', title: ko.title, summary: ko.summary, body: '', asks: ko.asks }])

    res = await ctx.request('editor', 'PUT', `${url}/translations/ko`, { ...ko, body: '2019년 4월 28일 체포.' })
    body = expectStatus(t, res, 200)
    t.equal(body.version, 4)
    t.equal(body.translations.length, 1, 'replaced, not added')
    t.equal(body.translations[0].body, '2019년 4월 28일 체포.')

    // The same text again is not a change.
    res = await ctx.request('editor', 'PUT', `${url}/translations/ko`, { ...ko, body: '2019년 4월 28일 체포.' })
    t.equal(expectStatus(t, res, 200).version, 4, 'no new version for the same text')

    res = await ctx.request('editor', 'PUT', `${url}/translations/fr`, {
      title: 'Chine : sept Nord-Coréens risquent un renvoi forcé', summary: 'Détenus au Liaoning depuis le 28 avril 2019.',
    })
    body = expectStatus(t, res, 201)
    t.equal(body.version, 5)
    t.same(body.translations.map((x: { language: string }) => x.language), ['fr', 'ko'])
    t.same(await allEvents(ctx), [], 'translating a draft announces nothing')
  })

  let published: any
  await t.test('publish sets publishedAt and writes appeal.published', async (t) => {
    expectProblem(t, await ctx.request('editor', 'POST', `${url}/publish`), 409, 'approval-required')
    t.equal((await approve(ctx, appeal.id, 'reviewer')).version, 5, 'a second key approves version 5')
    const res = await ctx.request('editor', 'POST', `${url}/publish`)
    published = expectStatus(t, res, 200)
    t.equal(published.status, 'published')
    t.equal(published.version, 6)
    t.equal(res.headers.etag, '"6"')
    t.match(published.publishedAt, ISO)
    t.ok(Date.parse(published.publishedAt) >= Date.parse(appeal.createdAt))
    t.equal(published.scheduledPublishAt, null)

    const events = await allEvents(ctx)
    t.equal(events.length, 1)
    t.match(events[0], { type: 'appeal.published', data: { appeal: { id: appeal.id, status: 'published', version: 6 } } })
    t.match(events[0].id, EVENT_ID)
    t.match(events[0].timestamp, ISO)
    t.same(Object.keys(events[0]).sort(), ['data', 'id', 'timestamp', 'type'])

    const pub = await ctx.request(null, 'GET', url)
    t.equal(expectStatus(t, pub, 200).status, 'published', 'now public')
    t.equal(pub.headers.etag, '"6"')
  })

  await t.test('a material change to a published appeal emits appeal.updated with its changes', async (t) => {
    const res = await ctx.request('editor', 'PATCH', url, { urgency: 'high', legalBasis: ['1951 Refugee Convention'] }, { 'if-match': '"6"' })
    const body = expectStatus(t, res, 200)
    t.equal(body.version, 7)
    t.equal(res.headers.etag, '"7"')
    t.equal(body.urgency, 'high')
    const events = await allEvents(ctx)
    t.equal(events.length, 2)
    t.match(events[1], { type: 'appeal.updated', data: { appeal: { id: appeal.id, version: 7, urgency: 'high' } } })
    t.same(events[1].data.changes, ['urgency'], 'only material fields are listed')
    t.not(events[1].id, events[0].id)

    // A weak ETag is accepted, and a change of a non-material field alone is not news.
    const quiet = await ctx.request('editor', 'PATCH', url, { legalBasis: ['1984 Convention against Torture'] }, { 'if-match': 'W/"7"' })
    t.equal(expectStatus(t, quiet, 200).version, 8)
    t.equal((await allEvents(ctx)).length, 2, 'legalBasis is not a material change')

    // Sending the same people-at-risk object with its keys in another order changes nothing.
    const { peopleAtRisk } = liaoningAppeal()
    const reordered = Object.fromEntries(Object.entries(peopleAtRisk).reverse())
    const same = await ctx.request('editor', 'PATCH', url, { peopleAtRisk: reordered, urgency: 'high' }, { 'if-match': '"8"' })
    t.equal(expectStatus(t, same, 200).version, 8, 'no change, no new version')
    t.equal(same.headers.etag, '"8"')
    t.equal((await allEvents(ctx)).length, 2, 'an unchanged value is not announced')
  })

  await t.test('follow-ups are numbered 1, 2 and each emits appeal.updated', async (t) => {
    let res = await ctx.request('editor', 'POST', `${url}/updates`, { body: 'The group has been moved to a detention centre in Shenyang.' })
    let body = expectStatus(t, res, 201)
    t.equal(body.version, 9)
    t.equal(res.headers.etag, '"9"')
    t.equal(body.updates.length, 1)
    t.match(body.updates[0], { number: 1, body: 'The group has been moved to a detention centre in Shenyang.', publishedAt: ISO })

    res = await ctx.request('editor', 'POST', `${url}/updates`, { body: 'Deportation is reported to be imminent.', urgency: 'critical' })
    body = expectStatus(t, res, 201)
    t.equal(body.version, 10)
    t.equal(body.urgency, 'critical', 'optional field changes are applied')
    t.same(body.updates.map((u: { number: number }) => u.number), [1, 2])

    const events = (await allEvents(ctx)).slice(2)
    t.equal(events.length, 2)
    t.match(events[0], { type: 'appeal.updated', data: { update: { number: 1 }, changes: ['updates'] } })
    t.match(events[1], { type: 'appeal.updated', data: { update: { number: 2 }, appeal: { urgency: 'critical' } } })
    t.same(events[1].data.changes, ['updates', 'urgency'])
  })

  await t.test('close records the outcome and emits appeal.closed', async (t) => {
    const res = await ctx.request('editor', 'POST', `${url}/close`, { outcome: { code: 'safe_passage', note: 'All seven reached a third country.' } })
    const body = expectStatus(t, res, 200)
    t.equal(body.status, 'closed')
    t.equal(body.version, 11)
    t.equal(res.headers.etag, '"11"')
    t.match(body.closedAt, ISO)
    t.match(body.outcome, { code: 'safe_passage', note: 'All seven reached a third country.', at: ISO })
    t.equal(body.publishedAt, published.publishedAt, 'publishedAt is kept')
    const events = await allEvents(ctx)
    t.equal(events.length, 5)
    t.match(events[4], { type: 'appeal.closed', data: { appeal: { id: appeal.id, status: 'closed', outcome: { code: 'safe_passage' } } } })
    t.equal(expectStatus(t, await ctx.request(null, 'GET', url), 200).status, 'closed', 'closed appeals stay public')
  })

  await t.test('withdraw removes the appeal from public reads and redacts its events', async (t) => {
    const before = await allEvents(ctx)
    const res = await ctx.request('editor', 'POST', `${url}/withdraw`, { reason: 'Publicity now endangers the families.' })
    const body = expectStatus(t, res, 200)
    t.equal(body.status, 'withdrawn')
    t.equal(body.version, 12)
    t.equal(res.headers.etag, '"12"')
    t.notOk('withdrawalReason' in body, 'the reason is not in the representation')

    const stub = { appealId: appeal.id, reference: 'UA 001/19' }
    const events = await allEvents(ctx)
    t.equal(events.length, 6)
    t.same(events.map((e) => e.id).slice(0, 5), before.map((e) => e.id), 'event ids never change')
    t.equal(events[5].type, 'appeal.withdrawn')
    t.same(events[5].data, stub, 'appeal.withdrawn carries the id and reference only')
    for (const e of events.slice(0, 5)) t.same(e.data, stub, `${e.type} is redacted`)
    t.notMatch(JSON.stringify(events), /Liaoning|North Korea/, 'no content remains in the log')

    const pub = await ctx.request(null, 'GET', url)
    expectProblem(t, pub, 404, 'not-found')
    t.equal((await ctx.request('partner', 'GET', url)).statusCode, 404, 'partners cannot read it either')
    const list = expectStatus(t, await ctx.request(null, 'GET', '/v1/appeals'), 200)
    t.same(list.items, [], 'public list excludes it')
    const staff = expectStatus(t, await ctx.request('editor', 'GET', url), 200)
    t.equal(staff.status, 'withdrawn', 'its own staff still see it')
  })
})

t.test('references: generated as UA nnn/yy in sequence, unique', async (t) => {
  const ctx = await buildTestApp(t)
  const yy = String(new Date().getUTCFullYear() % 100).padStart(2, '0')
  const first = await createDraft(ctx)
  const second = await createDraft(ctx)
  t.equal(first.reference, `UA 001/${yy}`)
  t.equal(second.reference, `UA 002/${yy}`)

  const taken = await ctx.request('editor', 'POST', '/v1/appeals', anAppeal({ reference: `UA 002/${yy}` }))
  const problem = expectProblem(t, taken, 409, 'reference-taken')
  t.same(problem.errors, [{ pointer: '/reference', in: 'body', message: problem.errors[0].message }])

  // A number an editor chose by hand is skipped, not reused.
  await createDraft(ctx, anAppeal({ reference: `UA 003/${yy}` }))
  t.equal((await createDraft(ctx)).reference, `UA 004/${yy}`)

  // Renaming a draft onto a taken reference is the same conflict.
  const rename = await ctx.request('editor', 'PATCH', `/v1/appeals/${first.id}`, { reference: `UA 004/${yy}` })
  t.equal(expectProblem(t, rename, 409, 'reference-taken').errors[0].pointer, '/reference')
  t.equal(expectStatus(t, await ctx.request('editor', 'GET', `/v1/appeals/${first.id}`), 200).reference, `UA 001/${yy}`)
})

t.test('a published appeal keeps its reference', async (t) => {
  const ctx = await buildTestApp(t)
  const appeal = await createPublished(ctx)
  const res = await ctx.request('editor', 'PATCH', `/v1/appeals/${appeal.id}`, { reference: 'UA 999/99' }, { 'if-match': '"2"' })
  t.equal(expectProblem(t, res, 409, 'reference-frozen').errors[0].pointer, '/reference')
})

t.test('translating a published appeal is announced; withdrawing a draft is not', async (t) => {
  const ctx = await buildTestApp(t)
  const appeal = await createPublished(ctx)
  const res = await ctx.request('editor', 'PUT', `/v1/appeals/${appeal.id}/translations/zh-hans`, { title: '中国', summary: '七名朝鲜人' })
  const body = expectStatus(t, res, 201)
  t.equal(body.translations[0].language, 'zh-Hans', 'the tag is canonicalised')
  const events = await allEvents(ctx)
  t.equal(events.length, 2)
  t.match(events[1], { type: 'appeal.updated', data: { changes: ['translations/zh-Hans'] } })

  const draft = await createDraft(ctx)
  const withdrawn = await ctx.request('editor', 'POST', `/v1/appeals/${draft.id}/withdraw`, { reason: 'duplicate' })
  t.equal(expectStatus(t, withdrawn, 200).status, 'withdrawn')
  t.equal((await allEvents(ctx)).length, 2, 'a draft was never public: nothing to announce')
})

t.test('every action is in the audit log', async (t) => {
  const ctx = await buildTestApp(t)
  const appeal = await createPublished(ctx)
  await ctx.request('editor', 'POST', `/v1/appeals/${appeal.id}/close`, { outcome: { code: 'released' } })
  const { rows } = await ctx.pool.query<{ action: string; actor_role: string }>(
    `SELECT action, actor_role FROM audit_log WHERE resource_type = 'appeal' AND resource_id = $1 ORDER BY id`, [appeal.id])
  t.same(rows, [
    { action: 'appeal.create', actor_role: 'editor' },
    { action: 'appeal.approve', actor_role: 'editor' },
    { action: 'appeal.publish', actor_role: 'editor' },
    { action: 'appeal.close', actor_role: 'editor' },
  ])
})

t.test('delivery progress counts per channel and status, with an ETA while sending', async (t) => {
  const ctx = await buildTestApp(t)
  const appeal = await createPublished(ctx)
  const url = `/v1/appeals/${appeal.id}/deliveries`
  const { rows: [event] } = await ctx.pool.query<{ id: string }>('SELECT id FROM events WHERE appeal_id = $1', [appeal.id])
  const insert = (channel: string, status: string, n: number, attempts: number, updatedAgo = '0 seconds') => ctx.pool.query(
    `INSERT INTO deliveries (event_id, channel, recipient_id, status, attempts, updated_at, completed_at)
     SELECT $1, $2, gen_random_uuid(), $3, $4, now() - $5::interval,
            CASE WHEN $3 NOT IN ('pending', 'retrying', 'sending') THEN now() - $5::interval END FROM generate_series(1, $6)`,
    [event!.id, channel, status, attempts, updatedAgo, n])

  await insert('email', 'pending', 3, 0)
  let progress = expectStatus(t, await ctx.request('editor', 'GET', url), 200)
  t.same(progress, {
    appealId: appeal.id, channels: { email: { pending: 3 }, webhook: {} }, total: 3, pending: 3, ratePerSecond: null, eta: null, actionsTaken: 0,
    emailHealth: {
      sent: 0, hardBounces: 0, softBounces: 0, complaints: 0, hardBounceRate: null, softBounceRate: null, complaintRate: null,
      thresholds: { hardBounceRate: 0.02, complaintRate: 0.001 }, warnings: [],
    },
  }, 'nothing sent yet: no rate, no ETA, no bounce or complaint rates')

  await insert('email', 'delivered', 2, 1)
  await insert('webhook', 'delivered', 1, 1)
  await insert('webhook', 'failed', 1, 8, '10 minutes')
  const before = Date.now()
  progress = expectStatus(t, await ctx.request('editor', 'GET', url), 200)
  t.same(progress.channels, { email: { pending: 3, delivered: 2 }, webhook: { delivered: 1, failed: 1 } })
  t.equal(progress.total, 7)
  t.equal(progress.pending, 3)
  t.equal(progress.ratePerSecond, 3 / 60, 'three completions in the last minute')
  const eta = Date.parse(progress.eta)
  t.ok(eta >= before + 59_000 && eta <= Date.now() + 61_000, `three pending at 0.05/s: about a minute from now (${progress.eta})`)

  await ctx.pool.query(`UPDATE deliveries SET status = 'delivered', attempts = 1, updated_at = now(), completed_at = now() WHERE status = 'pending'`)
  progress = expectStatus(t, await ctx.request('editor', 'GET', url), 200)
  t.equal(progress.pending, 0)
  t.equal(progress.eta, null, 'done: no ETA')
})

t.test('codes are stored in canonical form', async (t) => {
  const ctx = await buildTestApp(t)
  const appeal = await createDraft(ctx, anAppeal({
    language: 'EN-gb', themes: ['torture', 'torture', 'children'],
    targets: [{ name: 'Minister of Public Security', preferredLanguage: 'ZH-hans' }],
    embargoUntil: '2099-01-01T09:00:00+09:00',
  }))
  t.equal(appeal.language, 'en-GB')
  t.same(appeal.themes, ['torture', 'children'], 'a theme once')
  t.equal(appeal.targets[0].preferredLanguage, 'zh-Hans')
  t.equal(appeal.embargoUntil, '2099-01-01T00:00:00.000Z', 'timestamps in UTC')
})
