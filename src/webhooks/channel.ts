// The webhook delivery channel (delivery/channel.ts contract): freezes an
// event's partner audience in slices, each slice's chunk jobs of ids handed
// to Redis as soon as its rows are written, and reconciles what Redis lost
// with what Postgres knows is due.
import type { Queue } from 'bullmq'
import type { Config } from '../config.js'
import type { Pool } from '../db/pool.js'
import type { DeliveryChannel, FannedOut } from '../delivery/channel.js'
import type { EventRow } from '../repositories/events.js'
import { claimOverdue, freezeWebhookAudience, pendingIds, reviveStaleSending } from '../repositories/webhook-deliveries.js'
import { chunk, firstAttemptsJobId, PRIORITY, reconcileJobId, type WebhookJob } from './queue.js'

/** A due row without a run for this long is presumed to have lost its job. */
const OVERDUE_SECONDS = 30
const RECONCILE_LIMIT = 5000
/**
 * Partners frozen per statement of a fan-out: first one chunk job's worth
 * of requests at once (32), so the first partners are called within
 * milliseconds of the fan-out, then one chunk (200), then two chunks (400)
 * per statement until the audience is done. Each slice is written while the
 * earlier ones are being sent; a larger slice would make the sending wait
 * for its statement (with 800- and 1 600-row slices the requests of a
 * 2 000-partner fan-out stalled for ~20 ms between slices).
 */
const FIRST_SLICES = [32, 200] as const
const SLICE = 400

export class WebhookChannel implements DeliveryChannel {
  readonly name = 'webhook' as const

  constructor(private readonly deps: {
    pool: Pool
    config: Readonly<Config>
    queue: Queue<WebhookJob>
    /** Hands owed disable/recovery notices to the email queue again (a lost job, a Redis flush). */
    queueNotices?: () => Promise<number>
  }) {}

  /**
   * Slice by slice, in endpoint id order: each slice's new pending rows go
   * out in chunk jobs at once, while the next slice is frozen, so each row is
   * in exactly one job. When some matching rows were already there (a
   * retried fan-out), every pending row of the event is enqueued again at
   * the end: Redis may have lost the first run's jobs (a row already
   * claimed makes the second job's claim a no-op).
   */
  async fanOut(event: EventRow): Promise<FannedOut> {
    const jobs: Promise<number>[] = []
    let count = 0
    let retried = false
    let after: string | null = null
    try {
      for (let i = 0; ; i++) {
        const limit = FIRST_SLICES[i] ?? SLICE
        const slice = await freezeWebhookAudience(this.deps.pool, event.id, { after, limit })
        count += slice.count
        if (slice.count < slice.matched) retried = true
        if (slice.pending.length > 0) {
          const job = this.enqueueFirstAttempts(event.id, slice.pending)
          job.catch(() => {}) // awaited in `enqueued`; a failure there fails the fan-out job
          jobs.push(job)
        }
        if (slice.matched < limit) break
        after = slice.last
      }
    } catch (error) {
      await Promise.allSettled(jobs) // nothing left running behind a failed fan-out
      throw error
    }
    const enqueued = Promise.all(jobs).then(async (sizes) => (retried
      ? this.enqueueFirstAttempts(event.id, await pendingIds(this.deps.pool, event.id))
      : sizes.reduce((a, b) => a + b, 0)))
    return { count, enqueued }
  }

  /** Chunk jobs of first attempts, one id per chunk's first row (no priority: BullMQ serves these before every prioritised retry). */
  private async enqueueFirstAttempts(eventId: string, ids: number[]): Promise<number> {
    if (ids.length === 0) return 0
    await this.deps.queue.addBulk(chunk(ids).map((part) => ({
      name: 'deliver', data: { ids: part, trigger: 'scheduled' as const }, opts: { jobId: firstAttemptsJobId(eventId, part[0]!) },
    })))
    return ids.length
  }

  async reconcile(): Promise<number> {
    const { pool, config, queue } = this.deps
    // A worker that died mid-attempt leaves `sending` rows: due again once they cannot still be in flight.
    await reviveStaleSending(pool, Math.ceil(config.webhook.timeoutMs / 1000) * 2 + 60)
    const overdue = await claimOverdue(pool, OVERDUE_SECONDS, RECONCILE_LIMIT)
    const stamp = Date.now()
    if (overdue.length > 0) {
      const fresh = overdue.filter((r) => r.attempts === 0).map((r) => r.id)
      const retries = overdue.filter((r) => r.attempts > 0).map((r) => r.id)
      await queue.addBulk([
        ...chunk(fresh).map((ids) => ({ name: 'deliver', data: { ids, trigger: 'scheduled' as const }, opts: { jobId: reconcileJobId(ids[0]!, stamp) } })),
        ...chunk(retries).map((ids) => ({
          name: 'retry', data: { ids, trigger: 'scheduled' as const }, opts: { jobId: reconcileJobId(ids[0]!, stamp), priority: PRIORITY.retry },
        })),
      ])
    }
    await this.deps.queueNotices?.()
    return overdue.length
  }
}
