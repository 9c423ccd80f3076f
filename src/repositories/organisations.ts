// SQL for organisations.
import type { Queryable } from '../db/pool.js'
import { iso } from '../db/sql.js'

export interface OrganisationRow {
  id: string
  seq: number
  name: string
  kind: 'ngo' | 'partner'
  contactEmail: string | null
  language: string
  approvalPolicy: ApprovalPolicy
  createdAt: string
}

/** Which appeals need a second person's approval to be published (contract §3). */
export type ApprovalPolicy = 'none' | 'sensitive' | 'all'

const COLUMNS = `id, seq, name, kind, contact_email AS "contactEmail", language, approval_policy AS "approvalPolicy",
  ${iso('created_at')} AS "createdAt"`

/**
 * Names are unique regardless of case ("Amnesty" and "amnesty" are one
 * organisation). Call inside a transaction: a transaction-scoped advisory
 * lock on the folded name serialises concurrent creations of the same name.
 * Returns null when the name is taken.
 */
export async function insertOrganisation(db: Queryable, o: { name: string; kind: string; contactEmail: string | null; language?: string }): Promise<OrganisationRow | null> {
  await db.query(`SELECT pg_advisory_xact_lock(hashtext('organisation-name:' || lower($1)))`, [o.name])
  const { rows } = await db.query<OrganisationRow>(
    `INSERT INTO organisations (name, kind, contact_email, language)
     SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM organisations WHERE lower(name) = lower($1))
     ON CONFLICT (name) DO NOTHING RETURNING ${COLUMNS}`, [o.name, o.kind, o.contactEmail, o.language ?? 'en'])
  return rows[0] ?? null
}

/** Changes the contact address, the language and/or the approval policy; null when there is no such organisation. */
export async function updateOrganisation(
  db: Queryable, id: string, p: { contactEmail?: string; language?: string; approvalPolicy?: ApprovalPolicy },
): Promise<OrganisationRow | null> {
  const { rows } = await db.query<OrganisationRow>(
    `UPDATE organisations SET contact_email = coalesce($2, contact_email), language = coalesce($3, language),
            approval_policy = coalesce($4, approval_policy)
      WHERE id = $1 RETURNING ${COLUMNS}`, [id, p.contactEmail ?? null, p.language ?? null, p.approvalPolicy ?? null])
  return rows[0] ?? null
}

/** The organisation's approval policy, read in the caller's transaction. */
export async function approvalPolicyOf(db: Queryable, id: string): Promise<ApprovalPolicy> {
  const { rows } = await db.query<{ approvalPolicy: ApprovalPolicy }>(
    'SELECT approval_policy AS "approvalPolicy" FROM organisations WHERE id = $1', [id])
  return rows[0]?.approvalPolicy ?? 'sensitive'
}

/** By name, regardless of case (see insertOrganisation). */
export async function findOrganisationByName(db: Queryable, name: string): Promise<OrganisationRow | null> {
  const { rows } = await db.query<OrganisationRow>(
    `SELECT ${COLUMNS} FROM organisations WHERE lower(name) = lower($1) ORDER BY name = $1 DESC, seq LIMIT 1`, [name])
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
