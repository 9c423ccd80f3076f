// Owns the first stage of a webhook chunk job: claiming its due rows
// (`sending`, so no other worker takes them), closing at once the ones that
// need no attempt (withdrawn appeal, deleted or disabled endpoint, a retry
// past the action deadline — outcome.ts decides), and handing back rows
// whose endpoint stayed busy (endpoint-slots.ts) to be tried shortly in a
// new job.
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

/** Claims the due rows among the job's ids (rows held elsewhere, final or not due are left alone: a duplicated job is a no-op). */
export async function claimChunk(pool: Pool, job: WebhookJob, now: number): Promise<ClaimedChunk> {
  const claimed = await claimDeliveries(pool, job.ids)
  const chunk: ClaimedChunk = { toAttempt: [], closed: [] }
  for (const row of claimed) {
    const reason = closeReasonAtClaim(row, job.trigger, now)
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
