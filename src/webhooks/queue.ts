// Owns the `webhook` BullMQ queue: chunk jobs of delivery ids only (never
// URLs, secrets or payloads). First attempts carry no priority, which BullMQ
// serves before any prioritised job; manual work comes next and scheduled
// retries last, so a dead partner's backlog never delays a fresh appeal.
import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
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

export function createWebhookQueue(connection: Redis, prefix: string): Queue<WebhookJob> {
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
