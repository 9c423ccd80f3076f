// The webhook delivery channel (delivery/channel.ts contract): freezes an
// event's partner audience in one statement, enqueues chunk jobs of ids,
// and reconciles what Redis lost with what Postgres knows is due.
import type { Queue } from 'bullmq'
import type { Config } from '../config.js'
import type { Pool, Queryable } from '../db/pool.js'
import type { DeliveryChannel, WrittenByFanout } from '../delivery/channel.js'
import type { Frozen } from '../repositories/deliveries.js'
import type { EventRow } from '../repositories/events.js'
import { claimOverdue, freezeWebhookAudience, pendingIds, reviveStaleSending } from '../repositories/webhook-deliveries.js'
import { chunk, firstAttemptsJobId, headStartJobId, PRIORITY, reconcileJobId, type WebhookJob } from './queue.js'

/** A due row without a run for this long is presumed to have lost its job. */
const OVERDUE_SECONDS = 30
const RECONCILE_LIMIT = 5000
/** Partners frozen and enqueued ahead of the rest (one chunk job's worth of requests at once): their attempts start while the rest is frozen. */
const HEAD_START = 32

export class WebhookChannel implements DeliveryChannel {
  readonly name = 'webhook' as const

  constructor(private readonly deps: {
    pool: Pool
    config: Readonly<Config>
    queue: Queue<WebhookJob>
    /** Hands owed disable/recovery notices to the email queue again (a lost job, a Redis flush). */
    queueNotices?: () => Promise<number>
  }) {}

  async headStart(event: EventRow): Promise<Frozen> {
    // The freeze returns the ids it wrote: no second query before the first job goes out.
    const written = await freezeWebhookAudience(this.deps.pool, event.id, HEAD_START)
    if (written.pending.length > 0) {
      await this.deps.queue.add('deliver', { ids: written.pending, trigger: 'scheduled' }, { jobId: headStartJobId(event.id) })
    }
    return written
  }

  freeze(db: Queryable, event: EventRow): Promise<Frozen> {
    return freezeWebhookAudience(db, event.id)
  }

  /**
   * Chunk jobs for the event's pending rows. After a head start that wrote
   * rows, exactly the rows this fan-out's freeze of the rest wrote (both
   * handed over in `written` by the fan-out): the head start's
   * rows are in its own job only (each row in one job, no second claim of
   * them; an audience within the head start gets no second job at all).
   * Otherwise — a retried fan-out, whose freezes wrote nothing — every
   * pending row of the event is read and enqueued again (job ids keep that
   * idempotent; a row already claimed is a no-op).
   */
  async enqueue(event: EventRow, written?: WrittenByFanout): Promise<number> {
    const ids = written?.ahead && written.ahead.count > 0 && written.rest.pending
      ? written.rest.pending
      : await pendingIds(this.deps.pool, event.id)
    if (ids.length === 0) return 0
    // No priority: BullMQ serves these before every prioritised retry.
    await this.deps.queue.addBulk(chunk(ids).map((part) => ({
      name: 'deliver', data: { ids: part, trigger: 'scheduled' as const }, opts: { jobId: firstAttemptsJobId(event.id, part[0]!) },
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
