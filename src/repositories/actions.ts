// SQL for "I took action" counts (contract §8, migration 009): per appeal,
// per UTC day, per source. Counts only — nothing about who acted. Staff
// reads of the counts are scoped to the owning organisation here, in SQL.
import type { Queryable } from '../db/pool.js'
import type { Visibility } from './appeals.js'

/** Where actions come from: the public button, or an organisation reporting its own supporters' actions. */
export type ActionSource = { kind: 'public' } | { kind: 'organisation'; organisationId: string }

/** Every action taken on the appeal: the public button and the organisations' reports, all days. */
export async function actionsTaken(db: Queryable, appealId: string): Promise<number> {
  const { rows } = await db.query<{ total: number }>(
    'SELECT coalesce(sum(count), 0)::bigint AS total FROM appeal_actions WHERE appeal_id = $1', [appealId])
  return rows[0]!.total
}

/**
 * Adds `count` actions of `source` to today's (UTC) row of the appeal, if the
 * appeal's status is one of `statuses` — checked in the same statement, so
 * nothing is counted for an appeal that is not (or no longer) open to it.
 * Returns the appeal's status (null: no such appeal) and, when counted, its
 * new total; nothing is counted when the status is not accepted.
 */
export async function addActions(
  db: Queryable, appealId: string, source: ActionSource, count: number, statuses: readonly string[],
): Promise<{ status: string | null; total: number | null }> {
  const { rows } = await db.query<{ status: string | null; total: number | null }>(
    `WITH appeal AS (SELECT id, status FROM appeals WHERE id = $1),
     added AS (
       INSERT INTO appeal_actions AS x (appeal_id, day, source, organisation_id, count)
       SELECT id, (now() AT TIME ZONE 'UTC')::date, $2::text, $3::uuid, $4::bigint FROM appeal WHERE status = ANY($5::text[])
       ON CONFLICT ON CONSTRAINT appeal_actions_key DO UPDATE SET count = x.count + EXCLUDED.count
       RETURNING x.count)
     SELECT (SELECT status FROM appeal) AS status,
            CASE WHEN EXISTS (SELECT 1 FROM added)
                 -- the statement's snapshot does not see its own insert: the total before it, plus this count
                 THEN (SELECT coalesce(sum(count), 0) FROM appeal_actions WHERE appeal_id = $1)::bigint + $4::bigint END AS total`,
    [appealId, source.kind, source.kind === 'organisation' ? source.organisationId : null, count, statuses])
  return rows[0]!
}

/**
 * Totals of the given appeals that the reader may see counts of: staff see
 * their own organisation's appeals (admins every appeal); the public none.
 * An appeal missing from the map is not theirs (or does not exist).
 */
export async function actionsTakenOf(db: Queryable, appealIds: readonly string[], v: Visibility): Promise<Map<string, number>> {
  if (v.kind === 'public' || appealIds.length === 0) return new Map()
  const { rows } = await db.query<{ id: string; total: number }>(
    `SELECT a.id, coalesce((SELECT sum(x.count) FROM appeal_actions x WHERE x.appeal_id = a.id), 0)::bigint AS total
       FROM appeals a
      WHERE a.id = ANY($1::uuid[]) AND ($2::text = 'all' OR a.organisation_id = $3::uuid)`,
    [appealIds, v.kind, v.kind === 'organisation' ? v.organisationId : null])
  return new Map(rows.map((r) => [r.id, r.total]))
}

export interface ActionDay {
  /** UTC day, YYYY-MM-DD. */
  date: string
  public: number
  organisations: number
}

/** The appeal's counts per UTC day (days with actions only, oldest first), split by source. */
export async function actionsByDay(db: Queryable, appealId: string): Promise<ActionDay[]> {
  const { rows } = await db.query<ActionDay>(
    `SELECT to_char(day, 'YYYY-MM-DD') AS date,
            coalesce(sum(count) FILTER (WHERE source = 'public'), 0)::bigint AS public,
            coalesce(sum(count) FILTER (WHERE source = 'organisation'), 0)::bigint AS organisations
       FROM appeal_actions WHERE appeal_id = $1 GROUP BY day ORDER BY day`, [appealId])
  return rows
}
