// SQL for supporters: subscriptions, the append-only consent ledger and the
// suppression list. Decisions that must not race (the 24 h rule, state
// changes) are made inside single statements, not read-then-write in Node.
import type { Queryable } from '../db/pool.js'
import { epochMs, iso } from '../db/sql.js'
import type { ListSubscribersQuery, SubscriptionStatus, SuppressionReason } from '../schemas/subscription.js'

export interface SubscriptionRow {
  id: string
  seq: number
  email: string
  emailHash: Buffer
  language: string
  countries: string[]
  themes: string[]
  minUrgency: 'critical' | 'high' | 'normal'
  status: SubscriptionStatus
  confirmNonce: Buffer | null
  confirmExpired: boolean
  manageNonce: Buffer
  createdAt: string
  updatedAt: string
  confirmedAt: string | null
  unsubscribedAt: string | null
  confirmationSentAt: string | null
  suppressed: SuppressionReason | null
}

const SELECT = `
  SELECT s.id, s.seq, s.email, s.email_hash AS "emailHash", s.language, s.countries, s.themes,
    s.min_urgency AS "minUrgency", s.status, s.confirm_nonce AS "confirmNonce",
    coalesce(s.confirm_expires_at < now(), false) AS "confirmExpired", s.manage_nonce AS "manageNonce",
    ${iso('s.created_at')} AS "createdAt", ${iso('s.updated_at')} AS "updatedAt",
    ${iso('s.confirmed_at')} AS "confirmedAt", ${iso('s.unsubscribed_at')} AS "unsubscribedAt",
    ${iso('s.confirmation_sent_at')} AS "confirmationSentAt",
    (SELECT x.reason FROM email_suppressions x WHERE x.email_hash = s.email_hash) AS suppressed
  FROM subscriptions s`

/** Suppression reasons that also stop confirmation mail: a fresh double opt-in cannot lift them. */
export const BLOCKING_REASONS: readonly SuppressionReason[] = ['hard-bounce', 'complaint']

/**
 * One confirmation mail owed: the subscription and when its current link
 * was issued (epoch ms, truncated). A newer request for the address issues
 * a new link and so a new confirmation; its job must not be taken for the
 * older one's (which may still be sending the spent link).
 */
export interface DueConfirmation { subscriptionId: string; sentAtMs: number }

export interface UpsertPending {
  email: string
  emailHash: Buffer
  /** Keyed hash of the canonical mailbox (lib/supporter-tokens.ts mailboxHash): what the 24 h limit counts. */
  mailboxHash: Buffer
  language: string
  countries: string[]
  themes: string[]
  minUrgency: string
  manage: { nonce: Buffer; hash: Buffer }
  confirm: { nonce: Buffer; hash: Buffer }
  source: string
  consentTextVersion: string
}

/**
 * Subscribe, in one statement whatever the address's state, so that every
 * request does the same work. A confirmation mail is wanted for a new,
 * pending or unsubscribed address that nothing blocks (a "this wasn't me",
 * a complaint or a hard bounce, of this address or of its mailbox); it goes
 * out only if the mailbox got none in the last 24 hours, and only then is
 * the subscription written: a new address becomes pending, a pending or
 * unsubscribed one takes the new settings and a new link, which spends the
 * old one. Otherwise nothing changes, so whatever a third party posts, a
 * link already mailed confirms what its owner asked for. An active
 * subscription is left alone. Returns the subscription id when a
 * confirmation mail is due.
 */
export async function upsertPending(db: Queryable, s: UpsertPending): Promise<DueConfirmation | null> {
  const { rows } = await db.query<DueConfirmation>(
    `WITH blocked AS (
       SELECT 1 FROM email_suppressions
        WHERE (email_hash = $2 OR mailbox_hash = $15) AND reason = ANY($14::text[])
     ), wanted AS (
       SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM blocked)
         AND NOT EXISTS (SELECT 1 FROM subscriptions WHERE email_hash = $2 AND status = 'active')
     ), quota AS (
       INSERT INTO confirmation_limits AS q (mailbox_hash, last_sent_at) SELECT $15, now() FROM wanted
       ON CONFLICT (mailbox_hash) DO UPDATE SET last_sent_at = now() WHERE q.last_sent_at <= now() - interval '24 hours'
       RETURNING 1
     ), up AS (
       INSERT INTO subscriptions AS s (email, email_hash, language, countries, themes, min_urgency, status,
           manage_nonce, manage_token_hash, confirm_nonce, confirm_token_hash, confirm_expires_at, confirmation_sent_at)
       SELECT $1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, $10, now() + interval '72 hours', now() FROM quota
       ON CONFLICT (email_hash) DO UPDATE SET
         email = EXCLUDED.email, language = EXCLUDED.language, countries = EXCLUDED.countries,
         themes = EXCLUDED.themes, min_urgency = EXCLUDED.min_urgency, status = 'pending', updated_at = now(),
         confirm_nonce = EXCLUDED.confirm_nonce, confirm_token_hash = EXCLUDED.confirm_token_hash,
         confirm_expires_at = EXCLUDED.confirm_expires_at, confirmation_sent_at = now(), confirmation_mailed_at = NULL
       WHERE s.status <> 'active'
       RETURNING s.id, ${epochMs('s.confirmation_sent_at')} AS "sentAtMs"
     ), ledger AS (
       INSERT INTO consent_ledger (subscription_id, action, source, consent_text_version, details)
       SELECT id, 'subscribe', $11, $12, $13::jsonb FROM up
     )
     SELECT id AS "subscriptionId", "sentAtMs" FROM up`,
    [s.email, s.emailHash, s.language, s.countries, s.themes, s.minUrgency, s.manage.nonce, s.manage.hash,
      s.confirm.nonce, s.confirm.hash, s.source, s.consentTextVersion,
      JSON.stringify({ language: s.language, countries: s.countries, themes: s.themes, minUrgency: s.minUrgency }),
      BLOCKING_REASONS, s.mailboxHash])
  return rows[0] ?? null
}

/** Erasure forgets the mailbox's confirmation limit with the rest: the person may come back through double opt-in. */
export async function deleteConfirmationLimit(db: Queryable, mailboxHash: Buffer): Promise<void> {
  await db.query('DELETE FROM confirmation_limits WHERE mailbox_hash = $1', [mailboxHash])
}

/** Limits older than a day decide nothing; the worker drops them (no keyed hash of a mailbox is kept longer than needed). */
export async function purgeStaleConfirmationLimits(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(`DELETE FROM confirmation_limits WHERE last_sent_at < now() - interval '24 hours'`)
  return rowCount ?? 0
}

export async function findByConfirmHash(db: Queryable, hash: Buffer): Promise<SubscriptionRow | null> {
  const { rows } = await db.query<SubscriptionRow>(`${SELECT} WHERE s.confirm_token_hash = $1`, [hash])
  return rows[0] ?? null
}

export async function findByManageHash(db: Queryable, hash: Buffer): Promise<SubscriptionRow | null> {
  const { rows } = await db.query<SubscriptionRow>(`${SELECT} WHERE s.manage_token_hash = $1`, [hash])
  return rows[0] ?? null
}

export async function findById(db: Queryable, id: string, opts: { forUpdate?: boolean } = {}): Promise<SubscriptionRow | null> {
  const { rows } = await db.query<SubscriptionRow>(`${SELECT} WHERE s.id = $1 ${opts.forUpdate ? 'FOR UPDATE OF s' : ''}`, [id])
  return rows[0] ?? null
}

export async function appendConsent(
  db: Queryable, e: { subscriptionId: string; action: string; source: string; consentTextVersion: string; details?: Record<string, unknown> },
): Promise<void> {
  await db.query(
    `INSERT INTO consent_ledger (subscription_id, action, source, consent_text_version, details) VALUES ($1, $2, $3, $4, $5)`,
    [e.subscriptionId, e.action, e.source, e.consentTextVersion, JSON.stringify(e.details ?? {})])
}

/**
 * Pending → active (only while the confirmation is unexpired); lifts a
 * suppression a new opt-in may lift (a soft bounce too: the confirmation
 * mail just arrived). The confirmation link is spent: its
 * nonce (from which the token is derived) and expiry go; only the lookup
 * hash stays, so that the old link can say it was used — never more.
 */
export async function activate(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE subscriptions SET status = 'active', confirmed_at = now(), updated_at = now(), unsubscribed_at = NULL,
            confirm_nonce = NULL, confirm_expires_at = NULL
      WHERE id = $1 AND status = 'pending' AND confirm_expires_at >= now()`, [id])
  if (rowCount === 0) return false
  await db.query(
    `DELETE FROM email_suppressions x USING subscriptions s
      WHERE s.id = $1 AND x.email_hash = s.email_hash AND x.reason IN ('unsubscribed', 'erased', 'soft-bounce')`, [id])
  return true
}

/** Weakest first: a suppression is only ever replaced by a stronger one. */
const SUPPRESSION_STRENGTH = `ARRAY['unsubscribed', 'erased', 'soft-bounce', 'hard-bounce', 'complaint']`

/**
 * Adds an address to the suppression list; a stronger reason already there
 * is kept. With `mailboxHash`, a blocking reason covers every spelling of
 * the mailbox for confirmation mail (subscribe checks both hashes). Says
 * whether anything changed (new, or a stronger reason).
 */
export async function suppress(db: Queryable, emailHash: Buffer, reason: SuppressionReason, mailboxHash: Buffer | null = null): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO email_suppressions (email_hash, reason, mailbox_hash) VALUES ($1, $2, $3)
     ON CONFLICT (email_hash) DO UPDATE SET reason = EXCLUDED.reason, created_at = now(),
         mailbox_hash = coalesce(EXCLUDED.mailbox_hash, email_suppressions.mailbox_hash)
       WHERE array_position(${SUPPRESSION_STRENGTH}, email_suppressions.reason)
           < array_position(${SUPPRESSION_STRENGTH}, EXCLUDED.reason)`,
    [emailHash, reason, mailboxHash])
  return (rowCount ?? 0) > 0
}

export async function markUnsubscribed(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = now(), updated_at = now(),
        confirm_nonce = NULL, confirm_token_hash = NULL, confirm_expires_at = NULL
      WHERE id = $1 AND status <> 'unsubscribed'`, [id])
  return (rowCount ?? 0) > 0
}

export async function markResubscribed(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE subscriptions SET status = 'active', unsubscribed_at = NULL, updated_at = now()
      WHERE id = $1 AND status = 'unsubscribed'`, [id])
  if (rowCount === 0) return false
  await db.query(
    `DELETE FROM email_suppressions x USING subscriptions s
      WHERE s.id = $1 AND x.email_hash = s.email_hash AND x.reason = 'unsubscribed'`, [id])
  return true
}

export async function updatePreferences(
  db: Queryable, id: string, p: { language?: string; countries?: string[]; themes?: string[]; minUrgency?: string },
): Promise<void> {
  await db.query(
    `UPDATE subscriptions SET language = coalesce($2, language), countries = coalesce($3, countries),
        themes = coalesce($4, themes), min_urgency = coalesce($5, min_urgency), updated_at = now()
      WHERE id = $1`,
    [id, p.language ?? null, p.countries ?? null, p.themes ?? null, p.minUrgency ?? null])
}

export async function deleteSubscription(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM subscriptions WHERE id = $1', [id])
}

export interface ConsentEntry { at: string; action: string; source: string; consentTextVersion: string; details: Record<string, unknown> }

export async function consentHistory(db: Queryable, id: string): Promise<ConsentEntry[]> {
  const { rows } = await db.query<ConsentEntry>(
    `SELECT ${iso('at')} AS at, action, source, consent_text_version AS "consentTextVersion", details
       FROM consent_ledger WHERE subscription_id = $1 ORDER BY id LIMIT 10000`, [id])
  return rows
}

/** Staff list, newest first, keyset on seq. `q` matches part of the address, wildcards taken literally. */
export async function listSubscribers(db: Queryable, q: ListSubscribersQuery & { limit: number }, beforeSeq?: number): Promise<SubscriptionRow[]> {
  const pattern = q.q ? `%${q.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null
  const { rows } = await db.query<SubscriptionRow>(
    `${SELECT}
      WHERE ($2::bigint IS NULL OR s.seq < $2)
        AND ($3::text IS NULL OR s.status = $3)
        AND ($4::text IS NULL OR s.email ILIKE $4)
      ORDER BY s.seq DESC LIMIT $1`,
    [q.limit + 1, beforeSeq ?? null, q.status ?? null, pattern])
  return rows
}

export async function subscriberStats(db: Queryable): Promise<{
  byStatus: { status: string; count: number }[]
  byLanguage: { language: string; count: number }[]
  suppressed: { reason: string; count: number }[]
}> {
  const [byStatus, byLanguage, suppressed] = await Promise.all([
    db.query<{ status: string; count: number }>('SELECT status, count(*)::int AS count FROM subscriptions GROUP BY status'),
    db.query<{ language: string; count: number }>(
      `SELECT language, count(*)::int AS count FROM subscriptions WHERE status = 'active' GROUP BY language ORDER BY language`),
    db.query<{ reason: string; count: number }>('SELECT reason, count(*)::int AS count FROM email_suppressions GROUP BY reason'),
  ])
  return { byStatus: byStatus.rows, byLanguage: byLanguage.rows, suppressed: suppressed.rows }
}

/**
 * Marks that confirmation handed to SMTP (or given up on). When a newer
 * request has issued a new link meanwhile, its mail is still owed and the
 * row is left for its own job (or the reconciler). Without `sentAtMs` (a job
 * queued before confirmations carried it), whatever is current.
 */
export async function markConfirmationMailed(db: Queryable, id: string, sentAtMs?: number): Promise<void> {
  await db.query(`UPDATE subscriptions SET confirmation_mailed_at = now() WHERE id = $1 AND ($2::float8 IS NULL OR ${epochMs('confirmation_sent_at')} = $2)`,
    [id, sentAtMs ?? null])
}

/** Confirmation mails decided on but not yet handed to SMTP (their job was lost), still worth sending. */
export async function dueConfirmations(db: Queryable, olderThanSeconds: number, limit: number): Promise<DueConfirmation[]> {
  const { rows } = await db.query<DueConfirmation>(
    `SELECT id AS "subscriptionId", ${epochMs('confirmation_sent_at')} AS "sentAtMs" FROM subscriptions
      WHERE status = 'pending' AND confirmation_mailed_at IS NULL
        AND confirmation_sent_at < now() - make_interval(secs => $1)
        AND confirm_expires_at > now() + interval '1 hour'
      ORDER BY confirmation_sent_at LIMIT $2`, [olderThanSeconds, limit])
  return rows
}

/** Themes worth offering on the preference page: those of public appeals. */
export async function knownThemes(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ theme: string }>(
    `SELECT DISTINCT unnest(themes) AS theme FROM appeals WHERE status IN ('published', 'closed') ORDER BY 1 LIMIT 200`)
  return rows.map((r) => r.theme)
}
