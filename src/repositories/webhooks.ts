// SQL for partner webhook endpoints and their delivery log. Every read and
// write is scoped by organisation in SQL (`$n::uuid IS NULL` only for
// admins): another organisation's endpoint is simply not found.
import type { Queryable } from '../db/pool.js'
import { iso } from '../db/sql.js'
import { closeUnsent } from './deliveries.js'

/** null = every organisation (admin). */
export type Scope = { organisationId: string | null }

export interface EndpointRow {
  id: string
  seq: number
  organisationId: string
  url: string
  description: string | null
  eventTypes: string[]
  countries: string[]
  themes: string[]
  minUrgency: 'critical' | 'high' | 'normal' | null
  status: 'active' | 'disabled'
  disabledReason: 'gone' | 'failing' | null
  disabledAt: string | null
  failingSince: string | null
  previousSecretExpiresAt: string | null
  version: number
  createdAt: string
  updatedAt: string
}

const COLUMNS = `w.id, w.seq, w.organisation_id AS "organisationId", w.url, w.description, w.event_types AS "eventTypes",
  w.countries, w.themes, w.min_urgency AS "minUrgency", w.status, w.disabled_reason AS "disabledReason",
  ${iso('w.disabled_at')} AS "disabledAt", ${iso('w.failing_since')} AS "failingSince",
  CASE WHEN w.secret_previous_expires_at > now() THEN ${iso('w.secret_previous_expires_at')} END AS "previousSecretExpiresAt",
  w.version, ${iso('w.created_at')} AS "createdAt", ${iso('w.updated_at')} AS "updatedAt"`

const inScope = (param: number) => `($${param}::uuid IS NULL OR w.organisation_id = $${param})`

export interface NewEndpoint {
  id: string
  organisationId: string
  url: string
  description: string | null
  eventTypes: string[]
  countries: string[]
  themes: string[]
  minUrgency: string | null
  secretCurrent: Buffer
}

export async function insertEndpoint(db: Queryable, e: NewEndpoint): Promise<EndpointRow> {
  const { rows } = await db.query<EndpointRow>(
    `INSERT INTO webhook_endpoints AS w (id, organisation_id, url, description, event_types, countries, themes, min_urgency, secret_current)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${COLUMNS}`,
    [e.id, e.organisationId, e.url, e.description, e.eventTypes, e.countries, e.themes, e.minUrgency, e.secretCurrent])
  return rows[0]!
}

/**
 * The organisation's endpoints, counted up to `upTo`, for a registration
 * about to add one. The organisation's row stays locked until the
 * transaction ends, so concurrent registrations count one after another
 * (FOR NO KEY UPDATE: rows elsewhere that reference the organisation are not
 * held up). The count is a statement of its own: its snapshot, taken once
 * the lock is ours, sees what the previous holder committed.
 */
export async function lockAndCountEndpoints(db: Queryable, organisationId: string, upTo: number): Promise<number> {
  await db.query('SELECT 1 FROM organisations WHERE id = $1 FOR NO KEY UPDATE', [organisationId])
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT 1 FROM webhook_endpoints WHERE organisation_id = $1 LIMIT $2) mine`, [organisationId, upTo])
  return rows[0]!.n
}

export async function findEndpoint(db: Queryable, id: string, scope: Scope, opts: { forUpdate?: boolean } = {}): Promise<EndpointRow | null> {
  const { rows } = await db.query<EndpointRow>(
    `SELECT ${COLUMNS} FROM webhook_endpoints w WHERE w.id = $1 AND ${inScope(2)} ${opts.forUpdate ? 'FOR UPDATE' : ''}`,
    [id, scope.organisationId])
  return rows[0] ?? null
}

/** Newest first, `limit + 1` rows below the cursor. */
export async function listEndpoints(db: Queryable, scope: Scope, limit: number, beforeSeq?: number): Promise<EndpointRow[]> {
  const { rows } = await db.query<EndpointRow>(
    `SELECT ${COLUMNS} FROM webhook_endpoints w
      WHERE ${inScope(2)} AND ($3::bigint IS NULL OR w.seq < $3)
      ORDER BY w.seq DESC LIMIT $1`, [limit + 1, scope.organisationId, beforeSeq ?? null])
  return rows
}

const WRITABLE: Record<string, string> = {
  url: 'url', description: 'description', eventTypes: 'event_types', countries: 'countries', themes: 'themes', minUrgency: 'min_urgency',
}

export async function updateEndpoint(db: Queryable, id: string, fields: Record<string, unknown>): Promise<EndpointRow> {
  const sets = ['version = version + 1', 'updated_at = now()']
  const values: unknown[] = [id]
  for (const [field, value] of Object.entries(fields)) {
    const column = WRITABLE[field]
    if (!column || value === undefined) continue
    values.push(value)
    sets.push(`${column} = $${values.length}`)
  }
  const { rows } = await db.query<EndpointRow>(
    `UPDATE webhook_endpoints w SET ${sets.join(', ')} WHERE id = $1 RETURNING ${COLUMNS}`, values)
  return rows[0]!
}

/** The current secret becomes the previous one, signing until `graceSeconds` from now. */
export async function rotateSecret(db: Queryable, id: string, sealedNew: Buffer, graceSeconds: number): Promise<EndpointRow> {
  const { rows } = await db.query<EndpointRow>(
    `UPDATE webhook_endpoints w
        SET secret_previous = CASE WHEN $3::int > 0 THEN secret_current END,
            secret_previous_expires_at = CASE WHEN $3::int > 0 THEN now() + make_interval(secs => $3::int) END,
            secret_current = $2, version = version + 1, updated_at = now()
      WHERE id = $1 RETURNING ${COLUMNS}`, [id, sealedNew, graceSeconds])
  return rows[0]!
}

export async function enableEndpoint(db: Queryable, id: string): Promise<EndpointRow> {
  const { rows } = await db.query<EndpointRow>(
    `UPDATE webhook_endpoints w
        SET status = 'active', disabled_reason = NULL, disabled_at = NULL, failing_since = NULL,
            version = version + 1, updated_at = now()
      WHERE id = $1 RETURNING ${COLUMNS}`, [id])
  return rows[0]!
}

/**
 * Deletes the endpoint. Its unfinished deliveries are closed as `skipped`
 * (kept, so an appeal's delivery counts stay true).
 */
export async function deleteEndpoint(db: Queryable, id: string): Promise<void> {
  await closeUnsent(db, 'webhook', id, { status: 'skipped', error: 'endpoint deleted', inFlight: true })
  await db.query('DELETE FROM webhook_endpoints WHERE id = $1', [id])
}

// ---------------------------------------------------------------------------
// The delivery log as partners see it.

export interface DeliveryRow {
  id: number
  eventId: string
  eventType: string
  status: string
  attemptCount: number
  nextAttemptAt: string | null
  lastError: string | null
  createdAt: string
  updatedAt: string
  completedAt: string | null
}

export interface AttemptRow {
  id: number
  deliveryId: number
  webhookId: string
  trigger: string
  address: string | null
  statusCode: number | null
  errorClass: string | null
  error: string | null
  durationMs: number
  response: string | null
  nextAttemptAt: string | null
  at: string
}

const DELIVERY_COLUMNS = `d.id, d.event_id AS "eventId", e.type AS "eventType", d.status, d.attempts AS "attemptCount",
  ${iso('d.next_attempt_at')} AS "nextAttemptAt", d.last_error AS "lastError",
  ${iso('d.created_at')} AS "createdAt", ${iso('d.updated_at')} AS "updatedAt", ${iso('d.completed_at')} AS "completedAt"`

/** The endpoint's deliveries, newest first; the caller has already checked the endpoint is in scope. */
export async function listDeliveries(db: Queryable, endpointId: string, o: { status: string | null; limit: number; beforeId?: number }): Promise<DeliveryRow[]> {
  const { rows } = await db.query<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id
      WHERE d.channel = 'webhook' AND d.recipient_id = $1
        AND ($2::text IS NULL OR d.status = $2) AND ($3::bigint IS NULL OR d.id < $3)
      ORDER BY d.id DESC LIMIT $4`, [endpointId, o.status, o.beforeId ?? null, o.limit + 1])
  return rows
}

export async function findDelivery(db: Queryable, endpointId: string, deliveryId: number, opts: { forUpdate?: boolean } = {}): Promise<DeliveryRow | null> {
  const { rows } = await db.query<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id
      WHERE d.channel = 'webhook' AND d.recipient_id = $1 AND d.id = $2 ${opts.forUpdate ? 'FOR UPDATE OF d' : ''}`,
    [endpointId, deliveryId])
  return rows[0] ?? null
}

const ATTEMPT_COLUMNS = `a.id, a.delivery_id AS "deliveryId", d.event_id AS "webhookId", a.trigger, a.address,
  a.status_code AS "statusCode", a.error_class AS "errorClass", a.error, a.duration_ms AS "durationMs", a.response,
  ${iso('a.next_attempt_at')} AS "nextAttemptAt", ${iso('a.at')} AS at`

/** The latest `perDelivery` attempts of each delivery, oldest first within a delivery. */
export async function listAttempts(db: Queryable, deliveryIds: number[], perDelivery = 20): Promise<AttemptRow[]> {
  if (deliveryIds.length === 0) return []
  const { rows } = await db.query<AttemptRow>(
    `SELECT * FROM (
       SELECT ${ATTEMPT_COLUMNS}, row_number() OVER (PARTITION BY a.delivery_id ORDER BY a.id DESC) AS rn
         FROM webhook_attempts a JOIN deliveries d ON d.id = a.delivery_id
        WHERE a.delivery_id = ANY($1)) x
      WHERE rn <= $2 ORDER BY "deliveryId", id`, [deliveryIds, perDelivery])
  return rows.map(({ rn: _rn, ...a }: AttemptRow & { rn?: number }) => a)
}

export async function findAttempt(db: Queryable, attemptId: number): Promise<AttemptRow | null> {
  const { rows } = await db.query<AttemptRow>(
    `SELECT ${ATTEMPT_COLUMNS} FROM webhook_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE a.id = $1`, [attemptId])
  return rows[0] ?? null
}

