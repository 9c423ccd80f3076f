// Owns the `webhook` BullMQ queue: chunk jobs of delivery ids only (never
// URLs, secrets or payloads), and every webhook job id (below). First
// attempts carry no priority, which BullMQ serves before any prioritised
// job; manual work comes next and scheduled retries last, so a dead
// partner's backlog never delays a fresh appeal.
import { Queue } from 'bullmq'
import type { RedisConnection } from '../queue/queues.js'
import { queueKeyPrefix } from '../queue/queues.js'

export const WEBHOOK_QUEUE = 'webhook'

/** Deliveries per chunk job: large enough to batch writes, small enough to spread over workers. */
export const CHUNK_SIZE = 200

export type AttemptTrigger = 'scheduled' | 'manual' | 'recover' | 'test'

export interface WebhookJob {
  ids: number[]
  trigger: Exclude<AttemptTrigger, 'test'>
}

export const PRIORITY = { manual: 1, recover: 2, retry: 5 } as const

// ---------------------------------------------------------------------------
// Job ids: every webhook job id is built here. BullMQ refuses ':' in a job
// id (event ids are uuids, delivery ids numbers: neither has one) and
// silently drops an add whose id an existing job still holds — including a
// finished job kept by `removeOnComplete`. So an id is derived from the data
// only where a second add of the same work must be a no-op; anything that
// can legitimately be enqueued again carries what makes it new (an attempt
// number, or the time of the enqueue). Prefixes differ per scheme, so no two
// schemes can produce the same id.

/**
 * A fan-out's chunk of first attempts (`wh-`): one per event and chunk, so a
 * fan-out retried after a crash enqueues nothing twice. Never enqueued again
 * for new work: later passes over these rows use the other schemes.
 */
export const firstAttemptsJobId = (eventId: string, firstId: number) => `wh-${eventId}-${firstId}`

/**
 * One delivery's scheduled retry (`whr-`): one per failed attempt — the
 * attempt count only grows, so each retry is new and a retry added twice
 * for the same failure is one job.
 */
export const retryJobId = (deliveryId: number, attempt: number) => `whr-${deliveryId}-${attempt}`

/**
 * Rows handed back because their endpoint was busy (`whd-`), stamped with
 * the time: the same rows can be deferred again later, and a chunk's rows
 * are held by one claim at a time.
 */
export const deferredJobId = (firstId: number, stampMs: number) => `whd-${firstId}-${stampMs}`

/** The reconciler's re-enqueue of overdue rows (`whc-`), stamped with the sweep's time: each sweep's find is new work. */
export const reconcileJobId = (firstId: number, stampMs: number) => `whc-${firstId}-${stampMs}`

/**
 * A partner's resend (`whm-`) or recover (`whv-`), stamped with the time:
 * asking again later must queue again, even while the earlier job is kept.
 */
export const partnerRequestJobId = (trigger: 'manual' | 'recover', firstId: number, stampMs: number) =>
  `${trigger === 'manual' ? 'whm' : 'whv'}-${firstId}-${stampMs}`

export function createWebhookQueue(connection: RedisConnection, prefix: string): Queue<WebhookJob> {
  const queue = new Queue<WebhookJob>(WEBHOOK_QUEUE, {
    connection, prefix: queueKeyPrefix(prefix, WEBHOOK_QUEUE),
    defaultJobOptions: {
      // Postgres holds every outcome; a job that throws (database down) is tried again, then left to the reconciler.
      attempts: 5, backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: 1000, removeOnFail: 10_000,
    },
  })
  queue.on('error', () => {}) // Redis outages surface as failed adds, which callers handle
  return queue
}

export function chunk<T>(items: readonly T[], size = CHUNK_SIZE): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
