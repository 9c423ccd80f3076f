// Two-person approval (contract §3, issue 11): a sensitive appeal — every
// child case — is published only once a second key has approved the
// version it read; any change of a draft's content voids the approval;
// organisations choose `none`, `sensitive` (the default) or `all`.
import t from 'tap'
import { runner } from 'node-pg-migrate'
import pg from 'pg'
import { buildTestApp, createTestDatabase, type Keys, type TestApp } from './helpers/context.js'
import {
  allEvents, anAppeal, approve, createDraft, createPublished, expectInvalid, expectProblem, expectStatus, liaoningAppeal, rowCounts,
} from './helpers/liaoning.js'
import { migrate, MIGRATIONS_DIR } from '../src/db/migrate.js'
import { AppealService } from '../src/services/appeals.js'
import type { Actor } from '../src/auth/api-keys.js'

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

/** Adults only: not sensitive by default. */
const adultsOnly = () => anAppeal({ peopleAtRisk: { total: 2, women: 1, men: 1 }, themes: ['refoulement'] })

async function keyId(ctx: TestApp, who: keyof Keys): Promise<string> {
  const prefix = ctx.keys[who].split('_').slice(0, 2).join('_')
  const { rows } = await ctx.pool.query<{ id: string }>('SELECT id FROM api_keys WHERE prefix = $1', [prefix])
  return rows[0]!.id
}

/** The appeal's audit trail as the admin reads it, oldest first. */
async function auditOf(ctx: TestApp, id: string): Promise<any[]> {
  const res = await ctx.request('admin', 'GET', `/v1/audit-log?resourceType=appeal&resourceId=${id}&limit=100`)
  if (res.statusCode !== 200) throw new Error(`audit log: ${res.statusCode} ${res.body}`)
  return res.json().items.reverse()
}

const read = async (ctx: TestApp, id: string, as: keyof Keys = 'editor') => {
  const res = await ctx.request(as, 'GET', `/v1/appeals/${id}`)
  return { appeal: res.json(), etag: String(res.headers.etag) }
}

const approveAs = (ctx: TestApp, as: keyof Keys | null, id: string, etag?: string) =>
  ctx.request(as, 'POST', `/v1/appeals/${id}/approve`, undefined, etag === undefined ? {} : { 'if-match': etag })

const publish = (ctx: TestApp, id: string, as: keyof Keys = 'editor') => ctx.request(as, 'POST', `/v1/appeals/${id}/publish`)

async function setPolicy(ctx: TestApp, approvalPolicy: string) {
  const res = await ctx.request('admin', 'PATCH', `/v1/organisations/${ctx.orgIds.ngo}`, { approvalPolicy })
  if (res.statusCode !== 200) throw new Error(`policy: ${res.statusCode} ${res.body}`)
  return res.json()
}

t.test('the Liaoning case needs a second key: the author cannot approve it, a colleague can, then it publishes', async (t) => {
  const ctx = await buildTestApp(t)
  const [editorId, reviewerId] = [await keyId(ctx, 'editor'), await keyId(ctx, 'reviewer')]
  const draft = await createDraft(ctx, liaoningAppeal())
  t.equal(draft.sensitive, true, 'a 10-year-old girl is counted: sensitive')
  t.equal(draft.approval, null)

  const before = await rowCounts(ctx)
  const refused = expectProblem(t, await publish(ctx, draft.id), 409, 'approval-required')
  t.match(refused.detail, /approve/)
  t.same(await rowCounts(ctx), before, 'a refused publish writes nothing')
  t.same(await allEvents(ctx), [], 'nothing announced')

  // The author, even with the right version, is not a second person.
  expectProblem(t, await approveAs(ctx, 'editor', draft.id, '"1"'), 409, 'self-approval')
  // The reviewer must name the version they read.
  expectProblem(t, await approveAs(ctx, 'reviewer', draft.id), 428, 'precondition-required')
  expectProblem(t, await approveAs(ctx, 'reviewer', draft.id, '*'), 428, 'precondition-required')
  expectProblem(t, await approveAs(ctx, 'reviewer', draft.id, '"7"'), 412, 'precondition-failed')
  t.same(await rowCounts(ctx), before, 'refused approvals write nothing')

  const { etag } = await read(ctx, draft.id, 'reviewer')
  t.equal(etag, '"1"')
  const res = await approveAs(ctx, 'reviewer', draft.id, etag)
  const approved = expectStatus(t, res, 200)
  t.equal(approved.status, 'draft', 'approving does not publish')
  t.equal(approved.version, 1, 'approving judges the version, it does not change it')
  t.equal(res.headers.etag, '"1"')
  t.match(approved.approval, { approvedBy: { kind: 'key', id: reviewerId, name: 'reviewer test key' }, approvedAt: ISO, version: 1 })
  t.same((await read(ctx, draft.id)).appeal.approval, approved.approval, 'the approval is part of the appeal staff read')

  // Asked again: nothing changes, and nothing more is audited.
  const again = expectStatus(t, await approveAs(ctx, 'admin', draft.id, '"1"'), 200)
  t.equal(again.version, 1)
  t.same(again.approval, approved.approval)

  const published = expectStatus(t, await publish(ctx, draft.id), 200)
  t.equal(published.status, 'published', 'the author publishes once a colleague approved')
  t.same(published.approval, approved.approval, 'the publication keeps the approval it rested on')

  const trail = await auditOf(ctx, draft.id)
  t.same(trail.map((e) => e.action), ['appeal.create', 'appeal.approve', 'appeal.publish'])
  t.match(trail, [
    { action: 'appeal.create', apiKeyId: editorId },
    { action: 'appeal.approve', apiKeyId: reviewerId, details: { version: 1 } },
    { action: 'appeal.publish', apiKeyId: editorId },
  ])

  // Who approved is staff business: not in public reads, partners' reads or events.
  for (const as of [null, 'partner', 'otherEditor'] as const) {
    const seen = expectStatus(t, await ctx.request(as, 'GET', `/v1/appeals/${draft.id}`), 200)
    t.notOk('approval' in seen || 'sensitive' in seen, `${as ?? 'the public'} sees neither approval nor sensitive`)
    const list = expectStatus(t, await ctx.request(as, 'GET', '/v1/appeals'), 200)
    t.notOk('approval' in list.items[0] || 'sensitive' in list.items[0], `${as ?? 'the public'}: not in the list either`)
  }
  const [event] = await allEvents(ctx)
  t.notOk('approval' in event.data.appeal || 'sensitive' in event.data.appeal, 'the event carries the public appeal')
  t.notOk(JSON.stringify(await allEvents(ctx)).includes('reviewer test key'))
  t.equal(expectStatus(t, await ctx.request('editor', 'GET', '/v1/appeals'), 200).items[0].sensitive, true, 'staff lists show it')
})

t.test('a change of a draft\'s content voids its approval; the author of the change may not approve it', async (t) => {
  const ctx = await buildTestApp(t)
  const [editorId, reviewerId] = [await keyId(ctx, 'editor'), await keyId(ctx, 'reviewer')]
  const draft = await createDraft(ctx)
  await approve(ctx, draft.id, 'reviewer')

  // Timing and the flag itself are not content: the approval holds.
  const moved = expectStatus(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${draft.id}`, { embargoUntil: '2020-01-01T00:00:00.000Z' }), 200)
  t.not(moved.approval, null, 'moving the embargo keeps the approval')
  const flagged = expectStatus(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${draft.id}`, { actionDeadline: '2099-07-31' }), 200)
  t.equal(flagged.approval, null, 'the deadline is content: approval void')
  t.equal(flagged.version, 3)
  expectProblem(t, await publish(ctx, draft.id), 409, 'approval-required')
  const voided = (await auditOf(ctx, draft.id)).filter((e) => e.action === 'appeal.approval-voided')
  t.equal(voided.length, 1)
  t.match(voided, [{ apiKeyId: editorId, details: { approvedBy: `key:${reviewerId}`, version: 1 } }], 'the void is audited with who changed it')

  // The reviewer edits: now the reviewer made the content, so the editor approves.
  await approve(ctx, draft.id, 'reviewer')
  const edited = expectStatus(t, await ctx.request('reviewer', 'PATCH', `/v1/appeals/${draft.id}`, { title: 'China: seven North Koreans, one a child, face forced return' }), 200)
  t.equal(edited.approval, null)
  expectProblem(t, await approveAs(ctx, 'reviewer', draft.id, `"${edited.version}"`), 409, 'self-approval')
  const byEditor = await approve(ctx, draft.id, 'editor')
  t.equal(byEditor.approval.approvedBy.id, editorId)

  // A translation is content too.
  const translated = expectStatus(t, await ctx.request('reviewer', 'PUT', `/v1/appeals/${draft.id}/translations/ko`, { title: '중국: 북한 주민 7명', summary: '강제송환 위기' }), 201)
  t.equal(translated.approval, null, 'a translation voids the approval')
  expectProblem(t, await approveAs(ctx, 'reviewer', draft.id, `"${translated.version}"`), 409, 'self-approval')

  // Approved against a version that has since changed: 412, and nothing approved.
  const { etag } = await read(ctx, draft.id, 'editor')
  expectStatus(t, await ctx.request('reviewer', 'PATCH', `/v1/appeals/${draft.id}`, { summary: 'Seven people, one a girl of 10, face forced return.' }), 200)
  expectProblem(t, await approveAs(ctx, 'editor', draft.id, etag), 412, 'precondition-failed')
  t.equal((await read(ctx, draft.id)).appeal.approval, null)
  await approve(ctx, draft.id, 'editor')
  t.equal(expectStatus(t, await publish(ctx, draft.id, 'reviewer'), 200).status, 'published')

  // After publication the approval is the record of the publication's: edits need no new one and keep it.
  const etagNow = String((await ctx.request('editor', 'GET', `/v1/appeals/${draft.id}`)).headers.etag)
  const patched = expectStatus(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${draft.id}`, { urgency: 'high' }, { 'if-match': etagNow }), 200)
  t.equal(patched.approval.approvedBy.id, editorId, 'a published appeal keeps its approval')
  expectProblem(t, await approveAs(ctx, 'reviewer', draft.id, `"${patched.version}"`), 409, 'illegal-transition')
})

t.test('a scheduled publish obeys the rule when asked; a content change cancels a schedule that lost its approval', async (t) => {
  const ctx = await buildTestApp(t)
  const embargoUntil = new Date(Date.now() + 60 * 60 * 1000).toISOString()
  const draft = await createDraft(ctx, anAppeal({ embargoUntil }))
  expectProblem(t, await publish(ctx, draft.id), 409, 'approval-required')
  t.equal((await read(ctx, draft.id)).appeal.scheduledPublishAt, null, 'not scheduled')

  await approve(ctx, draft.id, 'reviewer')
  const scheduled = expectStatus(t, await publish(ctx, draft.id), 200)
  t.equal(scheduled.scheduledPublishAt, embargoUntil)
  t.not(scheduled.approval, null)

  // Moving the embargo is timing, not content: still approved and scheduled.
  const later = new Date(Date.now() + 2 * 60 * 60 * 1000).toISOString()
  const moved = expectStatus(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${draft.id}`, { embargoUntil: later }), 200)
  t.equal(moved.scheduledPublishAt, later)

  const changed = expectStatus(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${draft.id}`, { summary: 'Changed after the approval.' }), 200)
  t.equal(changed.approval, null)
  t.equal(changed.scheduledPublishAt, null, 'the worker will not publish what nobody approved')
  t.equal(changed.status, 'draft')
  t.same((await auditOf(ctx, draft.id)).map((e) => e.action).slice(-3), ['appeal.update', 'appeal.approval-voided', 'appeal.unschedule'])
  const { rows } = await ctx.pool.query('SELECT 1 FROM appeals WHERE id = $1 AND publish_requested_at IS NOT NULL', [draft.id])
  t.equal(rows.length, 0, 'no publish request is left for the worker')

  // Adults only and no approval needed: a content change leaves the schedule alone.
  const adults = await createDraft(ctx, { ...adultsOnly(), embargoUntil })
  expectStatus(t, await publish(ctx, adults.id), 200)
  const kept = expectStatus(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${adults.id}`, { summary: 'Changed while scheduled.' }), 200)
  t.equal(kept.scheduledPublishAt, embargoUntil)
  // …but becoming sensitive does not.
  const flagged = expectStatus(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${adults.id}`, { sensitive: true }), 200)
  t.equal(flagged.scheduledPublishAt, null, 'a schedule that now needs an approval is cancelled')
})

t.test('sensitive: true by default for a child, never false while one is counted, settable by an editor', async (t) => {
  const ctx = await buildTestApp(t)
  const adults = await createDraft(ctx, adultsOnly())
  t.equal(adults.sensitive, false, 'adults only: not sensitive')
  t.equal(expectStatus(t, await publish(ctx, adults.id), 200).status, 'published', 'and published by one person under the default policy')

  for (const child of [{ girls: 1 }, { boys: 2 }, { minors: 1 }]) {
    const draft = await createDraft(ctx, anAppeal({ peopleAtRisk: { total: 3, ...child } }))
    t.equal(draft.sensitive, true, `${JSON.stringify(child)}: sensitive`)
  }
  expectInvalid(t, await ctx.request('editor', 'POST', '/v1/appeals', anAppeal({ sensitive: false })), '/sensitive')

  const marked = await createDraft(ctx, anAppeal({ ...adultsOnly(), sensitive: true }))
  t.equal(marked.sensitive, true, 'an editor marks an adult case sensitive')
  expectProblem(t, await publish(ctx, marked.id), 409, 'approval-required')

  // A change that counts a child makes the appeal sensitive…
  const plain = await createDraft(ctx, adultsOnly())
  const withChild = expectStatus(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${plain.id}`, { peopleAtRisk: { total: 3, women: 1, men: 1, minors: 1 } }), 200)
  t.equal(withChild.sensitive, true)
  expectInvalid(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${plain.id}`, { sensitive: false }), '/sensitive')
  expectInvalid(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${plain.id}`, { peopleAtRisk: { total: 3, girls: 1 }, sensitive: false }), '/sensitive')
  // …taking the child out leaves it sensitive until an editor says otherwise.
  const noChild = expectStatus(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${plain.id}`, { peopleAtRisk: { total: 2, women: 1, men: 1 } }), 200)
  t.equal(noChild.sensitive, true, 'not cleared by a change of counts')
  const cleared = expectStatus(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${plain.id}`, { sensitive: false }), 200)
  t.equal(cleared.sensitive, false)
  t.match((await auditOf(ctx, plain.id)).at(-1), { action: 'appeal.update', details: { fields: ['sensitive'] } })

  // A follow-up that counts a child marks the published appeal, without saying so in the event.
  const followed = expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${adults.id}/updates`, { body: 'A child was found with them.', peopleAtRisk: { total: 3, women: 1, men: 1, boys: 1 } }), 201)
  t.equal(followed.sensitive, true)
  const updated = (await allEvents(ctx)).filter((e) => e.type === 'appeal.updated').at(-1)
  t.same(updated.data.changes, ['updates', 'peopleAtRisk'], '`sensitive` is never named in an event')
})

t.test('organisations choose the policy: none, sensitive (default) or all; admins only', async (t) => {
  const ctx = await buildTestApp(t)
  const orgs = expectStatus(t, await ctx.request('admin', 'GET', '/v1/organisations?limit=100'), 200).items
  t.ok(orgs.length > 0 && orgs.every((o: { approvalPolicy: string }) => o.approvalPolicy === 'sensitive'), 'the default is sensitive')
  expectInvalid(t, await ctx.request('admin', 'PATCH', `/v1/organisations/${ctx.orgIds.ngo}`, { approvalPolicy: 'sometimes' }), '/approvalPolicy')
  expectProblem(t, await ctx.request('editor', 'PATCH', `/v1/organisations/${ctx.orgIds.ngo}`, { approvalPolicy: 'none' }), 403, 'forbidden')

  t.equal((await setPolicy(ctx, 'none')).approvalPolicy, 'none')
  const audit = expectStatus(t, await ctx.request('admin', 'GET', `/v1/audit-log?resourceType=organisation&resourceId=${ctx.orgIds.ngo}`), 200).items[0]
  t.match(audit, { action: 'organisation.update', apiKeyId: await keyId(ctx, 'admin'), details: { fields: ['approvalPolicy'], approvalPolicy: 'none' } })
  const child = await createDraft(ctx)
  t.equal(expectStatus(t, await publish(ctx, child.id), 200).status, 'published', 'none: one person publishes a child case')

  await setPolicy(ctx, 'all')
  const adults = await createDraft(ctx, adultsOnly())
  expectProblem(t, await publish(ctx, adults.id), 409, 'approval-required')
  await approve(ctx, adults.id, 'reviewer')
  t.equal(expectStatus(t, await publish(ctx, adults.id), 200).status, 'published', 'all: every appeal once approved')

  // Another organisation's policy is its own.
  const other = await createDraft(ctx, adultsOnly(), 'otherEditor')
  t.equal(expectStatus(t, await publish(ctx, other.id, 'otherEditor'), 200).status, 'published')
  const page = expectStatus(t, await ctx.request('admin', 'GET', '/v1/organisations?limit=100'), 200).items
  t.same(Object.fromEntries(page.map((o: { id: string; approvalPolicy: string }) => [o.id, o.approvalPolicy])), {
    [ctx.orgIds.ngo]: 'all', [ctx.orgIds.otherNgo]: 'sensitive', [ctx.orgIds.partner]: 'sensitive', [ctx.orgIds.otherPartner]: 'sensitive',
  })
})

t.test('who may approve: editors and admins of the appeal\'s organisation, only drafts', async (t) => {
  const ctx = await buildTestApp(t)
  const draft = await createDraft(ctx)
  expectProblem(t, await approveAs(ctx, null, draft.id, '"1"'), 401, 'unauthorized')
  expectProblem(t, await approveAs(ctx, 'partner', draft.id, '"1"'), 403, 'forbidden')
  expectProblem(t, await approveAs(ctx, 'otherEditor', draft.id, '"1"'), 404, 'not-found')
  expectProblem(t, await approveAs(ctx, 'reviewer', '00000000-0000-4000-8000-000000000000', '"1"'), 404, 'not-found')
  t.equal((await read(ctx, draft.id)).appeal.approval, null)

  // An admin is another key: they may approve an editor's draft, and an admin's draft needs someone else.
  const byAdmin = expectStatus(t, await approveAs(ctx, 'admin', draft.id, '"1"'), 200)
  t.equal(byAdmin.approval.approvedBy.id, await keyId(ctx, 'admin'))
  const adminDraft = await createDraft(ctx, anAppeal(), 'admin')
  expectProblem(t, await approveAs(ctx, 'admin', adminDraft.id, '"1"'), 409, 'self-approval')

  const published = await createPublished(ctx)
  expectProblem(t, await approveAs(ctx, 'admin', published.id, `"${published.version}"`), 409, 'illegal-transition')
  const withdrawn = await createDraft(ctx)
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${withdrawn.id}/withdraw`, { reason: 'not needed' }), 200)
  expectProblem(t, await approveAs(ctx, 'reviewer', withdrawn.id, '"2"'), 409, 'illegal-transition')

  // Idempotency-Key works as on every appeal POST: a retry replays the approval.
  const retried = await createDraft(ctx)
  const headers = { 'if-match': '"1"', 'idempotency-key': 'approve-once' }
  const first = await ctx.request('reviewer', 'POST', `/v1/appeals/${retried.id}/approve`, undefined, headers)
  const second = await ctx.request('reviewer', 'POST', `/v1/appeals/${retried.id}/approve`, undefined, headers)
  t.equal(second.headers['idempotent-replayed'], 'true')
  t.same(second.json(), first.json())
})

t.test('people of the console are second persons like keys: named in the approval, never approving their own content', async (t) => {
  const ctx = await buildTestApp(t)
  const appeals = new AppealService(ctx.pool) // the service the console calls
  const person = async (displayName: string): Promise<Actor> => {
    const { rows: [p] } = await ctx.pool.query(`INSERT INTO people (organisation_id, email, display_name, role)
      VALUES ($1, $2, $3, 'editor') RETURNING id`, [ctx.orgIds.ngo, `${displayName.toLowerCase() || 'anon'}@example.org`, displayName])
    return { keyId: null, personId: p.id, organisationId: ctx.orgIds.ngo, role: 'editor' }
  }
  const [mina, jun, anonymous] = [await person('Mina'), await person('Jun'), await person('')]

  // A key wrote it; a person approves it.
  const draft = await createDraft(ctx)
  const approved = await appeals.approve(mina, draft.id, '"1"')
  t.same(approved.approval!.approvedBy, { kind: 'person', id: mina.personId, name: 'Mina' })
  t.same((await read(ctx, draft.id)).appeal.approval.approvedBy, { kind: 'person', id: mina.personId, name: 'Mina' }, 'and the API shows it')
  const { rows: [audit] } = await ctx.pool.query(`SELECT api_key_id, person_id FROM audit_log WHERE action = 'appeal.approve' AND resource_id = $1`, [draft.id])
  t.same(audit, { api_key_id: null, person_id: mina.personId }, 'audited with the person')

  // A person edits: the approval is void, they cannot approve it, another person (or a key) can.
  const edited = await appeals.patch(mina, draft.id, { summary: 'Edited in the console.' }, undefined)
  t.equal(edited.approval, null)
  const refused = await appeals.approve(mina, draft.id, `"${edited.version}"`).then(() => null, (error: unknown) => error)
  t.match(refused, { status: 409, slug: 'self-approval' }, 'the person who edited cannot approve')
  const second = await appeals.approve(jun, draft.id, `"${edited.version}"`)
  t.equal(second.approval!.approvedBy.name, 'Jun')
  // A person without a display name is named by no one else's address.
  const other = await createDraft(ctx)
  t.same((await appeals.approve(anonymous, other.id, '"1"')).approval!.approvedBy, { kind: 'person', id: anonymous.personId, name: null })
})

t.test('migration 010 marks existing child cases sensitive and names their authors from the audit log', async (t) => {
  const url = await createTestDatabase(t, { migrated: false })
  await runner({ databaseUrl: url, dir: MIGRATIONS_DIR, direction: 'up', count: 9, migrationsTable: 'pgmigrations', log: () => {} })
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  t.teardown(() => db.end())
  const { rows: [org] } = await db.query(`INSERT INTO organisations (name, kind) VALUES ('Old NGO', 'ngo') RETURNING id`)
  const { rows: [key] } = await db.query(`INSERT INTO api_keys (organisation_id, role, name, prefix, secret_hash)
    VALUES ($1, 'editor', 'old key', 'ua_oldoldoldo', '\\x00') RETURNING id`, [org.id])
  const insert = async (reference: string, people: object) => (await db.query(`INSERT INTO appeals
      (organisation_id, reference, language, title, summary, urgency, countries, people_at_risk)
    VALUES ($1, $2, 'en', 't', 's', 'high', '{CN}', $3) RETURNING id`, [org.id, reference, JSON.stringify(people)])).rows[0].id as string
  const child = await insert('UA 001/19', { total: 7, girls: 1 })
  const adults = await insert('UA 002/19', { total: 2, women: 2 })
  await db.query(`INSERT INTO audit_log (organisation_id, api_key_id, actor_role, action, resource_type, resource_id)
    VALUES ($1, $2, 'editor', 'appeal.create', 'appeal', $3)`, [org.id, key.id, child])

  await migrate(url)
  const { rows } = await db.query('SELECT id, sensitive, content_by FROM appeals ORDER BY reference')
  t.same(rows, [
    { id: child, sensitive: true, content_by: `key:${key.id}` },
    { id: adults, sensitive: false, content_by: null },
  ])
  const { rows: [policy] } = await db.query('SELECT approval_policy FROM organisations')
  t.equal(policy.approval_policy, 'sensitive')
  await t.rejects(db.query(`UPDATE appeals SET sensitive = false WHERE id = $1`, [child]), /appeals_children_sensitive/, 'the database refuses an unflagged child case')
})
