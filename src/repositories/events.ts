// SQL for the events outbox: append in the caller's transaction, read the
// log in position order, claim undispatched rows for the relay.
import type { Queryable } from '../db/pool.js'
import type { EventType } from '../schemas/event.js'

export interface EventBody {
  type: EventType
  timestamp: string
  data: Record<string, unknown>
}

export interface EventRow {
  id: string
  position: number
  type: string
  payload: EventBody
}

export const EVENTS_CHANNEL = 'ua_events'

/**
 * Appends one event. Its position comes from a row lock held until commit,
 * so positions become visible in order; NOTIFY wakes the relay on commit.
 */
export async function insertEvent(
  db: Queryable, e: { id: string; type: string; payload: EventBody; appealId?: string | null; organisationId?: string | null },
): Promise<EventRow> {
  const { rows } = await db.query<EventRow>(
    `WITH next AS (UPDATE event_position SET last = last + 1 RETURNING last)
     INSERT INTO events (id, position, type, appeal_id, organisation_id, payload)
     SELECT $1, next.last, $2, $3, $4, $5 FROM next
     RETURNING id, position, type, payload`,
    [e.id, e.type, e.appealId ?? null, e.organisationId ?? null, e.payload])
  await db.query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, e.id])
  return rows[0]!
}

/**
 * The position of an event the reader may see: one addressed to another
 * organisation is as unknown as a made-up id (no existence leak).
 */
export async function findEventPosition(db: Queryable, id: string, organisationId: string | null): Promise<number | null> {
  const { rows } = await db.query<{ position: number }>(
    `SELECT position FROM events
      WHERE id = $1 AND (organisation_id IS NULL OR $2::uuid IS NULL OR organisation_id = $2)`, [id, organisationId])
  return rows[0]?.position ?? null
}

/**
 * The log after a position, oldest first. `organisationId` limits events
 * addressed to one organisation (webhook tests) to that organisation;
 * null means every organisation's (admin).
 */
export async function listEvents(
  db: Queryable, o: { afterPosition: number; types: string[] | null; limit: number; organisationId: string | null },
): Promise<EventRow[]> {
  const { rows } = await db.query<EventRow>(
    `SELECT id, position, type, payload FROM events
      WHERE position > $1
        AND ($2::text[] IS NULL OR type = ANY($2))
        AND (organisation_id IS NULL OR $4::uuid IS NULL OR organisation_id = $4)
      ORDER BY position LIMIT $3`,
    [o.afterPosition, o.types, o.limit + 1, o.organisationId])
  return rows
}

/** Locks up to `limit` undispatched events; other relays skip them. */
export async function claimUndispatched(db: Queryable, limit: number): Promise<EventRow[]> {
  const { rows } = await db.query<EventRow>(
    `SELECT id, position, type, payload FROM events WHERE dispatched_at IS NULL
      ORDER BY position LIMIT $1 FOR UPDATE SKIP LOCKED`, [limit])
  return rows
}

export async function markDispatched(db: Queryable, ids: string[]): Promise<void> {
  await db.query('UPDATE events SET dispatched_at = now() WHERE id = ANY($1)', [ids])
}

/** Withdrawal: earlier events of the appeal keep only its id and reference. */
export async function redactAppealEvents(db: Queryable, appealId: string, data: Record<string, unknown>): Promise<void> {
  await db.query(
    `UPDATE events SET payload = jsonb_set(payload, '{data}', $2::jsonb)
      WHERE appeal_id = $1 AND type <> 'appeal.withdrawn'`, [appealId, JSON.stringify(data)])
}

export async function findEventById(db: Queryable, id: string): Promise<(EventRow & { appealId: string | null; organisationId: string | null }) | null> {
  const { rows } = await db.query<EventRow & { appealId: string | null; organisationId: string | null }>(
    `SELECT id, position, type, payload, appeal_id AS "appealId", organisation_id AS "organisationId"
       FROM events WHERE id = $1`, [id])
  return rows[0] ?? null
}

/**
 * Of the events `$param` names, those whose appeal has been withdrawn: the
 * send-time check of every delivery channel (a query of its own, or part
 * of a channel's write statement).
 */
export const withdrawnEventsSql = (param: number) => `SELECT e.id FROM events e JOIN appeals a ON a.id = e.appeal_id
  WHERE e.id = ANY($${param}::text[]) AND a.status = 'withdrawn'`

export async function withdrawnEvents(db: Queryable, eventIds: string[]): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>({ name: 'withdrawn-events', text: withdrawnEventsSql(1), values: [eventIds] })
  return rows.map((r) => r.id)
}
