// Owns the `email` queue: its job shapes (ids only, never addresses or
// content), job ids, priorities and how EMAIL_MAX_PER_SECOND becomes a
// global BullMQ limiter. Alerts travel as chunks of delivery ids;
// confirmation mails as one subscription id each; notices to a partner's
// contact as the endpoint id and the kind of notice; a console enrolment
// link as its id (the worker derives the token: it never travels).
import { Queue, type JobsOptions } from 'bullmq'
import type { RedisConnection } from '../queue/queues.js'
import { queueKeyPrefix } from '../queue/queues.js'
import type { DueConfirmation } from '../repositories/subscriptions.js'

export const EMAIL_QUEUE = 'email'

export type EmailJob =
  | { kind: 'alert'; eventId: string; ids: number[] }
  /** `sentAtMs`: which of the subscription's confirmations (absent in jobs queued by older releases). */
  | { kind: 'confirmation'; subscriptionId: string; sentAtMs?: number }
  | { kind: 'notice'; endpointId: string; notice: 'disabled' | 'recovered' }
  | { kind: 'enrolment'; enrolmentId: string }

/** Delivery ids per chunk job: big enough to amortise a job, small enough to keep memory flat. */
export const CHUNK_SIZE = 500

/**
 * Lower is sooner: a supporter waiting for a confirmation should not wait
 * behind 100 000 alert mails, and first attempts go before retries.
 */
export const PRIORITY = { confirmation: 1, notice: 1, enrolment: 1, first: 2, retry: 3 } as const

/**
 * With a global cap of `maxPerSecond` mails, each chunk holds at most one
 * second of mail and the limiter starts one chunk per `duration`, so the
 * cap holds across every worker without a Redis round trip per mail.
 */
export function chunkSizeFor(maxPerSecond: number): number {
  return maxPerSecond > 0 ? Math.max(1, Math.min(CHUNK_SIZE, maxPerSecond)) : CHUNK_SIZE
}

export function limiterFor(maxPerSecond: number): { max: number; duration: number } | undefined {
  if (maxPerSecond <= 0) return undefined
  return { max: 1, duration: Math.ceil((chunkSizeFor(maxPerSecond) * 1000) / maxPerSecond) }
}

/** BullMQ job ids cannot contain ':'; event ids and uuids never do. */
export const alertJobId = (eventId: string, attempt: number, firstId: number) => `email-${eventId}-a${attempt}-${firstId}`
export const confirmationJobId = (due: DueConfirmation) => `confirm-${due.subscriptionId}-${due.sentAtMs}`
export const noticeJobId = (endpointId: string, notice: string) => `notice-${endpointId}-${notice}`
export const enrolmentJobId = (enrolmentId: string) => `enrol-${enrolmentId}`

export function alertJob(eventId: string, ids: number[], attempt: number, delayMs = 0): { name: string; data: EmailJob; opts: JobsOptions } {
  return {
    name: 'alert',
    data: { kind: 'alert', eventId, ids },
    opts: {
      jobId: alertJobId(eventId, attempt, ids[0] ?? 0),
      priority: attempt > 1 ? PRIORITY.retry : PRIORITY.first,
      ...(delayMs > 0 ? { delay: delayMs } : {}),
    },
  }
}

/** Backoff type whose delays follow EMAIL_RETRY_SCHEDULE (see `scheduleBackoff`). */
export const SCHEDULE_BACKOFF = 'email-schedule'

export function scheduleBackoff(retryScheduleSeconds: readonly number[]) {
  return (attemptsMade: number) => (retryScheduleSeconds[Math.max(0, attemptsMade - 1)] ?? retryScheduleSeconds.at(-1) ?? 60) * 1000
}

/** A confirmation mail: temporary failures are retried by BullMQ on EMAIL_RETRY_SCHEDULE. */
export function confirmationJob(due: DueConfirmation, retryScheduleSeconds: readonly number[]): { name: string; data: EmailJob; opts: JobsOptions } {
  return {
    name: 'confirmation',
    data: { kind: 'confirmation', subscriptionId: due.subscriptionId, sentAtMs: due.sentAtMs },
    // One id per confirmation: a duplicate enqueue of the same one (the
    // reconciler while the first still waits) is ignored, while a newer
    // link's mail never collides with an older one still sending.
    opts: {
      jobId: confirmationJobId(due), priority: PRIORITY.confirmation, removeOnComplete: true, removeOnFail: true,
      attempts: retryScheduleSeconds.length + 1, backoff: { type: SCHEDULE_BACKOFF },
    },
  }
}

/** A notice to a partner's contact: like a confirmation, one mail retried on EMAIL_RETRY_SCHEDULE, deduplicated while waiting. */
export function noticeJob(endpointId: string, notice: 'disabled' | 'recovered', retryScheduleSeconds: readonly number[]): { name: string; data: EmailJob; opts: JobsOptions } {
  return {
    name: 'notice',
    data: { kind: 'notice', endpointId, notice },
    opts: {
      jobId: noticeJobId(endpointId, notice), priority: PRIORITY.notice, removeOnComplete: true, removeOnFail: true,
      attempts: retryScheduleSeconds.length + 1, backoff: { type: SCHEDULE_BACKOFF },
    },
  }
}

/** A console enrolment link to its person: one mail, retried on EMAIL_RETRY_SCHEDULE while the link still works. */
export function enrolmentJob(enrolmentId: string, retryScheduleSeconds: readonly number[]): { name: string; data: EmailJob; opts: JobsOptions } {
  return {
    name: 'enrolment',
    data: { kind: 'enrolment', enrolmentId },
    opts: {
      jobId: enrolmentJobId(enrolmentId), priority: PRIORITY.enrolment, removeOnComplete: true, removeOnFail: true,
      attempts: retryScheduleSeconds.length + 1, backoff: { type: SCHEDULE_BACKOFF },
    },
  }
}

export function createEmailQueue(connection: RedisConnection, prefix: string): Queue<EmailJob> {
  const queue = new Queue<EmailJob>(EMAIL_QUEUE, {
    connection, prefix: queueKeyPrefix(prefix, EMAIL_QUEUE),
    // Alert chunks record per-recipient outcomes themselves; a job-level
    // retry only covers a crash or a database outage mid-chunk.
    defaultJobOptions: { attempts: 5, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: 1000, removeOnFail: 10_000 },
  })
  queue.on('error', () => {}) // Redis outages surface as failed adds, which callers handle (the reconciler catches up)
  return queue
}
