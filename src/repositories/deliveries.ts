// Owns what both channels share in the `deliveries` table (one row per
// event, channel and recipient): the status vocabulary of each channel, and
// the SQL that does not depend on the channel. Channel work (freeze, claim,
// outcomes, sweeps) stays in webhook-deliveries.ts and email-deliveries.ts.
// Every writer keeps `completed_at` set exactly on final rows (a CHECK holds
// it): unfinished rows are found as `completed_at IS NULL`, through
// deliveries_unfinished_idx (migration 012, which says why).
import type { Queryable } from '../db/pool.js'
import { iso } from '../db/sql.js'

/** Statuses a webhook delivery goes through (the contract's WebhookDeliveryStatus). */
export const WEBHOOK_STATUSES = ['pending', 'sending', 'delivered', 'retrying', 'failed', 'expired', 'skipped', 'cancelled'] as const
export type WebhookStatus = (typeof WEBHOOK_STATUSES)[number]
/** Webhook deliveries that need no more work. */
export const WEBHOOK_FINAL_STATUSES = ['delivered', 'failed', 'expired', 'skipped', 'cancelled'] as const satisfies readonly WebhookStatus[]

/** Statuses an email delivery goes through. */
export const EMAIL_STATUSES = ['pending', 'sending', 'retrying', 'sent', 'failed', 'suppressed', 'cancelled'] as const
export type EmailStatus = (typeof EMAIL_STATUSES)[number]
/** Email deliveries that need no more work. */
export const EMAIL_FINAL_STATUSES = ['sent', 'failed', 'suppressed', 'cancelled'] as const satisfies readonly EmailStatus[]

/** Statuses that still have work to do, the same in both channels. */
export const UNFINISHED_STATUSES = ['pending', 'sending', 'retrying'] as const satisfies readonly (WebhookStatus & EmailStatus)[]

export const isUnfinished = (status: string): boolean => (UNFINISHED_STATUSES as readonly string[]).includes(status)

export type Channel = 'email' | 'webhook'

// ---------------------------------------------------------------------------
// Transitions outside a channel's delivery work: a recipient leaves, a
// person asks for rows to go again. The SQL is the same for both channels.

/**
 * Closes a recipient's rows that have not been handed over yet (`pending`,
 * `retrying`; with `inFlight` also `sending`) as `status`, and says how
 * many. An unsubscribed supporter's mail stops (a chunk mid-send re-checks
 * at claim time); a deleted endpoint's rows are skipped, in flight or not.
 */
export async function closeUnsent(db: Queryable, channel: Channel, recipientId: string,
  close: { status: 'suppressed' | 'skipped'; error?: string; inFlight?: boolean }): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE deliveries SET status = $3, last_error = coalesce($4, last_error), completed_at = now(), updated_at = now(), next_attempt_at = NULL
      WHERE channel = $1 AND recipient_id = $2 AND completed_at IS NULL AND status = ANY($5::text[])`,
    [channel, recipientId, close.status, close.error ?? null, close.inFlight ? UNFINISHED_STATUSES : ['pending', 'retrying']])
  return rowCount ?? 0
}

/** A row made due now again: `pending` if it was never tried, else `retrying` (set on the alias-free `deliveries`). */
const DUE_NOW = `status = CASE WHEN attempts = 0 THEN 'pending' ELSE 'retrying' END,
            next_attempt_at = now(), completed_at = NULL, queued_at = now(), updated_at = now()`

/** Resend: the delivery is due now again, whatever its state (the caller refuses one in flight). */
export async function requeue(db: Queryable, deliveryId: number): Promise<void> {
  await db.query(`UPDATE deliveries SET ${DUE_NOW} WHERE id = $1`, [deliveryId])
}

/** Webhook statuses that a partner's recover makes due again: closed without reaching the endpoint. */
export const WEBHOOK_RECOVERABLE_STATUSES = ['failed', 'expired', 'skipped'] as const satisfies readonly WebhookStatus[]

/** Recover (webhooks have it, email does not): an endpoint's recoverable deliveries created in [since, until) are due now again; their ids in order. */
export async function requeueWindow(db: Queryable, endpointId: string, since: string, until: string): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    `UPDATE deliveries SET ${DUE_NOW}
      WHERE channel = 'webhook' AND recipient_id = $1 AND status = ANY($4::text[])
        AND created_at >= $2 AND created_at < $3
      RETURNING id`, [endpointId, since, until, WEBHOOK_RECOVERABLE_STATUSES])
  return rows.map((r) => r.id).sort((a, b) => a - b)
}

// ---------------------------------------------------------------------------
// Reads across channels.

/**
 * An appeal's rows by channel and status, and how many were finished in
 * the last minute (the console's progress and its rate).
 */
export async function countsByAppeal(db: Queryable, appealId: string): Promise<{
  counts: { channel: Channel; status: string; count: number }[]
  completedLastMinute: number
}> {
  const { rows } = await db.query<{ channel: Channel; status: string; count: number; recent: number }>(
    `SELECT d.channel, d.status, count(*)::int AS count,
            count(*) FILTER (WHERE d.updated_at > now() - interval '1 minute' AND d.attempts > 0)::int AS recent
       FROM deliveries d JOIN events e ON e.id = d.event_id
      WHERE e.appeal_id = $1 GROUP BY d.channel, d.status`, [appealId])
  return {
    counts: rows.map(({ channel, status, count }) => ({ channel, status, count })),
    completedLastMinute: rows.filter((r) => !isUnfinished(r.status)).reduce((n, r) => n + r.recent, 0),
  }
}

export interface LatestEventRows<P> {
  type: string
  payload: P
  /** The outbox relay has handed it to the fan-out. */
  dispatched: boolean
  /** Rows frozen for it, per channel. */
  email: number
  webhook: number
}

/** The appeal's latest event and how many rows each channel has frozen for it (null: the appeal announced nothing yet). */
export async function latestEventRows<P>(db: Queryable, appealId: string): Promise<LatestEventRows<P> | null> {
  const { rows } = await db.query<LatestEventRows<P>>(
    `SELECT e.type, e.payload, e.dispatched_at IS NOT NULL AS dispatched,
            (SELECT count(*)::int FROM deliveries d WHERE d.event_id = e.id AND d.channel = 'email') AS email,
            (SELECT count(*)::int FROM deliveries d WHERE d.event_id = e.id AND d.channel = 'webhook') AS webhook
       FROM events e WHERE e.appeal_id = $1 ORDER BY e.position DESC LIMIT 1`, [appealId])
  return rows[0] ?? null
}

export interface RecipientDelivery {
  eventId: string; appealId: string | null; eventType: string; status: string; attempts: number; createdAt: string; completedAt: string | null
}

/** One recipient's rows of a channel, oldest first (a supporter's data export). */
export async function recipientHistory(db: Queryable, channel: Channel, recipientId: string, limit = 10_000): Promise<RecipientDelivery[]> {
  const { rows } = await db.query<RecipientDelivery>(
    `SELECT d.event_id AS "eventId", e.appeal_id AS "appealId", e.type AS "eventType", d.status, d.attempts,
            ${iso('d.created_at')} AS "createdAt", ${iso('d.completed_at')} AS "completedAt"
       FROM deliveries d JOIN events e ON e.id = d.event_id
      WHERE d.channel = $1 AND d.recipient_id = $2 ORDER BY d.id LIMIT $3`, [channel, recipientId, limit])
  return rows
}
