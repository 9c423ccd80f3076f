// SQL for bounce and complaint reports (contract §10): finding what a report
// is about, storing it once (dedupe_key), counting an address's recent soft
// bounces, and an appeal's counts for the health views. Addresses appear
// only as the keyed hash the suppression list uses; the decisions are made
// in services/email-reports.ts.
import type { Queryable } from '../db/pool.js'
import { iso } from '../db/sql.js'

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

// ---- Health per appeal (services/email-health.ts) ---------------------------------------------

export type WarningKind = 'hard-bounce' | 'complaint'

export interface AppealWarningRow { kind: WarningKind; reports: number; sent: number; threshold: number; at: string }

export interface AppealReportsAndWarnings { hardBounces: number; softBounces: number; complaints: number; warnings: AppealWarningRow[] }

/** An appeal's reports by kind and the warnings it got: one query over two small indexes (the progress views read it). */
export async function appealReportsAndWarnings(db: Queryable, appealId: string): Promise<AppealReportsAndWarnings> {
  const { rows } = await db.query<AppealReportsAndWarnings>(
    `SELECT count(*) FILTER (WHERE r.kind = 'hard-bounce')::int AS "hardBounces",
            count(*) FILTER (WHERE r.kind = 'soft-bounce')::int AS "softBounces",
            count(*) FILTER (WHERE r.kind = 'complaint')::int AS complaints,
            (SELECT coalesce(json_agg(json_build_object('kind', w.kind, 'reports', w.reports, 'sent', w.sent,
                      'threshold', w.threshold::float8, 'at', ${iso('w.at')}) ORDER BY w.at), '[]')
               FROM appeal_email_warnings w WHERE w.appeal_id = $1) AS warnings
       FROM email_reports r WHERE r.appeal_id = $1`, [appealId])
  return rows[0]!
}

/** Whether the appeal already got its warning of this kind. */
export async function appealWarned(db: Queryable, appealId: string, kind: WarningKind): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM appeal_email_warnings WHERE appeal_id = $1 AND kind = $2', [appealId, kind])
  return (rowCount ?? 0) > 0
}

/**
 * Serialises the threshold checks of one appeal and kind until the
 * transaction ends: the next check's count then sees the report of the
 * one before (two reports crossing together would each see only their own).
 */
export async function lockAppealHealth(db: Queryable, appealId: string, kind: WarningKind): Promise<void> {
  await db.query(`SELECT pg_advisory_xact_lock(hashtextextended('ua-appeal-health:' || $1 || ':' || $2, 0))`, [appealId, kind])
}

/** Reports of one kind about an appeal's mails (the index on (appeal_id, kind)). */
export async function appealReportCount(db: Queryable, appealId: string, kind: ReportKind): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM email_reports WHERE appeal_id = $1 AND kind = $2', [appealId, kind])
  return rows[0]!.n
}

/**
 * The appeal's alert mails the relay accepted, counted up to `cap` at most:
 * a rate can only pass its threshold while sent < reports / threshold, so
 * a check never needs to count further (a 40 000-mail appeal with one
 * complaint counts 1 000 rows, not 40 000).
 */
export async function sentMailsUpTo(db: Queryable, appealId: string, cap: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (
       SELECT 1 FROM deliveries d JOIN events e ON e.id = d.event_id
        WHERE e.appeal_id = $1 AND d.channel = 'email' AND d.status = 'sent' LIMIT $2) s`, [appealId, cap])
  return rows[0]!.n
}

/** Records an appeal's warning; false when it already had one of this kind. */
export async function insertAppealWarning(db: Queryable, w: { appealId: string; kind: WarningKind; reports: number; sent: number; threshold: number }): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO appeal_email_warnings (appeal_id, kind, reports, sent, threshold) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (appeal_id, kind) DO NOTHING`, [w.appealId, w.kind, w.reports, w.sent, w.threshold])
  return (rowCount ?? 0) > 0
}

/** Reports received in the last `hours` hours, by kind (for /metrics, read in the background; index on received_at). */
export async function recentReportCounts(db: Queryable, hours: number): Promise<{ kind: ReportKind; count: number }[]> {
  const { rows } = await db.query<{ kind: ReportKind; count: number }>(
    `SELECT kind, count(*)::int AS count FROM email_reports WHERE received_at > now() - make_interval(hours => $1) GROUP BY kind`, [hours])
  return rows
}

/** Appeals warned in the last `hours` hours, by kind (for /metrics; the table has a row per warned appeal and kind at most). */
export async function recentWarningCounts(db: Queryable, hours: number): Promise<{ kind: WarningKind; count: number }[]> {
  const { rows } = await db.query<{ kind: WarningKind; count: number }>(
    `SELECT kind, count(*)::int AS count FROM appeal_email_warnings WHERE at > now() - make_interval(hours => $1) GROUP BY kind`, [hours])
  return rows
}
