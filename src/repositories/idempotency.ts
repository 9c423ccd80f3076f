// SQL for Idempotency-Key records: claimed before the action runs, completed
// with the response it produced, forgotten after 24 hours.
import type { Queryable } from '../db/pool.js'

export interface IdempotencyRecord {
  requestHash: string
  responseStatus: number | null
  responseBody: string | null
  responseHeaders: Record<string, string> | null
  ageSeconds: number
}

/** Claims (apiKeyId, key); returns null when claimed now, else the existing record. */
export async function claimIdempotencyKey(
  db: Queryable, k: { apiKeyId: string; key: string; method: string; path: string; requestHash: string },
): Promise<IdempotencyRecord | null> {
  await db.query(
    `DELETE FROM idempotency_keys WHERE api_key_id = $1 AND key = $2 AND created_at < now() - interval '24 hours'`,
    [k.apiKeyId, k.key])
  const inserted = await db.query(
    `INSERT INTO idempotency_keys (api_key_id, key, method, path, request_hash) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT DO NOTHING`, [k.apiKeyId, k.key, k.method, k.path, k.requestHash])
  if (inserted.rowCount === 1) return null
  const { rows } = await db.query<IdempotencyRecord>(
    `SELECT request_hash AS "requestHash", response_status AS "responseStatus", response_body AS "responseBody",
            response_headers AS "responseHeaders", extract(epoch FROM now() - created_at)::int AS "ageSeconds"
       FROM idempotency_keys WHERE api_key_id = $1 AND key = $2`, [k.apiKeyId, k.key])
  return rows[0] ?? null
}

/** An abandoned claim (the process died mid-request) may be taken over. */
export async function reclaimIdempotencyKey(db: Queryable, apiKeyId: string, key: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE idempotency_keys SET created_at = now()
      WHERE api_key_id = $1 AND key = $2 AND response_status IS NULL AND created_at < now() - interval '60 seconds'`,
    [apiKeyId, key])
  return rowCount === 1
}

export async function completeIdempotencyKey(
  db: Queryable, apiKeyId: string, key: string, r: { status: number; body: string; headers: Record<string, string> },
): Promise<void> {
  await db.query(
    `UPDATE idempotency_keys SET response_status = $3, response_body = $4, response_headers = $5
      WHERE api_key_id = $1 AND key = $2`, [apiKeyId, key, r.status, r.body, r.headers])
}

export async function releaseIdempotencyKey(db: Queryable, apiKeyId: string, key: string): Promise<void> {
  await db.query('DELETE FROM idempotency_keys WHERE api_key_id = $1 AND key = $2 AND response_status IS NULL', [apiKeyId, key])
}

export async function purgeExpiredIdempotencyKeys(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(`DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'`)
  return rowCount ?? 0
}
