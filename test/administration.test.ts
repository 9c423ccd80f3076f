// Administration (contract §7): organisations, API keys and the audit log,
// admin only. Keys are shown once, stored hashed, and revoked at once.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { buildTestApp, type TestApp } from './helpers/context.js'
import { approve, liaoningAppeal } from './helpers/liaoning.js'

type As = 'admin' | 'editor' | 'reviewer' | 'partner' | 'otherEditor' | 'otherPartner' | null
interface Organisation { id: string; name: string; kind: string; contactEmail: string | null; createdAt: string }
interface ApiKey { id: string; organisationId: string; role: string; name: string; prefix: string; createdAt: string; lastUsedAt: string | null; revokedAt: string | null }
interface AuditEntry {
  id: number; at: string; organisationId: string | null; apiKeyId: string | null; actorRole: string | null
  action: string; resourceType: string; resourceId: string | null; details: Record<string, unknown>
}
interface Page<T> { items: T[]; nextCursor: string | null }

async function ok<T = unknown>(res: Promise<{ statusCode: number; body: string; json(): unknown }>, status = 200): Promise<T> {
  const r = await res
  if (r.statusCode !== status) throw new Error(`expected ${status}, got ${r.statusCode}: ${r.body}`)
  return (r.body === '' ? null : r.json()) as T
}

const withKey = (ctx: TestApp, key: string, method: 'GET' | 'POST', url: string, body?: unknown) =>
  ctx.app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(body !== undefined ? { payload: body as object } : {}) })

/** Follows nextCursor to the end; fails on a repeated item or a runaway walk. */
async function walk<T extends { id: string | number }>(ctx: TestApp, url: string, limit: number): Promise<{ items: T[]; pages: number }> {
  const items: T[] = []
  let cursor: string | null = null
  let pages = 0
  for (let guard = 0; guard < 200; guard++) {
    const sep = url.includes('?') ? '&' : '?'
    const page: Page<T> = await ok(ctx.request('admin', 'GET', `${url}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`))
    pages++
    if (page.items.length > limit) throw new Error('page larger than limit')
    items.push(...page.items)
    if (page.nextCursor === null) return { items, pages }
    cursor = page.nextCursor
  }
  throw new Error('pagination did not end')
}

async function allKeys(ctx: TestApp): Promise<ApiKey[]> {
  return (await walk<ApiKey>(ctx, '/v1/api-keys', 100)).items
}

/** The id of one of the context's keys, found by its visible prefix. */
async function keyIdOf(ctx: TestApp, as: Exclude<As, null>): Promise<string> {
  const prefix = ctx.keys[as].split('_').slice(0, 2).join('_')
  const found = (await allKeys(ctx)).find((k) => k.prefix === prefix)
  if (!found) throw new Error(`no key with prefix ${prefix}`)
  return found.id
}

const pointers = (res: { json(): unknown }) =>
  ((res.json() as { errors?: { pointer: string; in?: string }[] }).errors ?? []).map((e) => ({ pointer: e.pointer, in: e.in }))

const newOrganisation = (name: string, kind: 'ngo' | 'partner' = 'ngo') => ({ name, kind, contactEmail: `contact@${kind}.example.org` })

t.test('admins create organisations; names are unique (409 on /name); bad input is a 400', async (t) => {
  const ctx = await buildTestApp(t)
  const res = await ctx.request('admin', 'POST', '/v1/organisations', { name: 'Safe Passage Network', kind: 'partner', contactEmail: 'ops@safepassage.example' })
  t.equal(res.statusCode, 201, res.body)
  const org = res.json() as Organisation
  t.match(org, { name: 'Safe Passage Network', kind: 'partner', contactEmail: 'ops@safepassage.example', language: 'en' }, 'English unless told otherwise')
  t.match(org.id, /^[0-9a-f-]{36}$/)
  t.match(org.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  t.same(Object.keys(org).sort(), ['approvalPolicy', 'contactEmail', 'createdAt', 'id', 'kind', 'language', 'name'], 'no internal fields')

  const duplicate = await ctx.request('admin', 'POST', '/v1/organisations', { name: 'Safe Passage Network', kind: 'ngo', contactEmail: 'x@example.org' })
  t.equal(duplicate.statusCode, 409)
  t.match(duplicate.headers['content-type'], /^application\/problem\+json/)
  t.match(duplicate.json(), { status: 409, type: '/problems/organisation-exists' })
  t.same(pointers(duplicate), [{ pointer: '/name', in: 'body' }])
  const padded = await ctx.request('admin', 'POST', '/v1/organisations', { name: '  Safe Passage Network ', kind: 'ngo', contactEmail: 'x@example.org' })
  t.equal(padded.statusCode, 409, 'surrounding spaces do not make a new name')
  const cased = await ctx.request('admin', 'POST', '/v1/organisations', { name: 'SAFE PASSAGE network', kind: 'ngo', contactEmail: 'x@example.org' })
  t.equal(cased.statusCode, 409, 'nor does another case')
  const trimmed = await ok<Organisation>(ctx.request('admin', 'POST', '/v1/organisations', { name: ' Harbour Lights\t', kind: 'ngo', contactEmail: 'x@example.org' }), 201)
  t.equal(trimmed.name, 'Harbour Lights', 'names are stored trimmed')
  const racing = await Promise.all(['Twin Rivers', 'twin rivers', 'TWIN RIVERS'].map((name) =>
    ctx.request('admin', 'POST', '/v1/organisations', { name, kind: 'ngo', contactEmail: 'x@example.org' })))
  t.same(racing.map((r) => r.statusCode).sort(), [201, 409, 409], 'concurrent creations of one name: one wins')

  const cases: [string, Record<string, unknown>, string][] = [
    ['bad email', { name: 'A', kind: 'ngo', contactEmail: 'not-an-email' }, '/contactEmail'],
    ['missing email', { name: 'A', kind: 'ngo' }, '/contactEmail'],
    ['unknown kind', { name: 'A', kind: 'government', contactEmail: 'a@example.org' }, '/kind'],
    ['empty name', { name: '', kind: 'ngo', contactEmail: 'a@example.org' }, '/name'],
    ['blank name', { name: '   ', kind: 'ngo', contactEmail: 'a@example.org' }, '/name'],
    ['name too long', { name: 'x'.repeat(201), kind: 'ngo', contactEmail: 'a@example.org' }, '/name'],
    ['unknown property', { name: 'A', kind: 'ngo', contactEmail: 'a@example.org', website: 'https://a.example' }, '/website'],
  ]
  for (const [what, body, pointer] of cases) {
    const bad = await ctx.request('admin', 'POST', '/v1/organisations', body)
    t.equal(bad.statusCode, 400, `${what}: 400`)
    t.same(pointers(bad), [{ pointer, in: 'body' }], `${what}: points at ${pointer}`)
  }
  const listed = await walk<Organisation>(ctx, '/v1/organisations', 100)
  t.equal(listed.items.filter((o) => o.name.includes('Safe Passage')).length, 1, 'nothing was created by the refused requests')
  t.equal(listed.items.filter((o) => o.name === 'A').length, 0)
})

t.test('organisations are listed newest first with keyset pagination', async (t) => {
  const ctx = await buildTestApp(t)
  for (let i = 1; i <= 7; i++) await ok(ctx.request('admin', 'POST', '/v1/organisations', newOrganisation(`Organisation ${i}`)), 201)
  const { items, pages } = await walk<Organisation>(ctx, '/v1/organisations', 4)
  t.equal(items.length, 11, 'the four of the test context and seven new ones')
  t.equal(pages, 3)
  t.equal(new Set(items.map((o) => o.id)).size, 11, 'no duplicates')
  t.same(items.slice(0, 7).map((o) => o.name), [7, 6, 5, 4, 3, 2, 1].map((i) => `Organisation ${i}`), 'newest first')
  const first = await ok<Page<Organisation>>(ctx.request('admin', 'GET', '/v1/organisations'))
  t.equal(first.items.length, 11, 'default limit 20')
  t.equal(first.nextCursor, null)

  const badCursor = await ctx.request('admin', 'GET', '/v1/organisations?cursor=bm90LWEtY3Vyc29y')
  t.equal(badCursor.statusCode, 400)
  t.same(pointers(badCursor), [{ pointer: '/cursor', in: 'query' }])
  for (const limit of ['0', '101', 'x']) {
    const res = await ctx.request('admin', 'GET', `/v1/organisations?limit=${limit}`)
    t.equal(res.statusCode, 400, `limit=${limit}: 400`)
    t.same(pointers(res), [{ pointer: '/limit', in: 'query' }])
  }
})

t.test('a new API key is shown once, not cached, and works at once', async (t) => {
  const ctx = await buildTestApp(t)
  const res = await ctx.request('admin', 'POST', '/v1/api-keys', { organisationId: ctx.orgIds.partner, role: 'partner', name: 'CMS integration' })
  t.equal(res.statusCode, 201, res.body)
  t.match(res.headers['cache-control'], /no-store/)
  const { apiKey, key } = res.json() as { apiKey: ApiKey; key: string }
  t.match(apiKey, { organisationId: ctx.orgIds.partner, role: 'partner', name: 'CMS integration', lastUsedAt: null, revokedAt: null })
  t.match(key, /^ua_[a-z2-7]{10}_[A-Za-z0-9_-]{43}$/)
  t.ok(key.startsWith(`${apiKey.prefix}_`), 'the visible prefix is the start of the key')

  const events = await withKey(ctx, key, 'GET', '/v1/events')
  t.equal(events.statusCode, 200, 'the partner key reads the event log immediately')
  t.equal((await withKey(ctx, key, 'POST', '/v1/appeals', liaoningAppeal())).statusCode, 403, 'and has the partner role only')

  const editor = await ok<{ key: string }>(ctx.request('admin', 'POST', '/v1/api-keys', { organisationId: ctx.orgIds.ngo, role: 'editor', name: 'desk' }), 201)
  const created = await withKey(ctx, editor.key, 'POST', '/v1/appeals', liaoningAppeal())
  t.equal(created.statusCode, 201, 'an editor key creates appeals immediately')

  const listed = (await allKeys(ctx)).find((k) => k.id === apiKey.id)!
  t.same(listed, { ...apiKey, lastUsedAt: listed.lastUsedAt }, 'the listing shows the same key')
  let lastUsedAt: string | null = null
  for (const until = Date.now() + 5_000; !lastUsedAt && Date.now() < until; await new Promise((r) => setTimeout(r, 20))) {
    lastUsedAt = (await allKeys(ctx)).find((k) => k.id === apiKey.id)!.lastUsedAt
  }
  t.match(lastUsedAt, /^\d{4}-\d\d-\d\dT/, 'its use is recorded in lastUsedAt')
})

t.test('keys must fit their organisation: partner organisations hold partner keys only; the organisation must exist', async (t) => {
  const ctx = await buildTestApp(t)
  const before = (await allKeys(ctx)).length
  for (const role of ['editor', 'admin']) {
    const res = await ctx.request('admin', 'POST', '/v1/api-keys', { organisationId: ctx.orgIds.partner, role, name: 'escalation' })
    t.equal(res.statusCode, 422, `${role} key for a partner organisation: 422`)
    t.match(res.json(), { status: 422, type: '/problems/role-not-allowed' })
    t.same(pointers(res), [{ pointer: '/role', in: 'body' }])
  }
  const admin = await ctx.request('admin', 'POST', '/v1/api-keys', { organisationId: ctx.orgIds.otherNgo, role: 'admin', name: 'second admin' })
  t.equal(admin.statusCode, 201, 'an NGO may hold admin keys')
  const partnerOfNgo = await ctx.request('admin', 'POST', '/v1/api-keys', { organisationId: ctx.orgIds.ngo, role: 'partner', name: 'feed reader' })
  t.equal(partnerOfNgo.statusCode, 201, 'and partner keys (to read the event log)')

  const unknown = await ctx.request('admin', 'POST', '/v1/api-keys', { organisationId: randomUUID(), role: 'partner', name: 'ghost' })
  t.equal(unknown.statusCode, 422)
  t.match(unknown.json(), { type: '/problems/unknown-organisation' })
  t.same(pointers(unknown), [{ pointer: '/organisationId', in: 'body' }])

  const cases: [string, Record<string, unknown>, string][] = [
    ['malformed organisationId', { organisationId: 'org-1', role: 'partner', name: 'k' }, '/organisationId'],
    ['unknown role', { organisationId: ctx.orgIds.partner, role: 'owner', name: 'k' }, '/role'],
    ['missing name', { organisationId: ctx.orgIds.partner, role: 'partner' }, '/name'],
    ['unknown property', { organisationId: ctx.orgIds.partner, role: 'partner', name: 'k', expiresAt: '2030-01-01' }, '/expiresAt'],
  ]
  for (const [what, body, pointer] of cases) {
    const res = await ctx.request('admin', 'POST', '/v1/api-keys', body)
    t.equal(res.statusCode, 400, `${what}: 400`)
    t.same(pointers(res), [{ pointer, in: 'body' }], `${what}: points at ${pointer}`)
  }
  t.equal((await allKeys(ctx)).length, before + 2, 'only the two valid requests created keys')
})

t.test('listing API keys never exposes a secret or a hash', async (t) => {
  const ctx = await buildTestApp(t)
  const created = await ok<{ apiKey: ApiKey; key: string }>(ctx.request('admin', 'POST', '/v1/api-keys', { organisationId: ctx.orgIds.partner, role: 'partner', name: 'n' }), 201)
  const { rows } = await ctx.pool.query<{ hash: Buffer }>('SELECT secret_hash AS hash FROM api_keys')
  const res = await ctx.request('admin', 'GET', '/v1/api-keys?limit=100')
  t.equal(res.statusCode, 200)
  const { items } = res.json() as Page<ApiKey>
  t.equal(items.length, 7)
  for (const item of items) {
    t.same(Object.keys(item).sort(), ['createdAt', 'id', 'lastUsedAt', 'name', 'organisationId', 'prefix', 'revokedAt', 'role'], `${item.name}: public fields only`)
  }
  for (const key of [...Object.values(ctx.keys), created.key]) {
    const secret = key.split('_').slice(2).join('_')
    t.notOk(res.body.includes(secret), 'no secret in the listing')
  }
  for (const { hash } of rows) {
    t.notOk(res.body.includes(hash.toString('hex')) || res.body.includes(hash.toString('base64')) || res.body.includes(hash.toString('base64url')), 'no hash in the listing')
  }
  t.notMatch(res.body, /secret|hash/i)
  const { items: paged, pages } = await walk<ApiKey>(ctx, '/v1/api-keys', 4)
  t.equal(pages, 2)
  t.same(paged.map((k) => k.id), items.map((k) => k.id), 'pages join up, newest first')
  t.equal(items[0]!.id, created.apiKey.id, 'newest first')
})

t.test('a revoked key stops working at once; revoking is idempotent; unknown ids are 404', async (t) => {
  const ctx = await buildTestApp(t)
  const { apiKey, key } = await ok<{ apiKey: ApiKey; key: string }>(ctx.request('admin', 'POST', '/v1/api-keys', { organisationId: ctx.orgIds.ngo, role: 'editor', name: 'leaked laptop' }), 201)
  t.equal((await withKey(ctx, key, 'GET', '/v1/events')).statusCode, 200)

  const revoked = await ctx.request('admin', 'DELETE', `/v1/api-keys/${apiKey.id}`)
  t.equal(revoked.statusCode, 204)
  t.equal(revoked.body, '')
  const after = await withKey(ctx, key, 'GET', '/v1/events')
  t.equal(after.statusCode, 401, 'the very next request is refused')
  t.match(after.json(), { status: 401, type: '/problems/unauthorized' })
  t.equal((await withKey(ctx, key, 'POST', '/v1/appeals', liaoningAppeal())).statusCode, 401)

  const listed = (await allKeys(ctx)).find((k) => k.id === apiKey.id)!
  t.match(listed.revokedAt, /^\d{4}-\d\d-\d\dT/, 'the listing shows when it was revoked')
  const again = await ctx.request('admin', 'DELETE', `/v1/api-keys/${apiKey.id}`)
  t.equal(again.statusCode, 204, 'revoking twice is fine')
  t.equal((await allKeys(ctx)).find((k) => k.id === apiKey.id)!.revokedAt, listed.revokedAt, 'and keeps the first revocation time')
  const audit = await ok<Page<AuditEntry>>(ctx.request('admin', 'GET', `/v1/audit-log?action=api-key.revoke&resourceId=${apiKey.id}`))
  t.equal(audit.items.length, 1, 'one revocation, audited once')

  const missing = await ctx.request('admin', 'DELETE', `/v1/api-keys/${randomUUID()}`)
  t.equal(missing.statusCode, 404)
  t.match(missing.json(), { status: 404, type: '/problems/not-found' })
  const malformed = await ctx.request('admin', 'DELETE', '/v1/api-keys/not-a-uuid')
  t.equal(malformed.statusCode, 400)
  t.same(pointers(malformed), [{ pointer: '/id', in: 'path' }])
  t.equal((await ctx.request('editor', 'GET', '/v1/events')).statusCode, 200, 'other keys keep working')
})

t.test('every admin endpoint is 403 for other roles and 401 without a key, whatever the input', async (t) => {
  const ctx = await buildTestApp(t)
  const partnerKeyId = await keyIdOf(ctx, 'partner')
  const auditBefore = (await walk<AuditEntry>(ctx, '/v1/audit-log', 100)).items.length
  const calls: [string, string, unknown?][] = [
    ['POST', '/v1/organisations', newOrganisation('Intruders Inc')],
    ['POST', '/v1/organisations', { bogus: true }],
    ['GET', '/v1/organisations'],
    ['GET', '/v1/organisations?limit=1000'],
    ['POST', '/v1/api-keys', { organisationId: ctx.orgIds.partner, role: 'partner', name: 'x' }],
    ['POST', '/v1/api-keys', { organisationId: ctx.orgIds.ngo, role: 'admin', name: 'escalate' }],
    ['GET', '/v1/api-keys'],
    ['DELETE', `/v1/api-keys/${partnerKeyId}`],
    ['DELETE', '/v1/api-keys/not-a-uuid'],
    ['GET', '/v1/audit-log'],
    ['GET', '/v1/audit-log?resourceType=NOT VALID'],
  ]
  for (const as of ['editor', 'partner', 'otherEditor', 'otherPartner', null] as const) {
    for (const [method, url, body] of calls) {
      const res = await ctx.request(as, method as 'GET', url, body)
      const want = as === null ? 401 : 403
      t.equal(res.statusCode, want, `${as ?? 'no key'} ${method} ${url}${body ? ` ${JSON.stringify(body)}` : ''}: ${want}`)
      t.match(res.headers['content-type'], /^application\/problem\+json/)
      if (as === null) t.match(res.headers['www-authenticate'], /^Bearer/)
    }
  }
  t.equal((await ctx.request('partner', 'GET', '/v1/events')).statusCode, 200, 'the partner key was not revoked')
  const auditAfter = (await walk<AuditEntry>(ctx, '/v1/audit-log', 100)).items.length
  t.equal(auditAfter, auditBefore, 'nothing happened')
})

t.test('the audit log says who did what to which resource, newest first, filterable and paginated', async (t) => {
  const ctx = await buildTestApp(t)
  const adminKeyId = await keyIdOf(ctx, 'admin')
  const editorKeyId = await keyIdOf(ctx, 'editor')
  const reviewerKeyId = await keyIdOf(ctx, 'reviewer')

  const org = await ok<Organisation>(ctx.request('admin', 'POST', '/v1/organisations', newOrganisation('Coastal Watch', 'partner')), 201)
  const { apiKey, key } = await ok<{ apiKey: ApiKey; key: string }>(ctx.request('admin', 'POST', '/v1/api-keys', { organisationId: org.id, role: 'partner', name: 'feed' }), 201)
  await ok(ctx.request('admin', 'DELETE', `/v1/api-keys/${apiKey.id}`), 204)

  const appeal = await ok<{ id: string }>(ctx.request('editor', 'POST', '/v1/appeals', liaoningAppeal()), 201)
  await approve(ctx, appeal.id, 'reviewer')
  await ok(ctx.request('editor', 'POST', `/v1/appeals/${appeal.id}/publish`))
  await ok(ctx.request('editor', 'POST', `/v1/appeals/${appeal.id}/updates`, { body: 'They were moved.' }), 201)
  await ok(ctx.request('editor', 'POST', `/v1/appeals/${appeal.id}/close`, { outcome: { code: 'released' } }))

  const all = await ok<Page<AuditEntry>>(ctx.request('admin', 'GET', '/v1/audit-log?limit=100'))
  t.same(all.items.map((e) => e.id), [...all.items.map((e) => e.id)].sort((a, b) => b - a), 'newest first')
  t.ok(all.items.every((e, i) => i === 0 || Date.parse(e.at) <= Date.parse(all.items[i - 1]!.at)), 'times descend too')
  t.same(all.items.slice(0, 8).map((e) => e.action), [
    'appeal.close', 'appeal.follow-up', 'appeal.publish', 'appeal.approve', 'appeal.create', 'api-key.revoke', 'api-key.create', 'organisation.create',
  ])
  const [close, , , approval, , revoke, create, orgCreate] = all.items
  t.match(approval, { apiKeyId: reviewerKeyId, organisationId: ctx.orgIds.ngo, actorRole: 'editor', action: 'appeal.approve', resourceId: appeal.id, details: { version: 1 } })
  const byAdmin = { apiKeyId: adminKeyId, organisationId: ctx.orgIds.ngo, actorRole: 'admin' }
  t.match(orgCreate, { ...byAdmin, action: 'organisation.create', resourceType: 'organisation', resourceId: org.id, details: { name: 'Coastal Watch', kind: 'partner' } })
  t.match(create, { ...byAdmin, action: 'api-key.create', resourceType: 'api-key', resourceId: apiKey.id, details: { role: 'partner', organisationId: org.id } })
  t.match(revoke, { ...byAdmin, action: 'api-key.revoke', resourceType: 'api-key', resourceId: apiKey.id })
  t.match(close, { apiKeyId: editorKeyId, organisationId: ctx.orgIds.ngo, actorRole: 'editor', action: 'appeal.close', resourceType: 'appeal', resourceId: appeal.id })
  const operator = all.items.at(-1)!
  t.match(operator, { actorRole: 'operator', apiKeyId: null, organisationId: null, action: 'organisation.create' }, 'CLI actions are the operator\'s')
  const secret = key.split('_').slice(2).join('_')
  t.notOk(JSON.stringify(all).includes(secret), 'no key secret in the audit log')
  for (const e of all.items) t.match(e.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)

  const ofAppeal = await ok<Page<AuditEntry>>(ctx.request('admin', 'GET', `/v1/audit-log?resourceType=appeal&resourceId=${appeal.id}`))
  t.same(ofAppeal.items.map((e) => e.action), ['appeal.close', 'appeal.follow-up', 'appeal.publish', 'appeal.approve', 'appeal.create'])
  const revocations = await ok<Page<AuditEntry>>(ctx.request('admin', 'GET', '/v1/audit-log?action=api-key.revoke'))
  t.same(revocations.items.map((e) => e.resourceId), [apiKey.id])
  const keys = await ok<Page<AuditEntry>>(ctx.request('admin', 'GET', '/v1/audit-log?resourceType=api-key'))
  t.same(keys.items.map((e) => e.action), ['api-key.revoke', ...Array(7).fill('api-key.create')])
  const ofPartnerOrg = await ok<Page<AuditEntry>>(ctx.request('admin', 'GET', `/v1/audit-log?organisationId=${ctx.orgIds.ngo}&resourceType=organisation`))
  t.same(ofPartnerOrg.items.map((e) => e.resourceId), [org.id], 'organisationId filters by the acting organisation')
  const none = await ok<Page<AuditEntry>>(ctx.request('admin', 'GET', `/v1/audit-log?resourceId=${randomUUID()}`))
  t.same(none, { items: [], nextCursor: null })

  const { items, pages } = await walk<AuditEntry>(ctx, '/v1/audit-log', 3)
  t.same(items.map((e) => e.id), all.items.map((e) => e.id), 'pages of 3 join up with no gap or duplicate')
  t.equal(pages, Math.ceil(all.items.length / 3))
  const filteredWalk = await walk<AuditEntry>(ctx, `/v1/audit-log?resourceId=${appeal.id}`, 1)
  t.equal(filteredWalk.items.length, 5, 'filters hold across pages')

  for (const query of ['resourceType=NOT%20VALID', 'action=DROP%20TABLE', 'organisationId=x', 'cursor=zzz', 'limit=0', 'actor=me']) {
    const res = await ctx.request('admin', 'GET', `/v1/audit-log?${query}`)
    t.equal(res.statusCode, 400, `${query}: 400`)
  }
})
