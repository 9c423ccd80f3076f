// The email delivery channel (contract §6, architecture "fan-out"): freezes
// an event's supporter audience with one INSERT … SELECT, enqueues chunk
// jobs of delivery ids a page at a time from one cursor (memory stays flat whatever the
// audience), and reconciles rows whose job was lost, and confirmation mails
// that never left.
import type { Queue } from 'bullmq'
import type { Pool } from '../db/pool.js'
import type { DeliveryChannel, FannedOut } from '../delivery/channel.js'
import type { EventRow } from '../repositories/events.js'
import { forEachPendingPage, freezeEmailAudience, takeStaleDue } from '../repositories/email-deliveries.js'
import { dueConfirmations } from '../repositories/subscriptions.js'
import { isMailworthy, type AlertEvent } from './alert-message.js'
import { alertJob, chunkSizeFor, confirmationJob, type EmailJob } from './queue.js'

/**
 * A due row queued longer ago than this, with nothing runnable in the
 * queue, has lost its job. Short, because a wrong guess costs only a
 * spare job (its claims skip rows already held or finished), while every
 * second of it is a second of alerts waiting after Redis lost its data.
 */
export const STALE_AFTER_SECONDS = 20
const RECONCILE_BATCH = 10_000
const ENQUEUE_PAGE = 5_000

export class EmailChannel implements DeliveryChannel {
  readonly name = 'email' as const
  private readonly chunkSize: number

  constructor(private readonly deps: {
    pool: Pool
    queue: Queue<EmailJob>
    maxPerSecond: number
    retryScheduleSeconds: readonly number[]
  }) {
    this.chunkSize = chunkSizeFor(deps.maxPerSecond)
  }

  /** The whole audience in one statement, then its jobs a page of ids at a time. */
  async fanOut(event: EventRow): Promise<FannedOut> {
    const payload = event.payload as unknown as AlertEvent
    if (!isMailworthy(payload)) return { count: 0, enqueued: Promise.resolve(0) }
    const appeal = payload.data.appeal!
    const count = await freezeEmailAudience(this.deps.pool, event.id, { countries: appeal.countries, themes: appeal.themes ?? [], urgency: appeal.urgency })
    return { count, enqueued: this.enqueue(event) }
  }

  private async enqueue(event: EventRow): Promise<number> {
    let jobs = 0
    await forEachPendingPage(this.deps.pool, event.id, ENQUEUE_PAGE, async (ids) => {
      const batch = []
      for (let i = 0; i < ids.length; i += this.chunkSize) batch.push(alertJob(event.id, ids.slice(i, i + this.chunkSize), 1))
      await this.deps.queue.addBulk(batch)
      jobs += batch.length
    })
    return jobs
  }

  async reconcile(): Promise<number> {
    // Runnable jobs waiting means workers will reach their rows: only an
    // idle queue with stale due rows says a job was lost (e.g. Redis flushed).
    const counts = await this.deps.queue.getJobCounts('waiting', 'prioritized', 'active')
    const idle = (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.active ?? 0) === 0
    // Confirmation mails decided on but never handed to SMTP: the same job
    // id is ignored while the original still waits, so this is harmless.
    const confirmations = await dueConfirmations(this.deps.pool, STALE_AFTER_SECONDS, 1000)
    if (confirmations.length > 0) {
      await this.deps.queue.addBulk(confirmations.map((due) => confirmationJob(due, this.deps.retryScheduleSeconds)))
    }
    if (!idle) return confirmations.length
    const rows = await takeStaleDue(this.deps.pool, STALE_AFTER_SECONDS, RECONCILE_BATCH)
    const groups = new Map<string, number[]>()
    for (const r of rows) {
      const key = `${r.eventId}|${r.attempts + 1}`
      const ids = groups.get(key) ?? []
      ids.push(r.id)
      groups.set(key, ids)
    }
    const batch = []
    const stamp = Date.now().toString(36) // a fresh job id: the lost job's id may still be held by a finished job
    for (const [key, ids] of groups) {
      const [eventId, attempt] = key.split('|') as [string, string]
      for (let i = 0; i < ids.length; i += this.chunkSize) {
        const job = alertJob(eventId, ids.slice(i, i + this.chunkSize), Number(attempt))
        job.opts.jobId = `${job.opts.jobId}-r${stamp}`
        batch.push(job)
      }
    }
    if (batch.length > 0) await this.deps.queue.addBulk(batch)
    return confirmations.length + rows.length
  }
}
