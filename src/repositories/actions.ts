// SQL for "I took action" counts (contract §8, migration 009): per appeal,
// per UTC day, per source. Counts only — nothing about who acted.
import type { Queryable } from '../db/pool.js'

/** Every action taken on the appeal: the public button and the organisations' reports, all days. */
export async function actionsTaken(db: Queryable, appealId: string): Promise<number> {
  const { rows } = await db.query<{ total: number }>(
    'SELECT coalesce(sum(count), 0)::bigint AS total FROM appeal_actions WHERE appeal_id = $1', [appealId])
  return rows[0]!.total
}
