// SQL for the email channel's rows in the shared `deliveries` table
// (channel 'email', recipient_id = subscriptions.id). Everything here works
// on sets: the audience is frozen by one INSERT … SELECT, claims and
// send-time checks take a window of ids in one statement, and outcomes are
// written with one UPDATE … FROM unnest per chunk.
import type { Pool, Queryable } from '../db/pool.js'
import { EMAIL_FINAL_STATUSES, type EmailStatus } from './deliveries.js'
import { withdrawnEventsSql } from './events.js'
import { CONSENT_TEXT_VERSION } from '../i18n/index.js'

export interface AudienceFilter { countries: string[]; themes: string[]; urgency: string }

/**
 * Who an alert reaches: active, unsuppressed subscriptions (alias `s`)
 * whose filters match the appeal's countries, themes and urgency (the
 * parameters numbered from `first`). The one rule: the fan-out's freeze
 * and the console's "to how many people" count both use it.
 */
const emailAudienceWhere = (first: number) => `s.status = 'active'
        AND (cardinality(s.countries) = 0 OR s.countries && $${first}::text[])
        AND (cardinality(s.themes) = 0 OR s.themes && $${first + 1}::text[])
        AND array_position(ARRAY['normal', 'high', 'critical'], s.min_urgency)
            <= array_position(ARRAY['normal', 'high', 'critical'], $${first + 2}::text)
        AND NOT EXISTS (SELECT 1 FROM email_suppressions x WHERE x.email_hash = s.email_hash)`

/**
 * Freezes the audience of one event: every active, unsuppressed
 * subscription whose filters match the appeal, in subscription order (so
 * chunks follow sign-up order). Idempotent through the unique key.
 */
export async function freezeEmailAudience(db: Queryable, eventId: string, a: AudienceFilter): Promise<number> {
  const { rowCount } = await db.query(
    `INSERT INTO deliveries (event_id, channel, recipient_id, status, queued_at)
     SELECT $1, 'email', s.id, 'pending', now()
       FROM subscriptions s
      WHERE ${emailAudienceWhere(2)}
      ORDER BY s.seq
     ON CONFLICT (event_id, channel, recipient_id) DO NOTHING`,
    [eventId, a.countries, a.themes, a.urgency])
  return rowCount ?? 0
}

/** How many supporters a freeze for `a` would write now (read-only; the console's confirmations). */
export async function countEmailAudience(db: Queryable, a: AudienceFilter): Promise<number> {
  const { rows } = await db.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM subscriptions s WHERE ${emailAudienceWhere(1)}`, [a.countries, a.themes, a.urgency])
  return rows[0]!.count
}

/**
 * The event's rows still waiting for their first attempt, in id order,
 * handed to `onPage` a page at a time (memory stays flat whatever the
 * audience). One ordered read through a cursor: the event's rows are found
 * once (through the unique key's leading columns) and sorted once, where a
 * keyset page per query re-read every row of the event for each page.
 */
export async function forEachPendingPage(pool: Pool, eventId: string, pageSize: number, onPage: (ids: number[]) => Promise<void>): Promise<void> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN READ ONLY')
    // Plan for reading every row: a cursor otherwise favours a fast start (walking the whole primary key).
    await client.query('SET LOCAL cursor_tuple_fraction = 1')
    await client.query(
      `DECLARE pending NO SCROLL CURSOR FOR
       SELECT id FROM deliveries WHERE event_id = $1 AND channel = 'email' AND status = 'pending' ORDER BY id`, [eventId])
    for (;;) {
      const { rows } = await client.query<{ id: number }>(`FETCH ${Math.trunc(pageSize)} FROM pending`)
      if (rows.length > 0) await onPage(rows.map((r) => r.id))
      if (rows.length < pageSize) break
    }
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}

export interface ClaimedRecipient {
  id: number
  attempts: number
  email: string
  language: string
  manageNonce: Buffer
  /** The delivery id and event id of this supporter's first alert about the appeal (what later mails thread to), or null when this is the first. */
  threadRoot: { id: number; eventId: string } | null
}

export interface WindowClaim {
  recipients: ClaimedRecipient[]
  suppressed: number
  /** The appeal was withdrawn: the window's rows were cancelled and nothing of it may be sent. */
  withdrawn: boolean
  /** Rows this claim closed as `cancelled` (those of a withdrawn appeal). */
  cancelled: number
}

/** What a chunk knows of its event, so that each claim can check the appeal and find thread roots. */
export interface ClaimContext {
  appealId: string | null
  /** The appeal's earlier mail events: a recipient's first alert is among their deliveries. */
  earlierEventIds: string[]
}

/**
 * The send-time check and claim of one window, in one statement: if the
 * event's appeal has been withdrawn every row is closed as `cancelled`;
 * rows whose supporter has since unsubscribed, been erased or suppressed
 * are closed as `suppressed`; the rest become `sending` (attempt +1) and
 * are returned with what the mail needs, including the supporter's first
 * alert about the appeal (looked up through the unique key, one probe per
 * earlier event). Rows another worker holds or already finished are
 * skipped, so a duplicate job sends nothing twice.
 */
export async function claimWindow(db: Queryable, ids: number[], context: ClaimContext): Promise<WindowClaim> {
  const { rows } = await db.query<ClaimedRecipient & { blocked: boolean; withdrawn: boolean; rootId: number | null; rootEventId: string | null }>(
    `WITH appeal AS (
       SELECT coalesce((SELECT status = 'withdrawn' FROM appeals WHERE id = $2::uuid), false) AS withdrawn
     ), candidates AS (
       SELECT d.id, d.recipient_id, s.email, s.language, s.manage_nonce, appeal.withdrawn,
              (s.id IS NULL OR s.status <> 'active'
               OR EXISTS (SELECT 1 FROM email_suppressions x WHERE x.email_hash = s.email_hash)) AS blocked
         FROM appeal, deliveries d LEFT JOIN subscriptions s ON s.id = d.recipient_id
        WHERE d.id = ANY($1::bigint[]) AND d.channel = 'email'
          AND d.status IN ('pending', 'retrying') AND coalesce(d.next_attempt_at, d.created_at) <= now() + interval '2 seconds'
        FOR UPDATE OF d SKIP LOCKED
     ), claimed AS (
       UPDATE deliveries d
          SET status = CASE WHEN c.withdrawn THEN 'cancelled' WHEN c.blocked THEN 'suppressed' ELSE 'sending' END,
              attempts = d.attempts + CASE WHEN c.withdrawn OR c.blocked THEN 0 ELSE 1 END,
              completed_at = CASE WHEN c.withdrawn OR c.blocked THEN now() END,
              next_attempt_at = NULL, updated_at = now()
         FROM candidates c WHERE d.id = c.id
       RETURNING d.id, d.attempts
     )
     SELECT c.id, k.attempts, c.email, c.language, c.manage_nonce AS "manageNonce", c.blocked, c.withdrawn,
            root.id AS "rootId", root.event_id AS "rootEventId"
       FROM claimed k JOIN candidates c ON c.id = k.id
       LEFT JOIN LATERAL (
         SELECT r.id, r.event_id FROM deliveries r
          WHERE cardinality($3::text[]) > 0 AND NOT c.withdrawn AND NOT c.blocked
            AND r.event_id = ANY($3::text[]) AND r.channel = 'email' AND r.recipient_id = c.recipient_id
            AND r.status NOT IN ('failed', 'suppressed', 'cancelled')
          ORDER BY r.id LIMIT 1) root ON true
      ORDER BY c.id`, [ids, context.appealId, context.earlierEventIds])
  const withdrawn = rows.some((r) => r.withdrawn)
  return {
    recipients: rows.filter((r) => !r.blocked && !r.withdrawn).map(({ blocked: _b, withdrawn: _w, rootId, rootEventId, ...r }) => ({
      ...r, threadRoot: rootId === null ? null : { id: rootId, eventId: rootEventId! },
    })),
    suppressed: withdrawn ? 0 : rows.filter((r) => r.blocked).length,
    withdrawn,
    cancelled: withdrawn ? rows.length : 0,
  }
}

/** An event's appeal and the appeal's mail events before it (the thread a recipient's mails join). */
export async function claimContext(db: Queryable, event: { appealId: string | null; position: number }, mailEventTypes: readonly string[]): Promise<ClaimContext> {
  if (event.appealId === null) return { appealId: null, earlierEventIds: [] }
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM events WHERE appeal_id = $1 AND position < $2 AND type = ANY($3::text[]) ORDER BY position`,
    [event.appealId, event.position, mailEventTypes])
  return { appealId: event.appealId, earlierEventIds: rows.map((r) => r.id) }
}

export interface Outcome {
  id: number
  status: EmailStatus
  error: string | null
  /** Seconds until the next attempt, for `retrying`. */
  retryInSeconds: number | null
}

/**
 * A batch of outcomes in one statement; 5xx recipients join the
 * suppression list, with their consent-ledger row, in the same transaction. The same statement answers
 * which of `watchedEvents` have had their appeal withdrawn, as of a moment
 * after every outcome in the batch was known: the send lanes hold back
 * the next mails of those events (send-lanes.ts).
 */
export async function recordOutcomes(db: Queryable, outcomes: Outcome[], hardBouncedIds: number[], watchedEvents: readonly string[] = []): Promise<string[]> {
  let withdrawn: { id: string }[] = []
  if (outcomes.length > 0 && outcomes.every((o) => o.status === 'sent')) {
    // The usual batch (a few mails, all accepted), written every few milliseconds: prepared once per connection.
    withdrawn = (await db.query<{ id: string }>({
      name: 'email-outcomes-sent',
      text: `WITH sent AS (
               UPDATE deliveries SET status = 'sent', last_error = NULL, next_attempt_at = NULL, completed_at = now(), updated_at = now()
                WHERE id = ANY($1::bigint[]))
             ${withdrawnEventsSql(2)}`,
      values: [outcomes.map((o) => o.id), watchedEvents],
    })).rows
  } else if (outcomes.length > 0) {
    withdrawn = (await db.query<{ id: string }>(
      `WITH recorded AS (
         UPDATE deliveries d
            SET status = u.status, last_error = u.error, updated_at = now(),
                next_attempt_at = CASE WHEN u.delay IS NULL THEN NULL ELSE now() + make_interval(secs => u.delay) END,
                queued_at = CASE WHEN u.delay IS NULL THEN d.queued_at ELSE now() + make_interval(secs => u.delay) END,
                completed_at = CASE WHEN u.status = ANY($5::text[]) THEN now() END
           FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[]) AS u(id, status, error, delay)
          WHERE d.id = u.id)
       ${withdrawnEventsSql(6)}`,
      [outcomes.map((o) => o.id), outcomes.map((o) => o.status), outcomes.map((o) => o.error),
        outcomes.map((o) => o.retryInSeconds), EMAIL_FINAL_STATUSES, watchedEvents])).rows
  }
  if (hardBouncedIds.length > 0) {
    // The same effect as a later DSN (services/email-reports.ts): an address newly suppressed
    // (or raised from a weaker reason) gets its consent-ledger row `hard-bounce`, in this one
    // statement. The enhanced status code comes from the reply the UPDATE above just stored.
    await db.query(
      `WITH suppressed AS (
         INSERT INTO email_suppressions (email_hash, reason)
         SELECT DISTINCT s.email_hash, 'hard-bounce'
           FROM deliveries d JOIN subscriptions s ON s.id = d.recipient_id
          WHERE d.id = ANY($1::bigint[])
         ON CONFLICT (email_hash) DO UPDATE SET reason = 'hard-bounce', created_at = now()
           WHERE email_suppressions.reason IN ('unsubscribed', 'erased', 'soft-bounce')
         RETURNING email_hash)
       INSERT INTO consent_ledger (subscription_id, action, source, consent_text_version, details)
       SELECT DISTINCT ON (s.id) s.id, 'hard-bounce', 'smtp-relay', $2,
              jsonb_build_object('deliveryId', d.id, 'status', substring(d.last_error from '([245][.][0-9]{1,3}[.][0-9]{1,3})'))
         FROM suppressed x JOIN subscriptions s ON s.email_hash = x.email_hash
         JOIN deliveries d ON d.recipient_id = s.id AND d.id = ANY($1::bigint[])
        ORDER BY s.id, d.id`, [hardBouncedIds, CONSENT_TEXT_VERSION])
  }
  return withdrawn.map((r) => r.id)
}

/** Closes rows that will never be sent (the event's appeal was withdrawn, or the event is not mail); returns how many. */
export async function cancelRows(db: Queryable, ids: number[]): Promise<number> {
  if (ids.length === 0) return 0
  const { rowCount } = await db.query(
    `UPDATE deliveries SET status = 'cancelled', completed_at = now(), updated_at = now(), next_attempt_at = NULL
      WHERE id = ANY($1::bigint[]) AND channel = 'email' AND status IN ('pending', 'retrying')`, [ids])
  return rowCount ?? 0
}

/**
 * Makes a chunk's `sending` rows due again when the chunk job runs a second
 * time: BullMQ runs one job in one worker at a time, so the run that claimed
 * them is over (killed or failed). Its sent-but-unrecorded mails go again:
 * at-least-once, as promised, without waiting for the 15-minute sweep below.
 */
export async function reviveSending(db: Queryable, ids: number[]): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE deliveries SET status = 'retrying', next_attempt_at = now(), updated_at = now()
      WHERE id = ANY($1::bigint[]) AND channel = 'email' AND status = 'sending'`, [ids])
  return rowCount ?? 0
}

/**
 * Rows the reconciler must re-enqueue (read through deliveries_unfinished_idx,
 * hence `completed_at IS NULL`): due (`pending`, or `retrying` whose
 * time has come) and handed to a queue longer ago than `staleSeconds`.
 * Rows stuck in `sending` (a worker died mid-chunk) become due again first:
 * delivery is at-least-once. Marks what it returns as queued now.
 */
export async function takeStaleDue(db: Queryable, staleSeconds: number, limit: number): Promise<{ id: number; eventId: string; attempts: number }[]> {
  await db.query(
    `UPDATE deliveries SET status = 'retrying', next_attempt_at = now(), updated_at = now()
      WHERE channel = 'email' AND completed_at IS NULL AND status = 'sending' AND updated_at < now() - interval '15 minutes'`)
  const { rows } = await db.query<{ id: number; eventId: string; attempts: number }>(
    `WITH due AS (
       SELECT id FROM deliveries
        WHERE channel = 'email' AND completed_at IS NULL AND status IN ('pending', 'retrying')
          AND coalesce(next_attempt_at, created_at) <= now()
          AND (queued_at IS NULL OR queued_at < now() - make_interval(secs => $1))
        ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
     )
     UPDATE deliveries d SET queued_at = now() FROM due WHERE d.id = due.id
     RETURNING d.id, d.event_id AS "eventId", d.attempts`, [staleSeconds, limit])
  return rows.sort((a, b) => a.id - b.id)
}

export async function suppressionCounts(db: Queryable): Promise<{ reason: string; count: number }[]> {
  const { rows } = await db.query<{ reason: string; count: number }>(
    'SELECT reason, count(*)::int AS count FROM email_suppressions GROUP BY reason')
  return rows
}
