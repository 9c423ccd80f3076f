// Owns when a failed webhook delivery is tried again: WEBHOOK_RETRY_SCHEDULE
// with ±20 % jitter (so a partner coming back is not hit by every retry at
// once), Retry-After honoured within bounds, and the appeal's action
// deadline as a hard stop. Pure, so the rules are unit-tested directly.

export type RetryDecision =
  | { status: 'retrying'; nextAttemptAt: Date }
  | { status: 'failed' | 'expired'; nextAttemptAt: null }

export const JITTER = 0.2
/** The longest wait a Retry-After can ask for (or the schedule's longest step, if longer). */
export const RETRY_AFTER_MAX_SECONDS = 86_400

/**
 * `attemptsMade` counts the attempt that just failed. Retry-After can only
 * lengthen the wait (a receiver cannot make us hammer it), and at most to
 * one day (or the schedule's longest step, if longer).
 */
export function nextAttempt(o: {
  attemptsMade: number
  scheduleSeconds: readonly number[]
  retryAfterSeconds: number | null
  /** End of the appeal's action deadline; no retry is scheduled past it. */
  deadline: Date | null
  now?: number
  random?: () => number
}): RetryDecision {
  const now = o.now ?? Date.now()
  const step = o.scheduleSeconds[o.attemptsMade - 1]
  if (step === undefined) return { status: 'failed', nextAttemptAt: null }
  const jittered = step * (1 - JITTER + 2 * JITTER * (o.random ?? Math.random)())
  const longest = Math.max(RETRY_AFTER_MAX_SECONDS, ...o.scheduleSeconds)
  const asked = o.retryAfterSeconds === null ? 0 : Math.min(o.retryAfterSeconds, longest)
  const at = new Date(now + Math.max(jittered, asked) * 1000)
  if (o.deadline && at.getTime() > o.deadline.getTime()) return { status: 'expired', nextAttemptAt: null }
  return { status: 'retrying', nextAttemptAt: at }
}

/** An action deadline is a date: it passes at the end of that day, UTC. */
export function deadlineEnd(actionDeadline: string | null | undefined): Date | null {
  if (!actionDeadline || !/^\d{4}-\d{2}-\d{2}$/.test(actionDeadline)) return null
  return new Date(Date.parse(`${actionDeadline}T00:00:00Z`) + 86_400_000)
}
