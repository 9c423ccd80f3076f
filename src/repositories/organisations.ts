// SQL for organisations.
import type { Queryable } from '../db/pool.js'
import { iso } from '../db/sql.js'

export interface OrganisationRow {
  id: string
  seq: number
  name: string
  kind: 'ngo' | 'partner'
  contactEmail: string | null
  createdAt: string
}

const COLUMNS = `id, seq, name, kind, contact_email AS "contactEmail", ${iso('created_at')} AS "createdAt"`

export async function insertOrganisation(db: Queryable, o: { name: string; kind: string; contactEmail: string | null }): Promise<OrganisationRow | null> {
  const { rows } = await db.query<OrganisationRow>(
    `INSERT INTO organisations (name, kind, contact_email) VALUES ($1, $2, $3)
     ON CONFLICT (name) DO NOTHING RETURNING ${COLUMNS}`, [o.name, o.kind, o.contactEmail])
  return rows[0] ?? null
}

export async function findOrganisationByName(db: Queryable, name: string): Promise<OrganisationRow | null> {
  const { rows } = await db.query<OrganisationRow>(`SELECT ${COLUMNS} FROM organisations WHERE name = $1`, [name])
  return rows[0] ?? null
}

export async function findOrganisation(db: Queryable, id: string): Promise<OrganisationRow | null> {
  const { rows } = await db.query<OrganisationRow>(`SELECT ${COLUMNS} FROM organisations WHERE id = $1`, [id])
  return rows[0] ?? null
}

/** Newest first, `limit + 1` rows from below the cursor. */
export async function listOrganisations(db: Queryable, limit: number, beforeSeq?: number): Promise<OrganisationRow[]> {
  const { rows } = await db.query<OrganisationRow>(
    `SELECT ${COLUMNS} FROM organisations WHERE $2::bigint IS NULL OR seq < $2
      ORDER BY seq DESC LIMIT $1`, [limit + 1, beforeSeq ?? null])
  return rows
}
