// Owns the first stage of a webhook chunk job: claiming its due rows
// (`sending`, so no other worker takes them; a long job's in two
// statements, so that its first requests need not wait for the whole
// claim), closing at once the ones that need no attempt (withdrawn appeal,
// deleted or disabled endpoint, a retry past the action deadline —
// outcome.ts decides), and handing back rows whose endpoint stayed busy
// (endpoint-slots.ts) to be tried shortly in a new job.
import type { Queue } from 'bullmq'
import type { Pool } from '../db/pool.js'
import type { Logger } from '../logger.js'
import { claimDeliveries, releaseDeliveries, type ClaimedDelivery } from '../repositories/webhook-deliveries.js'
import { closedWithoutAttempt, closeReasonAtClaim, type Finished } from './outcome.js'
import { deferredJobId, PRIORITY, type WebhookJob } from './queue.js'

/** How long a deferred row waits before its new job. */
const DEFER_MS = 2000

export interface ClaimedChunk {
  /** Rows to attempt now. */
  toAttempt: ClaimedDelivery[]
  /** Rows closed without an attempt, ready to record. */
  closed: Finished[]
}

export interface PipelinedClaim {
  /** The job's first ids, claimed. */
  first: ClaimedChunk
  /** The other ids, being claimed while the caller works on `first`; null when the job had no others. */
  rest: Promise<ClaimedChunk> | null
}

/**
 * Claims the due rows among the job's ids (rows held elsewhere, final or not
 * due are left alone: a duplicated job is a no-op). A job of more than
 * `head` ids is claimed in two statements: its first `head` ids, then the
 * others, started as soon as the first are back and left running for the
 * caller, who sends the first rows meanwhile: under a fan-out's concurrent
 * chunk jobs a 200-row claim takes tens of ms, and the first requests need
 * not wait for it.
 */
export async function claimChunk(pool: Pool, job: WebhookJob, head: number): Promise<PipelinedClaim> {
  if (job.ids.length <= head) return { first: await claimDue(pool, job.ids, job.trigger), rest: null }
  const first = await claimDue(pool, job.ids.slice(0, head), job.trigger)
  return { first, rest: claimDue(pool, job.ids.slice(head), job.trigger) }
}

async function claimDue(pool: Pool, ids: number[], trigger: WebhookJob['trigger']): Promise<ClaimedChunk> {
  const now = Date.now()
  const claimed = await claimDeliveries(pool, ids)
  const chunk: ClaimedChunk = { toAttempt: [], closed: [] }
  for (const row of claimed) {
    const reason = closeReasonAtClaim(row, trigger, now)
    if (reason) chunk.closed.push(closedWithoutAttempt(row, reason))
    else chunk.toAttempt.push(row)
  }
  return chunk
}

/**
 * Rows whose endpoint stayed busy: handed back unattempted, due again in
 * DEFER_MS, in a new job. If Redis refuses the job, the reconciler finds
 * the rows due and enqueues them.
 */
export async function deferBusy(deps: { pool: Pool; queue: () => Queue<WebhookJob>; logger: Pick<Logger, 'warn'> },
  rows: ClaimedDelivery[], trigger: WebhookJob['trigger']): Promise<void> {
  if (rows.length === 0) return
  const now = Date.now()
  await releaseDeliveries(deps.pool, rows, new Date(now + DEFER_MS))
  const ids = rows.map((r) => r.id)
  await deps.queue().add('deliver', { ids, trigger }, {
    delay: DEFER_MS, priority: trigger === 'scheduled' ? PRIORITY.retry : PRIORITY[trigger], jobId: deferredJobId(ids[0]!, now),
  }).catch((err: unknown) => deps.logger.warn({ err }, 'could not enqueue deferred webhook deliveries; the reconciler will'))
}
