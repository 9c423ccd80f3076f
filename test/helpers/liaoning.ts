// The seed case (../shared/seed): seven North Koreans detained in Liaoning
// province, China, in April 2019, facing forced return. Counts only.
import type tap from 'tap'
import type { TestApp } from './context.js'

export const liaoningAppeal = () => ({
  reference: 'UA 001/19',
  language: 'en',
  title: 'China: seven North Koreans face forced return to torture',
  summary: 'Three women, three men and a 10-year-old girl, detained in Liaoning province since 28 April 2019, are at grave risk of torture if deported to North Korea.',
  body: 'Chinese authorities apprehended the group on **28 April 2019**. In North Korea, leaving the country without permission is a criminal offence; people forcibly returned face *political prison camps*, forced labour, torture or execution.\n\nChina is a party to the 1951 Refugee Convention and the Convention against Torture.',
  urgency: 'critical',
  countries: ['CN', 'KP'],
  subdivisions: ['CN-LN'],
  themes: ['refoulement', 'torture', 'children'],
  peopleAtRisk: {
    total: 7, women: 3, men: 3, girls: 1, nationality: 'North Korean',
    situation: ['detained'], risks: ['torture', 'forced labour', 'execution'], detainedSince: '2019-04-28',
  },
  targets: [{
    name: 'Xi Jinping', title: 'President of the People\'s Republic of China', salutation: 'Dear President',
    country: 'CN', address: 'Zhongnanhai, Xichengqu, Beijing 100017, People\'s Republic of China', preferredLanguage: 'zh',
  }],
  asks: [
    'Do not forcibly return the seven North Koreans detained in Liaoning province.',
    'Grant them asylum or allow them safe passage to a third country.',
    'Allow UNHCR to exercise its mandate and meet them.',
  ],
  legalBasis: ['1951 Refugee Convention and 1967 Protocol', '1984 Convention against Torture'],
  actionDeadline: '2099-06-30',
  sources: [{ title: 'China: Don’t Return Detained North Koreans', url: 'https://www.hrw.org/news/2019/05/14/china-dont-return-detained-north-koreans', publisher: 'Human Rights Watch', publishedOn: '2019-05-14' }],
})

// ---------------------------------------------------------------------------
// Helpers shared by the appeals test files.

/** The `t` a subtest receives. */
export type Tap = Parameters<Parameters<typeof tap.test>[0]>[0]

/** A valid appeal body without a reference (one is generated), with overrides. */
export const anAppeal = (overrides: Record<string, unknown> = {}) => {
  const { reference: _reference, ...appeal } = liaoningAppeal()
  return { ...appeal, ...overrides }
}

interface Response { statusCode: number; body: string; headers: Record<string, unknown>; json(): any }

/** Asserts a status, showing the body when it is not the expected one. */
export function expectStatus(t: Tap, res: Response, status: number, what?: string): any {
  t.equal(res.statusCode, status, what ?? `${status}: ${res.body.slice(0, 400)}`)
  return res.body ? res.json() : undefined
}

/** Asserts an RFC 9457 problem document with the given status and type slug. */
export function expectProblem(t: Tap, res: Response, status: number, slug: string): any {
  t.equal(res.statusCode, status, `status ${status}: ${res.body.slice(0, 400)}`)
  t.match(String(res.headers['content-type']), /^application\/problem\+json/, 'problem+json')
  const problem = res.json()
  t.equal(problem.type, `/problems/${slug}`, 'problem type')
  t.equal(problem.status, status, 'problem status')
  t.type(problem.title, 'string')
  t.ok(typeof problem.detail === 'string' && problem.detail.length > 0, 'problem detail')
  return problem
}

/** Asserts a 400 validation problem naming the pointer in the given part. */
export function expectInvalid(t: Tap, res: Response, pointer: string, part: 'body' | 'query' | 'path' | 'header' = 'body'): any {
  const problem = expectProblem(t, res, 400, 'validation-error')
  t.ok(Array.isArray(problem.errors) && problem.errors.length > 0, 'has errors[]')
  const match = (problem.errors ?? []).find((e: { pointer: string }) => e.pointer === pointer)
  t.ok(match, `an error points at ${pointer}: ${JSON.stringify(problem.errors)}`)
  if (match) {
    t.equal(match.in, part, `error is in ${part}`)
    t.ok(typeof match.message === 'string' && match.message.length > 0, 'error has a message')
  }
  return problem
}

/** Creates a draft as `as` and returns it. */
export async function createDraft(ctx: TestApp, body: Record<string, unknown> = anAppeal(), as: 'editor' | 'admin' | 'otherEditor' = 'editor') {
  const res = await ctx.request(as, 'POST', '/v1/appeals', body)
  if (res.statusCode !== 201) throw new Error(`create failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

type Approver = 'editor' | 'reviewer' | 'admin' | 'otherEditor'

/** Who approves what `author` wrote: a second key that may edit it (two-person approval, contract §3). */
export const secondPerson = (author: 'editor' | 'reviewer' | 'admin' | 'otherEditor'): Approver =>
  author === 'editor' ? 'reviewer' : author === 'otherEditor' ? 'admin' : 'editor'

/**
 * Approves a draft's current version as `as` (by default the second
 * person of whoever wrote the seed's drafts), the way a reviewer does:
 * reads it, then approves what it read with If-Match. Returns the appeal.
 */
export async function approve(ctx: TestApp, id: string, as: Approver = 'reviewer') {
  const read = await ctx.request(as, 'GET', `/v1/appeals/${id}`)
  if (read.statusCode !== 200) throw new Error(`read before approving failed: ${read.statusCode} ${read.body}`)
  const res = await ctx.request(as, 'POST', `/v1/appeals/${id}/approve`, undefined, { 'if-match': String(read.headers.etag) })
  if (res.statusCode !== 200) throw new Error(`approve failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

/**
 * Creates and publishes an appeal as `as`; returns the published appeal.
 * A second key approves it first, as the default policy asks of a
 * sensitive appeal (the seed counts a 10-year-old girl).
 */
export async function createPublished(ctx: TestApp, body: Record<string, unknown> = anAppeal(), as: 'editor' | 'admin' | 'otherEditor' = 'editor') {
  const draft = await createDraft(ctx, body, as)
  if (draft.sensitive) await approve(ctx, draft.id, secondPerson(as))
  const res = await ctx.request(as, 'POST', `/v1/appeals/${draft.id}/publish`)
  if (res.statusCode !== 200) throw new Error(`publish failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

/** The whole event log as the partner sees it. */
export async function allEvents(ctx: TestApp, as: 'partner' | 'editor' | 'admin' = 'partner'): Promise<any[]> {
  const events: any[] = []
  let after: string | null = null
  for (;;) {
    const res = await ctx.request(as, 'GET', `/v1/events?limit=100${after ? `&after=${after}` : ''}`)
    if (res.statusCode !== 200) throw new Error(`events failed: ${res.statusCode} ${res.body}`)
    const page = res.json()
    events.push(...page.items)
    if (!page.nextCursor) return events
    after = page.nextCursor
  }
}

/** Row counts of the tables a write touches, to prove a rejected request wrote nothing. */
export interface RowCounts { appeals: number; versions: number; translations: number; updates: number; events: number; audit: number }
export async function rowCounts(ctx: TestApp): Promise<RowCounts> {
  const { rows } = await ctx.pool.query<RowCounts>(`SELECT
    (SELECT count(*)::int FROM appeals) AS appeals,
    (SELECT coalesce(sum(version), 0)::int FROM appeals) AS versions,
    (SELECT count(*)::int FROM appeal_translations) AS translations,
    (SELECT count(*)::int FROM appeal_updates) AS updates,
    (SELECT count(*)::int FROM events) AS events,
    (SELECT count(*)::int FROM audit_log) AS audit`)
  return rows[0]!
}

/** `app.inject` with an arbitrary key. */
export function requestWithKey(ctx: TestApp, key: string, method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, body?: unknown, headers: Record<string, string> = {}) {
  return ctx.app.inject({
    method, url, headers: { authorization: `Bearer ${key}`, ...headers },
    ...(body !== undefined ? { payload: body as string } : {}),
  })
}
