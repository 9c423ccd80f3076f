// SQL the feeds need beyond the appeal reads (repositories/appeals.ts):
// when anything public last changed, and an appeal's CAP messages — its
// lifecycle events from the outbox — read in one statement with the
// appeal's status, so that one snapshot decides both.
import type { Queryable } from '../db/pool.js'
import { iso } from '../db/sql.js'
import type { CapMessageRef, CapSnapshot } from '../feeds/cap.js'
import type { AppealStatus } from '../schemas/appeal.js'

/**
 * The last change to any appeal that was ever public — published, closed
 * or withdrawn since — whatever a feed's filters: a change that moves an
 * appeal out of a filtered feed, or withdraws it, must still move that
 * feed's Last-Modified forward. Drafts are left out: their edits are
 * nobody's business.
 */
export async function lastPublicChange(db: Queryable): Promise<string | null> {
  const { rows } = await db.query<{ at: string | null }>(
    `SELECT ${iso('max(updated_at)')} AS at FROM appeals WHERE published_at IS NOT NULL`)
  return rows[0]?.at ?? null
}

export interface CapHistory {
  status: AppealStatus
  /** Was ever published (a withdrawn draft never was). */
  wasPublished: boolean
  updatedAt: string
  messages: CapMessageRef[]
  snapshot: CapSnapshot
}

const MESSAGES = `coalesce((SELECT json_agg(json_build_object('identifier', e.id, 'type', e.type, 'timestamp', e.payload->>'timestamp') ORDER BY e.position)
    FROM events e WHERE e.appeal_id = a.id AND e.type = ANY($2::text[])), '[]')`

/** `types`: the event types that are CAP messages (feeds/cap.ts). */
export async function capHistory(db: Queryable, appealId: string, types: readonly string[]): Promise<CapHistory | null> {
  const { rows } = await db.query<CapHistory>(
    `SELECT a.status, a.published_at IS NOT NULL AS "wasPublished", ${iso('a.updated_at')} AS "updatedAt",
            ${MESSAGES} AS messages,
            coalesce((SELECT e.payload->'data' FROM events e WHERE e.appeal_id = a.id AND e.type = ANY($2::text[])
                       ORDER BY e.position DESC LIMIT 1), '{}') AS snapshot
       FROM appeals a WHERE a.id = $1`, [appealId, types])
  return rows[0] ?? null
}

export interface CapIndexRow {
  appealId: string
  /** A withdrawn appeal is listed by its Cancel alone: nothing else of it is read. */
  withdrawn: boolean
  /** The current message and the first one (the Alert). */
  latest: CapMessageRef
  first: CapMessageRef
  msgCount: number
  /** Null for a withdrawn appeal. */
  title: string | null
  language: string | null
  urgency: string | null
}

/**
 * Published and closed appeals with their current CAP message, and appeals
 * withdrawn after being public with their Cancel (so that an aggregator
 * that carried the Alert learns to retract it) — their title and language
 * are not read. The newest message first.
 */
export async function capIndex(db: Queryable, types: readonly string[], limit: number): Promise<CapIndexRow[]> {
  const { rows } = await db.query<CapIndexRow>(
    `SELECT a.id AS "appealId", a.status = 'withdrawn' AS withdrawn,
            CASE WHEN a.status <> 'withdrawn' THEN a.title END AS title,
            CASE WHEN a.status <> 'withdrawn' THEN a.language END AS language,
            CASE WHEN a.status <> 'withdrawn' THEN a.urgency END AS urgency,
            json_build_object('identifier', m.last_id, 'type', m.last_type, 'timestamp', m.last_at) AS latest,
            json_build_object('identifier', m.first_id, 'type', m.first_type, 'timestamp', m.first_at) AS first,
            m.count AS "msgCount"
       FROM appeals a
       CROSS JOIN LATERAL (
         SELECT (array_agg(e.id ORDER BY e.position DESC))[1] AS last_id,
                (array_agg(e.type ORDER BY e.position DESC))[1] AS last_type,
                (array_agg(e.payload->>'timestamp' ORDER BY e.position DESC))[1] AS last_at,
                max(e.position) AS last_position,
                (array_agg(e.id ORDER BY e.position))[1] AS first_id,
                (array_agg(e.type ORDER BY e.position))[1] AS first_type,
                (array_agg(e.payload->>'timestamp' ORDER BY e.position))[1] AS first_at,
                count(*)::int AS count
           FROM events e WHERE e.appeal_id = a.id AND e.type = ANY($2::text[])) m
      WHERE (a.status IN ('published', 'closed') OR (a.status = 'withdrawn' AND a.published_at IS NOT NULL)) AND m.count > 0
      ORDER BY m.last_position DESC LIMIT $1`, [limit, types])
  return rows
}
