// SQL for bounce and complaint reports (contract §10): finding what a report
// is about, storing it once (dedupe_key), counting an address's recent soft
// bounces, and an appeal's counts for the health views. Addresses appear
// only as the keyed hash the suppression list uses; the decisions are made
// in services/email-reports.ts.
import type { Queryable } from '../db/pool.js'

export type ReportKind = 'hard-bounce' | 'soft-bounce' | 'complaint'
export type ReportSource = 'smtp-dsn' | 'smtp-arf' | 'ses' | 'postmark' | 'mailgun' | 'sendgrid'

export interface ReportedDelivery {
  deliveryId: number
  eventId: string
  appealId: string | null
  /** Null when the supporter has since been erased. */
  subscriptionId: string | null
  email: string | null
  emailHash: Buffer | null
}

/** An email delivery and its supporter (if they still exist); null for an unknown id or a webhook delivery. */
export async function findReportedDelivery(db: Queryable, deliveryId: number): Promise<ReportedDelivery | null> {
  const { rows } = await db.query<ReportedDelivery>(
    `SELECT d.id AS "deliveryId", d.event_id AS "eventId", e.appeal_id AS "appealId",
            s.id AS "subscriptionId", s.email, s.email_hash AS "emailHash"
       FROM deliveries d JOIN events e ON e.id = d.event_id
       LEFT JOIN subscriptions s ON s.id = d.recipient_id
      WHERE d.id = $1 AND d.channel = 'email'`, [deliveryId])
  return rows[0] ?? null
}

/** The subscription of an address hash, locked for the report's transaction; null when there is none. */
export async function findSubscriptionByHash(db: Queryable, emailHash: Buffer): Promise<{ id: string; email: string } | null> {
  const { rows } = await db.query<{ id: string; email: string }>(
    'SELECT id, email FROM subscriptions WHERE email_hash = $1 FOR UPDATE', [emailHash])
  return rows[0] ?? null
}

/** Serialises the reports of one address until the transaction ends (so a soft-bounce count cannot be raced past). */
export async function lockAddress(db: Queryable, emailHash: Buffer): Promise<void> {
  await db.query(`SELECT pg_advisory_xact_lock(hashtextextended('ua-email-report:' || encode($1::bytea, 'hex'), 0))`, [emailHash])
}

export interface NewReport {
  kind: ReportKind
  source: ReportSource
  deliveryId: number | null
  appealId: string | null
  emailHash: Buffer | null
  status: string | null
  occurredAt: Date
  dedupeKey: Buffer
}

/** Stores a report; false when the same report (dedupe_key) is already there. */
export async function insertReport(db: Queryable, r: NewReport): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO email_reports (kind, source, delivery_id, appeal_id, email_hash, status, occurred_at, dedupe_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (dedupe_key) DO NOTHING`,
    [r.kind, r.source, r.deliveryId, r.appealId, r.emailHash, r.status, r.occurredAt, r.dedupeKey])
  return (rowCount ?? 0) > 0
}

/** Soft bounces of an address (one per delivery) that occurred in the last `days` days. */
export async function recentSoftBounces(db: Queryable, emailHash: Buffer, days: number): Promise<number> {
  const { rows } = await db.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM email_reports
      WHERE kind = 'soft-bounce' AND email_hash = $1 AND occurred_at > now() - make_interval(days => $2)`, [emailHash, days])
  return rows[0]!.count
}

export interface AppealReportCounts { sent: number; hardBounces: number; softBounces: number; complaints: number }

/**
 * An appeal's alert mails accepted by the relay (email deliveries `sent`,
 * every event of the appeal) and the reports about them: the numerators
 * and denominator of its bounce and complaint rates.
 */
export async function reportCountsForAppeal(db: Queryable, appealId: string): Promise<AppealReportCounts> {
  const { rows } = await db.query<AppealReportCounts>(
    `SELECT (SELECT count(*)::int FROM deliveries d JOIN events e ON e.id = d.event_id
              WHERE e.appeal_id = $1 AND d.channel = 'email' AND d.status = 'sent') AS sent,
            count(*) FILTER (WHERE r.kind = 'hard-bounce')::int AS "hardBounces",
            count(*) FILTER (WHERE r.kind = 'soft-bounce')::int AS "softBounces",
            count(*) FILTER (WHERE r.kind = 'complaint')::int AS complaints
       FROM email_reports r WHERE r.appeal_id = $1`, [appealId])
  return rows[0]!
}

/** The organisation that owns an appeal (the Feedback-ID's customer field); null when there is none. */
export async function appealOrganisationId(db: Queryable, appealId: string): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>('SELECT organisation_id AS id FROM appeals WHERE id = $1', [appealId])
  return rows[0]?.id ?? null
}
