// SQL of webhook delivery work in the shared `deliveries` table: freezing
// an event's audience in one INSERT … SELECT, claiming chunks, recording a
// batch of outcomes (a failure-free batch in one statement, others in one
// transaction with endpoint health), the reconciler's sweeps and the
// disable/recovery notices owed. Times travel as epoch milliseconds
// (float8 arrays): cheaper to send than Date objects turned into text.
import type { Queryable } from '../db/pool.js'
import { iso } from '../db/sql.js'
import { WEBHOOK_FINAL_STATUSES, type WebhookStatus } from './deliveries.js'

/**
 * Which endpoints (alias `w`, enabled or not) an event (alias `ev`: type,
 * organisation_id, test_endpoint, countries, themes, urgency) goes to. The
 * one rule: the fan-out's freeze and the console's "to how many partner
 * endpoints" count both use it.
 */
const ENDPOINT_MATCHES_EVENT = `CASE WHEN ev.type = 'webhook.test'
                 THEN w.id::text = ev.test_endpoint AND w.organisation_id = ev.organisation_id
                 ELSE w.event_types @> ARRAY[ev.type]
                  AND (ev.organisation_id IS NULL OR w.organisation_id = ev.organisation_id)
                  AND (w.countries = '{}' OR w.countries && ev.countries)
                  AND (w.themes = '{}' OR w.themes && ev.themes)
                  AND (w.min_urgency IS NULL
                       OR array_position(ARRAY['normal', 'high', 'critical'], ev.urgency)
                          >= array_position(ARRAY['normal', 'high', 'critical'], w.min_urgency))
            END`

/** An appeal event that is not written yet: what a freeze would match it by. */
export interface WebhookAudienceFilter { type: string; countries: string[]; themes: string[]; urgency: string }

/**
 * How many endpoints a freeze of such an event would write now (read-only;
 * the console's confirmations): `active` ones are sent it, `disabled` ones
 * get a `skipped` row. Appeal events belong to no one organisation.
 */
export async function countWebhookAudience(db: Queryable, f: WebhookAudienceFilter): Promise<{ active: number; disabled: number }> {
  const { rows } = await db.query<{ active: number; disabled: number }>(
    `WITH ev AS (
       SELECT $1::text AS type, NULL::uuid AS organisation_id, NULL::text AS test_endpoint,
              $2::text[] AS countries, $3::text[] AS themes, $4::text AS urgency)
     SELECT count(*) FILTER (WHERE w.status = 'active')::int AS active, count(*) FILTER (WHERE w.status <> 'active')::int AS disabled
       FROM ev JOIN webhook_endpoints w ON ${ENDPOINT_MATCHES_EVENT}`, [f.type, f.countries, f.themes, f.urgency])
  return rows[0]!
}

/** What one freeze statement wrote (freezeWebhookAudience). */
export interface FrozenSlice {
  /** Endpoints the statement matched, whether their rows are new or were already there. */
  matched: number
  /** Rows that were new (a retried fan-out's freezes write none). */
  count: number
  /** The ids of the new rows due now (`pending`), in id order. */
  pending: number[]
  /** The last endpoint matched (in id order): the next slice starts after it. Null when none matched. */
  last: string | null
}

/**
 * Writes one row per matching endpoint: event type, countries, themes and
 * minimum urgency of the appeal as the event carries it (the appeal row for
 * events without one, i.e. appeal.withdrawn). `webhook.test` goes to the
 * endpoint named in its data only. Disabled endpoints get `skipped` rows,
 * which `recover` can bring back. With `slice`, only the first `limit`
 * matching endpoints (in id order) after `after`: the fan-out freezes a
 * large audience in slices, each sent while the next is written. Rows
 * already there are left alone and not counted (a retried fan-out writes
 * nothing).
 */
export async function freezeWebhookAudience(db: Queryable, eventId: string, slice?: { after: string | null; limit: number }): Promise<FrozenSlice> {
  const { rows: [row] } = await db.query<{ matched: number; count: number; pending: number[]; last: string | null }>(
    `WITH ev AS (
       SELECT e.id, e.type, e.organisation_id,
              e.payload -> 'data' ->> 'endpointId' AS test_endpoint,
              CASE WHEN e.payload -> 'data' ? 'appeal'
                   THEN ARRAY(SELECT jsonb_array_elements_text(e.payload -> 'data' -> 'appeal' -> 'countries'))
                   ELSE a.countries END AS countries,
              CASE WHEN e.payload -> 'data' ? 'appeal'
                   THEN ARRAY(SELECT jsonb_array_elements_text(e.payload -> 'data' -> 'appeal' -> 'themes'))
                   ELSE a.themes END AS themes,
              coalesce(e.payload -> 'data' -> 'appeal' ->> 'urgency', a.urgency) AS urgency
         FROM events e LEFT JOIN appeals a ON a.id = e.appeal_id
        WHERE e.id = $1),
     matched AS (
       SELECT w.id, w.status = 'active' AS active
         FROM ev JOIN webhook_endpoints w ON ${ENDPOINT_MATCHES_EVENT}
        WHERE w.id > coalesce($2::uuid, '00000000-0000-0000-0000-000000000000')
        ORDER BY w.id LIMIT $3),
     written AS (
       INSERT INTO deliveries (event_id, channel, recipient_id, status, next_attempt_at, queued_at, last_error, completed_at)
       SELECT $1, 'webhook', m.id,
              CASE WHEN m.active THEN 'pending' ELSE 'skipped' END,
              CASE WHEN m.active THEN now() END,
              CASE WHEN m.active THEN now() END,
              CASE WHEN m.active THEN NULL ELSE 'endpoint disabled' END,
              CASE WHEN m.active THEN NULL ELSE now() END
         FROM matched m
       ORDER BY m.id
       ON CONFLICT (event_id, channel, recipient_id) DO NOTHING
       RETURNING id, status = 'pending' AS pending)
     SELECT (SELECT count(*) FROM matched)::int AS matched,
            (SELECT count(*) FROM written)::int AS count,
            -- JSON, which pg reads with JSON.parse: its bigint[] parser took ~3 µs per id.
            (SELECT coalesce(json_agg(id ORDER BY id) FILTER (WHERE pending), '[]') FROM written) AS pending,
            (SELECT id FROM matched ORDER BY id DESC LIMIT 1) AS last`,
    [eventId, slice?.after ?? null, slice?.limit ?? null])
  return { matched: row!.matched, count: row!.count, pending: row!.pending, last: row!.last }
}

/**
 * The event's deliveries still waiting for a first attempt, in id order.
 * They were stamped `queued_at` when frozen: if their jobs never land, the
 * reconciler takes them once that stamp is stale.
 */
export async function pendingIds(db: Queryable, eventId: string): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    `SELECT id FROM deliveries WHERE event_id = $1 AND channel = 'webhook' AND status = 'pending' ORDER BY id`, [eventId])
  return rows.map((r) => r.id)
}

export interface ClaimedDelivery {
  id: number
  eventId: string
  eventType: string
  payload: unknown
  endpointId: string
  attempts: number
  previousStatus: 'pending' | 'retrying'
  /** null when the endpoint has been deleted. */
  endpointStatus: 'active' | 'disabled' | null
  url: string | null
  secretCurrent: Buffer | null
  secretPrevious: Buffer | null
  previousActive: boolean
  actionDeadline: string | null
  /** The event's appeal has been withdrawn (as of the claim). */
  appealWithdrawn: boolean
  /** The endpoint was failing or owed a recovery notice (as of the claim): a success changes it. */
  endpointFlagged: boolean
}

const CLAIMED_COLUMNS = `
  SELECT c.id, c.event_id AS "eventId", ev.type AS "eventType", c.recipient_id AS "endpointId",
         c.attempts, c.previous_status AS "previousStatus", w.status AS "endpointStatus", w.url,
         w.secret_current AS "secretCurrent", w.secret_previous AS "secretPrevious",
         coalesce(w.secret_previous_expires_at > now(), false) AS "previousActive",
         a.action_deadline::text AS "actionDeadline", coalesce(a.status = 'withdrawn', false) AS "appealWithdrawn",
         coalesce(w.failing_since IS NOT NULL OR w.notify_on_recovery, false) AS "endpointFlagged"
    FROM claimed c JOIN events ev ON ev.id = c.event_id
    LEFT JOIN webhook_endpoints w ON w.id = c.recipient_id
    LEFT JOIN appeals a ON a.id = ev.appeal_id`
const CLAIMED_SELECT = CLAIMED_COLUMNS.replace('ev.type AS "eventType",', 'ev.type AS "eventType", ev.payload,')
const CLAIMED_ONCE = CLAIMED_COLUMNS.replace('ev.type AS "eventType",',
  'ev.type AS "eventType", CASE WHEN row_number() OVER (PARTITION BY c.event_id) = 1 THEN ev.payload END AS payload,')

/**
 * Moves due rows among `ids` to `sending` and returns what an attempt
 * needs. Rows another worker holds, already final, or not yet due are left
 * alone: a duplicated job is a no-op.
 */
export async function claimDeliveries(db: Queryable, ids: number[]): Promise<ClaimedDelivery[]> {
  // One round trip: the payload is the same for every row of an event, so it
  // comes (and is parsed) once per event, on that event's first row only.
  // The rows are picked by id alone and the channel is checked on the row
  // being updated: with `channel = 'webhook'` among the pick's conditions the
  // planner could take deliveries_webhook_recipient_idx (its predicate
  // matches) and read every webhook row of the table to find a chunk's 200
  // (Postgres CPU per claimed row 44 µs, against 30 µs picked by id).
  const { rows } = await db.query<ClaimedDelivery>({
    name: 'webhook-claim',
    text: `WITH picked AS (
       SELECT id, status FROM deliveries
        WHERE id = ANY($1::bigint[]) AND status IN ('pending', 'retrying')
          AND (next_attempt_at IS NULL OR next_attempt_at <= now() + interval '1 second')
        ORDER BY id FOR UPDATE SKIP LOCKED),
     claimed AS (
       UPDATE deliveries d SET status = 'sending', updated_at = now()
         FROM picked WHERE d.id = picked.id AND d.channel = 'webhook'
       RETURNING d.id, d.event_id, d.recipient_id, d.attempts, picked.status AS previous_status)
     ${CLAIMED_ONCE}`,
    values: [ids],
  })
  const payloads = new Map<string, unknown>()
  for (const row of rows) if (row.payload !== null) payloads.set(row.eventId, row.payload)
  for (const row of rows) row.payload = payloads.get(row.eventId)
  return rows
}

/** The same shape for one row the API has just inserted in `sending` (test pings). */
export async function loadSending(db: Queryable, id: number): Promise<ClaimedDelivery | null> {
  const { rows } = await db.query<ClaimedDelivery>(
    `WITH claimed AS (
       SELECT id, event_id, recipient_id, attempts, 'pending'::text AS previous_status FROM deliveries
        WHERE id = $1 AND status = 'sending')
     ${CLAIMED_SELECT}`, [id])
  return rows[0] ?? null
}

/** Gives claimed rows back unattempted (their endpoint was busy): due again shortly. */
export async function releaseDeliveries(db: Queryable, rows: { id: number; previousStatus: string }[], retryAt: Date): Promise<void> {
  if (rows.length === 0) return
  await db.query(
    `UPDATE deliveries d SET status = u.status, next_attempt_at = $3, queued_at = now(), updated_at = now()
       FROM unnest($1::bigint[], $2::text[]) AS u(id, status)
      WHERE d.id = u.id AND d.status = 'sending'`,
    [rows.map((r) => r.id), rows.map((r) => r.previousStatus), retryAt])
}

export interface AttemptRecord {
  deliveryId: number
  trigger: string
  address: string | null
  statusCode: number | null
  errorClass: string | null
  error: string | null
  durationMs: number
  response: string | null
  /** Epoch ms. */
  nextAttemptAt: number | null
  /** When the request started, epoch ms. */
  at: number
}

export interface DeliveryOutcome {
  id: number
  status: WebhookStatus
  /** 1 when an attempt was made, 0 when the row was closed without one (skipped, expired). */
  attempted: 0 | 1
  /** Epoch ms. */
  nextAttemptAt: number | null
  lastError: string | null
}

const ms = (column: string) => `to_timestamp(${column} / 1000)`

const ATTEMPT_COLUMNS = `INSERT INTO webhook_attempts (delivery_id, trigger, address, status_code, error_class, error, duration_ms, response, next_attempt_at, at)
     SELECT id, trigger, address, status_code, error_class, error, duration_ms, response, ${ms('next_ms')}, ${ms('at_ms')}
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::int[], $8::text[],
                   $9::float8[], $10::float8[]) AS a(id, trigger, address, status_code, error_class, error, duration_ms, response, next_ms, at_ms)`

const NEEDS_ESCAPE = /[\\"]/
const ESCAPED = /[\\"]/g

/**
 * One column of a batch as the text of a Postgres array, built here rather
 * than by pg, which runs two regex replaces on every element (numbers
 * included) and had most of a batch's client CPU. Postgres reads the same
 * text (a number unquoted, a string quoted), so its cost is unchanged.
 */
function arrayLiteral<T>(rows: readonly T[], value: (row: T) => string | number | null): string {
  let text = '{'
  for (let i = 0; i < rows.length; i++) {
    const v = value(rows[i]!)
    if (i > 0) text += ','
    if (v == null) text += 'NULL'
    else if (typeof v === 'number') text += v
    else text += '"' + (NEEDS_ESCAPE.test(v) ? v.replace(ESCAPED, '\\$&') : v) + '"'
  }
  return text + '}'
}

const attemptValues = (attempts: readonly AttemptRecord[]) => [
  arrayLiteral(attempts, (a) => a.deliveryId), arrayLiteral(attempts, (a) => a.trigger), arrayLiteral(attempts, (a) => a.address),
  arrayLiteral(attempts, (a) => a.statusCode), arrayLiteral(attempts, (a) => a.errorClass), arrayLiteral(attempts, (a) => a.error),
  arrayLiteral(attempts, (a) => a.durationMs), arrayLiteral(attempts, (a) => a.response), arrayLiteral(attempts, (a) => a.nextAttemptAt),
  arrayLiteral(attempts, (a) => a.at)]

/** Outcome columns from parameters $first… (five arrays) and the final statuses at $first+5; only rows still `sending` change. */
const outcomeUpdate = (first: number) => `UPDATE deliveries d
        SET status = u.status, attempts = d.attempts + u.attempted, next_attempt_at = ${ms('u.next_ms')}, last_error = u.err,
            completed_at = CASE WHEN u.status = ANY($${first + 5}::text[]) THEN now() END,
            queued_at = CASE WHEN u.status = 'retrying' THEN now() ELSE d.queued_at END,
            updated_at = now()
       FROM unnest($${first}::bigint[], $${first + 1}::text[], $${first + 2}::int[], $${first + 3}::float8[], $${first + 4}::text[])
            AS u(id, status, attempted, next_ms, err)
      WHERE d.id = u.id AND d.status = 'sending'`

const outcomeValues = (outcomes: readonly DeliveryOutcome[]) => [
  arrayLiteral(outcomes, (o) => o.id), arrayLiteral(outcomes, (o) => o.status), arrayLiteral(outcomes, (o) => o.attempted),
  arrayLiteral(outcomes, (o) => o.nextAttemptAt), arrayLiteral(outcomes, (o) => o.lastError), WEBHOOK_FINAL_STATUSES]

/** Inserts a batch of attempts in one statement; returns their ids in order (a test ping answers with its attempt). */
export async function insertAttempts(db: Queryable, attempts: readonly AttemptRecord[]): Promise<number[]> {
  if (attempts.length === 0) return []
  const { rows } = await db.query<{ id: number }>({
    name: 'webhook-insert-attempts', text: `${ATTEMPT_COLUMNS} RETURNING id`, values: attemptValues(attempts),
  })
  return rows.map((r) => r.id)
}

/** Records a batch of outcomes in one statement; rows no longer `sending` (endpoint deleted meanwhile) are left alone. */
export async function recordOutcomes(db: Queryable, outcomes: readonly DeliveryOutcome[]): Promise<void> {
  if (outcomes.length === 0) return
  await db.query({ name: 'webhook-record-outcomes', text: outcomeUpdate(1), values: outcomeValues(outcomes) })
}

/**
 * A batch that changes no endpoint (no attempt failed; none of its
 * endpoints was failing or owed a recovery notice when claimed) as ONE
 * statement, so one round trip with no BEGIN/COMMIT: a data-modifying CTE
 * inserts the attempts and updates the deliveries, atomically as any single
 * statement; no endpoint row is locked or written. Returns the endpoints
 * of its attempts that another batch has flagged since the claim (read as
 * of this statement) for the caller to apply with applyEndpointHealth — a
 * race between concurrent batches, never the case in a healthy fan-out.
 * Those endpoints are the updated rows' recipients (the UPDATE returns
 * them): not sent as a uuid array, whose text the client built element by
 * element. A row that was no longer `sending` (the reconciler revived it
 * while its attempt ran) still had its attempt: when the UPDATE missed any
 * row, the attempts' deliveries are read for their endpoints.
 */
export async function recordFailureFree(db: Queryable, attempts: readonly AttemptRecord[], outcomes: readonly DeliveryOutcome[]): Promise<string[]> {
  if (outcomes.length === 0) return []
  const { rows } = await db.query<{ id: string }>({
    name: 'webhook-record-failure-free',
    text: `WITH attempts AS (${ATTEMPT_COLUMNS}),
          outcomes AS (${outcomeUpdate(11)} RETURNING d.recipient_id, u.attempted)
     SELECT w.id FROM webhook_endpoints w
      WHERE (w.failing_since IS NOT NULL OR w.notify_on_recovery)
        AND w.id IN (SELECT recipient_id FROM outcomes WHERE attempted = 1
                     UNION ALL
                     SELECT d.recipient_id FROM deliveries d
                      WHERE d.id = ANY($1::bigint[]) AND (SELECT count(*) FROM outcomes) < cardinality($11::bigint[]))`,
    values: [...attemptValues(attempts), ...outcomeValues(outcomes)],
  })
  return rows.map((r) => r.id)
}

export interface EndpointHealth {
  endpointId: string
  /** The latest outcome in the batch. */
  ok: boolean
  /** A 410 was received: disable at once. */
  gone: boolean
  /** Start of the failures at the end of the batch, epoch ms (null when it ended in success). */
  firstFailureAt: number | null
}

export interface HealthTransition {
  id: string
  disabled: boolean
  recovered: boolean
  reason: 'gone' | 'failing'
}

/**
 * Applies the batch to each endpoint: a success clears `failing_since`; a
 * failure starts it; a 410, or failures for `disableAfterSeconds`, disable
 * an active endpoint and owe its contact a notice; the first success after
 * a disablement owes a recovery notice. Returns the transitions.
 */
export async function applyEndpointHealth(db: Queryable, health: EndpointHealth[], disableAfterSeconds: number): Promise<HealthTransition[]> {
  if (health.length === 0) return []
  // Lock in id order first, so concurrent batches touching the same endpoints neither deadlock nor read stale state.
  // Only endpoints whose state can change: a success on a healthy endpoint with no recovery owed writes nothing
  // (locking and rewriting every endpoint of every batch was most of a fan-out's endpoint writes).
  const { rows: locked } = await db.query<{ id: string }>(
    `SELECT w.id FROM webhook_endpoints w JOIN unnest($1::uuid[], $2::bool[]) AS u(id, ok) ON u.id = w.id
      WHERE NOT u.ok OR w.failing_since IS NOT NULL OR w.notify_on_recovery
      ORDER BY w.id FOR UPDATE OF w`,
    [health.map((h) => h.endpointId), health.map((h) => h.ok)])
  if (locked.length === 0) return []
  const lockedIds = new Set(locked.map((r) => r.id))
  health = health.filter((h) => lockedIds.has(h.endpointId))
  const ids = health.map((h) => h.endpointId)
  const { rows } = await db.query<HealthTransition>(
    `UPDATE webhook_endpoints w SET
        failing_since = x.failing_since,
        status = CASE WHEN x.disable THEN 'disabled' ELSE w.status END,
        disabled_reason = CASE WHEN x.disable THEN x.reason ELSE w.disabled_reason END,
        disabled_at = CASE WHEN x.disable THEN now() ELSE w.disabled_at END,
        notify_on_recovery = CASE WHEN x.disable THEN true WHEN x.recovered THEN false ELSE w.notify_on_recovery END,
        notice_pending = CASE WHEN x.disable THEN 'disabled' WHEN x.recovered THEN 'recovered' ELSE w.notice_pending END,
        version = CASE WHEN x.disable THEN w.version + 1 ELSE w.version END,
        updated_at = CASE WHEN x.disable THEN now() ELSE w.updated_at END
       FROM (
         SELECT w2.id,
                CASE WHEN u.ok THEN NULL ELSE coalesce(w2.failing_since, ${ms('u.first_failure_ms')}) END AS failing_since,
                (w2.status = 'active' AND NOT u.ok
                  AND (u.gone OR coalesce(w2.failing_since, ${ms('u.first_failure_ms')}) <= now() - make_interval(secs => $5::int))) AS disable,
                (u.ok AND w2.status = 'active' AND w2.notify_on_recovery) AS recovered,
                CASE WHEN u.gone THEN 'gone' ELSE 'failing' END AS reason
           FROM webhook_endpoints w2
           JOIN unnest($1::uuid[], $2::bool[], $3::bool[], $4::float8[]) AS u(id, ok, gone, first_failure_ms) ON u.id = w2.id
       ) x
      WHERE w.id = x.id
      RETURNING w.id, x.disable AS disabled, x.recovered, x.reason`,
    [ids, health.map((h) => h.ok), health.map((h) => h.gone), health.map((h) => h.firstFailureAt), disableAfterSeconds])
  return rows.filter((r) => r.disabled || r.recovered)
}

/** A disabled endpoint's unfinished deliveries become `skipped` (recoverable). */
export async function skipUnfinished(db: Queryable, endpointIds: string[]): Promise<number> {
  if (endpointIds.length === 0) return 0
  const result = await db.query(
    `UPDATE deliveries SET status = 'skipped', last_error = 'endpoint disabled', next_attempt_at = NULL,
            completed_at = now(), updated_at = now()
      WHERE channel = 'webhook' AND recipient_id = ANY($1) AND status IN ('pending', 'retrying')`, [endpointIds])
  return result.rowCount ?? 0
}

// ---------------------------------------------------------------------------
// Reconciler.

/** Rows stuck in `sending` (their worker died mid-attempt) become due again: at-least-once. */
export async function reviveStaleSending(db: Queryable, olderThanSeconds: number): Promise<number> {
  const result = await db.query(
    `UPDATE deliveries SET status = CASE WHEN attempts = 0 THEN 'pending' ELSE 'retrying' END,
            next_attempt_at = now(), updated_at = now()
      WHERE channel = 'webhook' AND completed_at IS NULL AND status = 'sending' AND updated_at < now() - make_interval(secs => $1::int)`,
    [olderThanSeconds])
  return result.rowCount ?? 0
}

/** Due rows whose job should have run a while ago; stamped so the next sweep leaves them to the new job. */
export async function claimOverdue(db: Queryable, graceSeconds: number, limit: number): Promise<{ id: number; attempts: number }[]> {
  const { rows } = await db.query<{ id: number; attempts: number }>(
    `WITH due AS (
       SELECT id FROM deliveries
        WHERE channel = 'webhook' AND completed_at IS NULL AND status IN ('pending', 'retrying')
          AND coalesce(next_attempt_at, created_at) <= now() - make_interval(secs => $1::int)
          AND (queued_at IS NULL OR queued_at <= now() - make_interval(secs => $1::int))
        ORDER BY next_attempt_at NULLS FIRST LIMIT $2 FOR UPDATE SKIP LOCKED)
     UPDATE deliveries d SET queued_at = now() FROM due WHERE d.id = due.id
     RETURNING d.id, d.attempts`, [graceSeconds, limit])
  return rows.sort((a, b) => a.id - b.id)
}

export type NoticeKind = 'disabled' | 'recovered'

export interface Notice {
  endpointId: string
  kind: NoticeKind
  url: string
  description: string | null
  disabledReason: string | null
  disabledAt: string | null
  organisationName: string
  contactEmail: string | null
  /** The organisation's language (BCP 47), for the notice's wording. */
  language: string
}

/** Endpoints owed a notice (the reconciler queues a mail for each; the mail job reads and clears it). */
export async function owedNotices(db: Queryable, limit: number): Promise<{ endpointId: string; kind: NoticeKind }[]> {
  const { rows } = await db.query<{ endpointId: string; kind: NoticeKind }>(
    `SELECT id AS "endpointId", notice_pending AS kind FROM webhook_endpoints
      WHERE notice_pending IS NOT NULL ORDER BY id LIMIT $1`, [limit])
  return rows
}

/** The notice an endpoint still owes, if it still owes this kind (nothing locked: no row stays locked while mail goes out). */
export async function findNotice(db: Queryable, endpointId: string, kind: NoticeKind): Promise<Notice | null> {
  const { rows } = await db.query<Notice>(
    `SELECT w.id AS "endpointId", w.notice_pending AS kind, w.url, w.description,
            w.disabled_reason AS "disabledReason", ${iso('w.disabled_at')} AS "disabledAt",
            o.name AS "organisationName", o.contact_email AS "contactEmail", o.language
       FROM webhook_endpoints w JOIN organisations o ON o.id = w.organisation_id
      WHERE w.id = $1 AND w.notice_pending = $2`, [endpointId, kind])
  return rows[0] ?? null
}

/** The notice was sent (or can never be): owed no more, unless the endpoint has moved on to another one meanwhile. */
export async function clearNotice(db: Queryable, endpointId: string, kind: NoticeKind): Promise<void> {
  await db.query('UPDATE webhook_endpoints SET notice_pending = NULL WHERE id = $1 AND notice_pending = $2', [endpointId, kind])
}

/** A test ping's delivery, inserted already claimed (`sending`) by the API, which attempts it at once. */
export async function insertTestDelivery(db: Queryable, eventId: string, endpointId: string): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO deliveries (event_id, channel, recipient_id, status, next_attempt_at, queued_at)
     VALUES ($1, 'webhook', $2, 'sending', now(), now()) RETURNING id`, [eventId, endpointId])
  return rows[0]!.id
}
