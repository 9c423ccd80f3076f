// SQL for API keys. Secrets never leave this module except as hashes.
import type { Queryable } from '../db/pool.js'
import { iso } from '../db/sql.js'
import type { Role } from '../auth/api-keys.js'

export interface ApiKeyRow {
  id: string
  seq: number
  organisationId: string
  role: Role
  name: string
  prefix: string
  createdAt: string
  lastUsedAt: string | null
  revokedAt: string | null
}

const COLUMNS = `id, seq, organisation_id AS "organisationId", role, name, prefix,
  ${iso('created_at')} AS "createdAt", ${iso('last_used_at')} AS "lastUsedAt", ${iso('revoked_at')} AS "revokedAt"`

export async function insertApiKey(db: Queryable, k: { organisationId: string; role: Role; name: string; prefix: string; secretHash: Buffer }): Promise<ApiKeyRow> {
  const { rows } = await db.query<ApiKeyRow>(
    `INSERT INTO api_keys (organisation_id, role, name, prefix, secret_hash)
     VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
    [k.organisationId, k.role, k.name, k.prefix, k.secretHash])
  return rows[0]!
}

/** The key behind a prefix, if it is not revoked, with its hash to compare. */
export async function findActiveKeyByPrefix(db: Queryable, prefix: string): Promise<(ApiKeyRow & { secretHash: Buffer }) | null> {
  const { rows } = await db.query<ApiKeyRow & { secretHash: Buffer }>(
    `SELECT ${COLUMNS}, secret_hash AS "secretHash" FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL`, [prefix])
  return rows[0] ?? null
}

/** Records use at most once a minute per key, so reads stay cheap. */
export async function touchApiKey(db: Queryable, id: string): Promise<void> {
  await db.query(
    `UPDATE api_keys SET last_used_at = now()
      WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, [id])
}

export async function listApiKeys(db: Queryable, limit: number, beforeSeq?: number): Promise<ApiKeyRow[]> {
  const { rows } = await db.query<ApiKeyRow>(
    `SELECT ${COLUMNS} FROM api_keys WHERE $2::bigint IS NULL OR seq < $2
      ORDER BY seq DESC LIMIT $1`, [limit + 1, beforeSeq ?? null])
  return rows
}

/**
 * Revokes a key. `revokedNow` is false when it was already revoked (the first
 * revocation time stays); null when no key has this id.
 */
export async function revokeApiKey(db: Queryable, id: string): Promise<{ row: ApiKeyRow; revokedNow: boolean } | null> {
  const updated = await db.query<ApiKeyRow>(
    `UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING ${COLUMNS}`, [id])
  if (updated.rows[0]) return { row: updated.rows[0], revokedNow: true }
  const { rows } = await db.query<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [id])
  return rows[0] ? { row: rows[0], revokedNow: false } : null
}

/** One key by id, revoked or not (never its secret's hash). */
export async function findApiKey(db: Queryable, id: string): Promise<ApiKeyRow | null> {
  const { rows } = await db.query<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [id])
  return rows[0] ?? null
}
