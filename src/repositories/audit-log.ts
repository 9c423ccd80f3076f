// SQL for the append-only audit log: who did what, when, to which resource.
import type { Queryable } from '../db/pool.js'
import { iso } from '../db/sql.js'
import type { Actor } from '../auth/api-keys.js'

export interface AuditEntry {
  id: number
  at: string
  organisationId: string | null
  apiKeyId: string | null
  /** The person signed in to the console who acted (contract §9); null for keys and the CLI. */
  personId: string | null
  actorRole: string | null
  action: string
  resourceType: string
  resourceId: string | null
  details: Record<string, unknown>
}

/** `actor` is null for operator actions from the CLI. Call inside the change's transaction. */
export async function recordAudit(
  db: Queryable, actor: Actor | null, action: string, resourceType: string, resourceId: string | null,
  details: Record<string, unknown> = {},
): Promise<void> {
  await db.query(
    `INSERT INTO audit_log (organisation_id, api_key_id, person_id, actor_role, action, resource_type, resource_id, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [actor?.organisationId ?? null, actor?.keyId ?? null, actor?.personId ?? null, actor?.role ?? 'operator', action, resourceType, resourceId, details])
}

/** Who acted when the service itself writes an entry (e.g. a deliverability warning): no person, no key. */
export const SERVICE_ROLE = 'service'

/** An entry the service writes on its own, about a resource of `organisationId`. Call inside the transaction that saw it happen. */
export async function recordServiceAudit(
  db: Queryable, organisationId: string | null, action: string, resourceType: string, resourceId: string | null,
  details: Record<string, unknown> = {},
): Promise<void> {
  await db.query(
    `INSERT INTO audit_log (organisation_id, actor_role, action, resource_type, resource_id, details) VALUES ($1, $2, $3, $4, $5, $6)`,
    [organisationId, SERVICE_ROLE, action, resourceType, resourceId, details])
}

export interface AuditFilter {
  resourceType?: string
  resourceId?: string
  organisationId?: string
  action?: string
}

export async function listAudit(db: Queryable, limit: number, beforeId: number | undefined, f: AuditFilter): Promise<AuditEntry[]> {
  const { rows } = await db.query<AuditEntry>(
    `SELECT id, ${iso('at')} AS at, organisation_id AS "organisationId", api_key_id AS "apiKeyId", person_id AS "personId",
            actor_role AS "actorRole", action, resource_type AS "resourceType", resource_id AS "resourceId", details
       FROM audit_log
      WHERE ($2::bigint IS NULL OR id < $2)
        AND ($3::text IS NULL OR resource_type = $3)
        AND ($4::text IS NULL OR resource_id = $4)
        AND ($5::uuid IS NULL OR organisation_id = $5)
        AND ($6::text IS NULL OR action = $6)
      ORDER BY id DESC LIMIT $1`,
    [limit + 1, beforeId ?? null, f.resourceType ?? null, f.resourceId ?? null, f.organisationId ?? null, f.action ?? null])
  return rows
}
