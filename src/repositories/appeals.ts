// SQL for appeals, their translations and follow-up updates. Visibility is
// decided in SQL (`visibleTo`), never by filtering rows after the fact.
import type { Queryable } from '../db/pool.js'
import { iso } from '../db/sql.js'
import type { Appeal, AppealStatus, ListAppealsQuery, StaffAppeal } from '../schemas/appeal.js'

/** An appeal as stored: the API shape plus what only staff and the service see. */
export interface AppealRow extends Appeal {
  seq: number
  organisationId: string
  publishRequestedAt: string | null
  withdrawalReason: string | null
  sensitive: boolean
  approval: StaffAppeal['approval']
  /** Who made the current version's content: an actor reference (`key:<uuid>` or `person:<uuid>`), null before migration 010. */
  contentBy: string | null
}

/**
 * The display name behind an actor reference column (`key:<uuid>` or
 * `person:<uuid>`, src/auth/api-keys.ts actorRef): an API key's name, or
 * a person's display name (null when they gave none: their address is not
 * a name to show). Every place that names who acted resolves it here.
 */
const actorName = (ref: string) =>
  `CASE WHEN ${ref} LIKE 'key:%' THEN (SELECT k.name FROM api_keys k WHERE k.id = substr(${ref}, 5)::uuid)
        WHEN ${ref} LIKE 'person:%' THEN (SELECT nullif(p.display_name, '') FROM people p WHERE p.id = substr(${ref}, 8)::uuid) END`

/** An actor reference column as `{ kind, id, name }` (schemas/appeal.ts ActorRef). */
const actorJson = (ref: string) =>
  `json_build_object('kind', split_part(${ref}, ':', 1), 'id', split_part(${ref}, ':', 2), 'name', ${actorName(ref)})`

/** Who is reading: the public (and partners), one organisation's editors, or an admin. */
export type Visibility = { kind: 'public' } | { kind: 'organisation'; organisationId: string } | { kind: 'all' }

const SELECT = `
  SELECT a.id, a.seq, a.organisation_id AS "organisationId", a.reference, a.status, a.version, a.language,
    a.title, a.summary, a.body, a.urgency, a.countries, a.subdivisions, a.themes,
    a.people_at_risk AS "peopleAtRisk", a.targets, a.asks, a.legal_basis AS "legalBasis",
    a.action_deadline::text AS "actionDeadline", ${iso('a.embargo_until')} AS "embargoUntil",
    ${iso('a.publish_requested_at')} AS "publishRequestedAt",
    CASE WHEN a.status = 'draft' AND a.publish_requested_at IS NOT NULL
         THEN ${iso('greatest(a.embargo_until, a.publish_requested_at)')} END AS "scheduledPublishAt",
    a.sources, a.outcome, a.withdrawal_reason AS "withdrawalReason",
    a.sensitive, a.content_by AS "contentBy",
    CASE WHEN a.approved_by IS NOT NULL THEN json_build_object('approvedBy', ${actorJson('a.approved_by')},
      'approvedAt', ${iso('a.approved_at')}, 'version', a.approved_version) END AS approval,
    ${iso('a.created_at')} AS "createdAt", ${iso('a.updated_at')} AS "updatedAt",
    ${iso('a.published_at')} AS "publishedAt", ${iso('a.closed_at')} AS "closedAt",
    coalesce((SELECT json_agg(json_build_object('language', t.language, 'title', t.title, 'summary', t.summary,
        'body', t.body, 'asks', t.asks, 'updatedAt', ${iso('t.updated_at')}) ORDER BY t.language)
      FROM appeal_translations t WHERE t.appeal_id = a.id), '[]') AS translations,
    coalesce((SELECT json_agg(json_build_object('number', u.number, 'body', u.body,
        'publishedAt', ${iso('u.published_at')}) ORDER BY u.number)
      FROM appeal_updates u WHERE u.appeal_id = a.id), '[]') AS updates
  FROM appeals a`

/**
 * SQL condition for what a reader may see, over two parameters starting at
 * `$first`: the visibility kind and the reader's organisation.
 */
function visibleTo(first: number): string {
  return `CASE $${first}::text
    WHEN 'all' THEN true
    WHEN 'organisation' THEN a.status IN ('published', 'closed') OR a.organisation_id = $${first + 1}::uuid
    ELSE a.status IN ('published', 'closed') END`
}
const visibilityParams = (v: Visibility) => [v.kind, v.kind === 'organisation' ? v.organisationId : null]

export async function findAppeal(db: Queryable, id: string, v: Visibility, opts: { forUpdate?: boolean } = {}): Promise<AppealRow | null> {
  const { rows } = await db.query<AppealRow>(
    `${SELECT} WHERE a.id = $1 AND (${visibleTo(2)}) ${opts.forUpdate ? 'FOR UPDATE OF a' : ''}`,
    [id, ...visibilityParams(v)])
  return rows[0] ?? null
}

/**
 * Whether an appeal the public cannot read was public once and has been
 * withdrawn: a page answers 410 rather than 404 (a withdrawn draft was
 * never public, so it stays unknown). Says nothing else about it.
 */
export async function wasWithdrawnFromPublic(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `SELECT 1 FROM appeals WHERE id = $1 AND status = 'withdrawn' AND published_at IS NOT NULL`, [id])
  return (rowCount ?? 0) > 0
}

/**
 * Full-text match of `$10` against one language version (`a` or `t`): in its
 * language's configuration, or — when that leaves nothing to search (only
 * stop words) — word for word. One query per version, never an OR of both,
 * so that `-word` excludes in every form.
 */
const matches = (alias: string) => `(CASE WHEN numnode(websearch_to_tsquery(ua_ts_config(${alias}.language), $10)) > 0
    THEN ${alias}.search @@ websearch_to_tsquery(ua_ts_config(${alias}.language), $10)
    ELSE ${alias}.search @@ websearch_to_tsquery('simple', $10) END)`

export async function listAppeals(db: Queryable, v: Visibility, q: ListAppealsQuery & { limit: number }, beforeSeq?: number): Promise<AppealRow[]> {
  const { rows } = await db.query<AppealRow>(
    `${SELECT}
      WHERE (${visibleTo(2)})
        AND ($4::bigint IS NULL OR a.seq < $4)
        AND ($5::text IS NULL OR a.status = $5)
        AND ($6::text IS NULL OR a.countries @> ARRAY[$6::text])
        AND ($7::text IS NULL OR a.themes @> ARRAY[$7::text])
        AND ($8::text IS NULL OR a.urgency = $8)
        AND ($9::text IS NULL OR a.language = $9 OR a.language LIKE $9 || '-%'
             OR EXISTS (SELECT 1 FROM appeal_translations t WHERE t.appeal_id = a.id
                          AND (t.language = $9 OR t.language LIKE $9 || '-%')))
        AND ($10::text IS NULL OR ${matches('a')}
             OR EXISTS (SELECT 1 FROM appeal_translations t WHERE t.appeal_id = a.id AND ${matches('t')}))
        AND ($11::timestamptz IS NULL OR a.updated_at >= $11)
      ORDER BY a.seq DESC LIMIT $1`,
    [q.limit + 1, ...visibilityParams(v), beforeSeq ?? null, q.status ?? null, q.country ?? null, q.theme ?? null,
      q.urgency ?? null, q.language ?? null, q.q ?? null, q.updatedSince ?? null])
  return rows
}

/** The feeds: published and closed appeals, the most recently changed first, with the public list's filters. */
export async function listPublicByChange(
  db: Queryable, q: Pick<ListAppealsQuery, 'status' | 'country' | 'theme' | 'urgency'>, limit: number,
): Promise<AppealRow[]> {
  const { rows } = await db.query<AppealRow>(
    `${SELECT}
      WHERE (${visibleTo(2)})
        AND ($4::text IS NULL OR a.status = $4)
        AND ($5::text IS NULL OR a.countries @> ARRAY[$5::text])
        AND ($6::text IS NULL OR a.themes @> ARRAY[$6::text])
        AND ($7::text IS NULL OR a.urgency = $7)
      ORDER BY a.updated_at DESC, a.seq DESC LIMIT $1`,
    [limit, ...visibilityParams({ kind: 'public' }), q.status ?? null, q.country ?? null, q.theme ?? null, q.urgency ?? null])
  return rows
}

/** Columns an editor can write, mapped from API names. */
const WRITABLE: Record<string, { column: string; json?: boolean; cast?: string }> = {
  reference: { column: 'reference' },
  language: { column: 'language' },
  title: { column: 'title' },
  summary: { column: 'summary' },
  body: { column: 'body' },
  urgency: { column: 'urgency' },
  countries: { column: 'countries' },
  subdivisions: { column: 'subdivisions' },
  themes: { column: 'themes' },
  peopleAtRisk: { column: 'people_at_risk', json: true },
  targets: { column: 'targets', json: true },
  asks: { column: 'asks' },
  legalBasis: { column: 'legal_basis' },
  sources: { column: 'sources', json: true },
  actionDeadline: { column: 'action_deadline', cast: 'date' },
  embargoUntil: { column: 'embargo_until', cast: 'timestamptz' },
  sensitive: { column: 'sensitive' },
}

function writableValue(field: string, value: unknown): unknown {
  return WRITABLE[field]?.json ? JSON.stringify(value) : value
}

/** `contentBy`: the actor reference of whoever wrote it (they may not approve it). */
export async function insertAppeal(db: Queryable, organisationId: string, contentBy: string, fields: Record<string, unknown>): Promise<string> {
  const names = Object.keys(fields).filter((f) => f in WRITABLE && fields[f] !== undefined)
  const columns = ['organisation_id', 'content_by', ...names.map((f) => WRITABLE[f]!.column)]
  const values = [organisationId, contentBy, ...names.map((f) => writableValue(f, fields[f]))]
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO appeals (${columns.join(', ')}) VALUES (${values.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`,
    values)
  return rows[0]!.id
}

/** Applies field changes and lifecycle columns, bumping version and updated_at. */
export async function updateAppeal(db: Queryable, id: string, fields: Record<string, unknown>): Promise<void> {
  const sets: string[] = ['version = version + 1', 'updated_at = now()']
  const values: unknown[] = [id]
  for (const [field, value] of Object.entries(fields)) {
    const w = WRITABLE[field]
    if (!w || value === undefined) continue
    values.push(writableValue(field, value))
    sets.push(`${w.column} = $${values.length}${w.cast ? `::${w.cast}` : ''}`)
  }
  await db.query(`UPDATE appeals SET ${sets.join(', ')} WHERE id = $1`, values)
}

/**
 * What a change does to the two-person rule, in the change's transaction:
 * `contentBy` records who made the content being written (null: the
 * content did not change); `voidApproval` clears the approval;
 * `unschedule` cancels a requested publish that would now go out without
 * the approval it needs. No new version: the change itself made one.
 */
export async function settleApproval(
  db: Queryable, id: string, c: { contentBy: string | null; voidApproval: boolean; unschedule: boolean },
): Promise<void> {
  await db.query(
    `UPDATE appeals SET content_by = coalesce($2, content_by),
            approved_by = CASE WHEN $3 THEN NULL ELSE approved_by END,
            approved_at = CASE WHEN $3 THEN NULL ELSE approved_at END,
            approved_version = CASE WHEN $3 THEN NULL ELSE approved_version END,
            publish_requested_at = CASE WHEN $4 THEN NULL ELSE publish_requested_at END
      WHERE id = $1`, [id, c.contentBy, c.voidApproval, c.unschedule])
}

/**
 * Records an approval of `version` by `approvedBy`. Not a new version: an
 * approval is a judgment about a version, not a change of its content.
 */
export async function setApproval(db: Queryable, id: string, approvedBy: string, version: number): Promise<void> {
  await db.query(
    'UPDATE appeals SET approved_by = $2, approved_at = now(), approved_version = $3 WHERE id = $1', [id, approvedBy, version])
}

/** A publish asked for while the embargo holds: the release job publishes it when the embargo lifts. */
export async function requestPublish(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE appeals SET publish_requested_at = now(), version = version + 1, updated_at = now() WHERE id = $1', [id])
}

export async function setPublished(db: Queryable, id: string): Promise<void> {
  await db.query(
    `UPDATE appeals SET status = 'published', published_at = now(), publish_requested_at = NULL,
            version = version + 1, updated_at = now() WHERE id = $1`, [id])
}

export async function setOutcome(db: Queryable, id: string, outcome: { code: string; note?: string }): Promise<void> {
  await db.query(
    `UPDATE appeals SET status = 'closed', closed_at = now(), version = version + 1, updated_at = now(),
            outcome = jsonb_build_object('code', $2::text, 'at', ${iso('now()')})
                      || CASE WHEN $3::text IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('note', $3::text) END
      WHERE id = $1`, [id, outcome.code, outcome.note ?? null])
}

export async function setWithdrawn(db: Queryable, id: string, reason: string): Promise<void> {
  await db.query(
    `UPDATE appeals SET status = 'withdrawn', withdrawn_at = now(), withdrawal_reason = $2,
            publish_requested_at = NULL, version = version + 1, updated_at = now() WHERE id = $1`, [id, reason])
}

export async function upsertTranslation(
  db: Queryable, appealId: string, language: string, t: { title: string; summary: string; body: string; asks: string[] },
): Promise<void> {
  await db.query(
    `INSERT INTO appeal_translations (appeal_id, language, title, summary, body, asks)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (appeal_id, language) DO UPDATE
       SET title = EXCLUDED.title, summary = EXCLUDED.summary, body = EXCLUDED.body,
           asks = EXCLUDED.asks, updated_at = now()`,
    [appealId, language, t.title, t.summary, t.body, t.asks])
}

export async function appendFollowUp(db: Queryable, appealId: string, body: string): Promise<number> {
  const { rows } = await db.query<{ number: number }>(
    `INSERT INTO appeal_updates (appeal_id, number, body)
     SELECT $1, coalesce(max(number), 0) + 1, $2 FROM appeal_updates WHERE appeal_id = $1
     RETURNING number`, [appealId, body])
  return rows[0]!.number
}

/**
 * The organisation's next `UA nnn/yy` for the year; its counter row lock
 * serialises concurrent creates. References are unique per organisation, so
 * only its own appeals can hold a number up.
 */
export async function nextReference(db: Queryable, organisationId: string, year: number): Promise<string> {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const { rows } = await db.query<{ last: number }>(
      `INSERT INTO reference_counters (organisation_id, year, last) VALUES ($1, $2, 1)
       ON CONFLICT (organisation_id, year) DO UPDATE SET last = reference_counters.last + 1 RETURNING last`, [organisationId, year])
    const reference = `UA ${String(rows[0]!.last).padStart(3, '0')}/${String(year % 100).padStart(2, '0')}`
    const taken = await db.query('SELECT 1 FROM appeals WHERE organisation_id = $1 AND reference = $2', [organisationId, reference])
    if (taken.rowCount === 0) return reference // skip numbers an editor chose by hand
  }
  throw new Error('no free appeal reference in 1000 tries')
}

/** Drafts whose publish was requested and whose embargo has lifted, locked for release. */
export async function claimDueScheduled(db: Queryable, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM appeals
      WHERE status = 'draft' AND publish_requested_at IS NOT NULL
        AND (embargo_until IS NULL OR embargo_until <= now())
      ORDER BY embargo_until NULLS FIRST LIMIT $1 FOR UPDATE SKIP LOCKED`, [limit])
  return rows.map((r) => r.id)
}

export type { AppealStatus }
