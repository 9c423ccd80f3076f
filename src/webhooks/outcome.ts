// Owns what becomes of a claimed webhook delivery: pure functions (no I/O,
// the clock passed in) from a claimed row and its AttemptResult — or the
// reason it is closed without an attempt — to the outcome to record: the
// delivery's status, its next attempt, its last error, the attempt's log
// row, and what it means for the endpoint's health. record.ts writes what
// these decide; test/webhook-outcome.test.ts checks the rules directly.
import type { WebhookStatus } from '../repositories/deliveries.js'
import type { AttemptRecord, ClaimedDelivery, DeliveryOutcome, EndpointHealth } from '../repositories/webhook-deliveries.js'
import type { AttemptResult } from './http-client.js'
import type { AttemptTrigger } from './queue.js'
import { deadlineEnd, nextAttempt } from './schedule.js'

/** Events that carry no appeal content: sent whatever became of the appeal. */
const CONTENT_FREE_EVENTS: ReadonlySet<string> = new Set(['appeal.withdrawn', 'webhook.test'])

/** Why a claimed row is closed without an attempt. */
export type CloseReason = 'withdrawn' | 'endpoint-deleted' | 'endpoint-disabled' | 'deadline-passed' | 'secret-unreadable'

const CLOSED: Record<CloseReason, { status: WebhookStatus; lastError: string }> = {
  withdrawn: { status: 'cancelled', lastError: 'the appeal was withdrawn' },
  'endpoint-deleted': { status: 'skipped', lastError: 'endpoint deleted' },
  'endpoint-disabled': { status: 'skipped', lastError: 'endpoint disabled' },
  'deadline-passed': { status: 'expired', lastError: 'the appeal\'s action deadline has passed' },
  'secret-unreadable': { status: 'failed', lastError: 'signing secret cannot be decrypted (was SECRETS_KEY changed?)' },
}

/**
 * What one row does to its endpoint's health: nothing (no attempt), a
 * success, a failure (counts towards disabling after WEBHOOK_DISABLE_AFTER),
 * or a 410 Gone (disables at once).
 */
export type HealthEffect = 'none' | 'ok' | 'failing' | 'gone'

/** A claimed row's decided outcome, ready to record. */
export interface Finished {
  row: ClaimedDelivery
  outcome: DeliveryOutcome
  /** The attempt's log row; null when none was made. */
  attempt: AttemptRecord | null
  /** The HTTP result, for the metrics; null when no attempt was made. */
  result: AttemptResult | null
  health: HealthEffect
}

/** Rows of an appeal's content events must be asked about withdrawal just before their attempt. */
export function carriesAppealContent(row: Pick<ClaimedDelivery, 'eventType'>): boolean {
  return !CONTENT_FREE_EVENTS.has(row.eventType)
}

/**
 * Whether a row just claimed is closed without an attempt: the appeal was
 * withdrawn (content events only), the endpoint was deleted or disabled, or
 * a scheduled retry has reached the appeal's action deadline (a partner's
 * explicit resend or recover still goes).
 */
export function closeReasonAtClaim(row: ClaimedDelivery, trigger: AttemptTrigger, now: number): CloseReason | null {
  if (row.appealWithdrawn && carriesAppealContent(row)) return 'withdrawn'
  if (row.endpointStatus === null) return 'endpoint-deleted'
  if (row.endpointStatus === 'disabled') return 'endpoint-disabled'
  const deadline = deadlineEnd(row.actionDeadline)
  if (trigger === 'scheduled' && row.previousStatus === 'retrying' && deadline && deadline.getTime() < now) return 'deadline-passed'
  return null
}

export function closedWithoutAttempt(row: ClaimedDelivery, reason: CloseReason): Finished {
  const { status, lastError } = CLOSED[reason]
  return { row, outcome: { id: row.id, status, attempted: 0, nextAttemptAt: null, lastError }, attempt: null, result: null, health: 'none' }
}

export interface AttemptContext {
  trigger: AttemptTrigger
  /** When the request started (epoch ms): the attempt's `at`. */
  startedAt: number
  /** When the answer came (epoch ms): retries are scheduled from here. */
  now: number
  /** WEBHOOK_RETRY_SCHEDULE: the wait before each retry, in seconds. */
  scheduleSeconds: readonly number[]
  /** For the schedule's jitter (tests pass a fixed one). */
  random?: () => number
}

/**
 * After an attempt: a 2xx is delivered; a 410 Gone fails the delivery and
 * disables the endpoint; anything else (HTTP error, timeout, a refused
 * address…) is retried on the schedule — Retry-After can only lengthen the
 * wait — until the schedule ends (failed) or the next try would fall past
 * the appeal's action deadline (expired).
 */
export function afterAttempt(row: ClaimedDelivery, result: AttemptResult, c: AttemptContext): Finished {
  let outcome: DeliveryOutcome
  let health: HealthEffect
  if (result.ok) {
    outcome = { id: row.id, status: 'delivered', attempted: 1, nextAttemptAt: null, lastError: null }
    health = 'ok'
  } else if (result.statusCode === 410) {
    outcome = { id: row.id, status: 'failed', attempted: 1, nextAttemptAt: null, lastError: 'HTTP 410: the endpoint is gone; it has been disabled' }
    health = 'gone'
  } else {
    const decision = nextAttempt({
      attemptsMade: row.attempts + 1, scheduleSeconds: c.scheduleSeconds, retryAfterSeconds: result.retryAfterSeconds,
      deadline: deadlineEnd(row.actionDeadline), now: c.now, ...(c.random ? { random: c.random } : {}),
    })
    outcome = { id: row.id, status: decision.status, attempted: 1, nextAttemptAt: decision.nextAttemptAt?.getTime() ?? null, lastError: result.error }
    health = 'failing'
  }
  return {
    row, outcome, result, health,
    attempt: {
      deliveryId: row.id, trigger: c.trigger, address: result.address, statusCode: result.statusCode, errorClass: result.errorClass,
      error: result.error, durationMs: result.durationMs, response: result.response, nextAttemptAt: outcome.nextAttemptAt, at: c.startedAt,
    },
  }
}

/**
 * The batch changes no endpoint: no attempt failed (no failure run starts,
 * nothing is disabled) and no endpoint it reached was failing or owed a
 * recovery notice when claimed (no run ends, no notice is owed).
 */
export function changesNoEndpoint(items: readonly Finished[]): boolean {
  return items.every((i) => i.health === 'none' || (i.health === 'ok' && !i.row.endpointFlagged))
}

/**
 * Per endpoint, what a batch (in the order its rows finished) leaves: the
 * latest outcome, any 410, and when the run of failures at its end began
 * (`now` if a 410 was followed by a success: the endpoint stays gone).
 */
export function endpointHealth(items: readonly Finished[], now: number): EndpointHealth[] {
  const byEndpoint = new Map<string, EndpointHealth>()
  for (const item of items) {
    if (item.health === 'none' || !item.attempt) continue
    const id = item.row.endpointId
    const h = byEndpoint.get(id) ?? { endpointId: id, ok: true, gone: false, firstFailureAt: null }
    if (item.health === 'ok') { h.ok = true; h.firstFailureAt = null } else {
      if (h.ok) h.firstFailureAt = item.attempt.at
      h.ok = false
    }
    if (item.health === 'gone') h.gone = true
    byEndpoint.set(id, h)
  }
  return [...byEndpoint.values()].map((h) => {
    const ok = h.ok && !h.gone
    return { ...h, ok, firstFailureAt: ok ? null : h.firstFailureAt ?? now }
  })
}
