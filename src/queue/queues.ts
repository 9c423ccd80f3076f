// Owns the BullMQ queues and their Redis connections. Keys share the `{ua}`
// hash tag so Redis Cluster keeps each queue in one slot; job data holds
// ids only, never addresses or payloads.
import { Queue } from 'bullmq'
import { Redis, type RedisOptions } from 'ioredis'

export const QUEUE = { fanout: 'fanout', maintenance: 'maintenance' } as const

/** Job ids cannot contain ':' in BullMQ; event ids never do. */
export const fanoutJobId = (eventId: string) => `fanout-${eventId}`

/**
 * Job locks of every worker: the jobs of a worker that died are handed to
 * another within about lockDuration + stalledInterval (20 s instead of
 * BullMQ's 60 s). Locks are renewed every lockDuration / 2, so only an
 * event loop blocked for 15 s could see a job start twice, which delivery
 * tolerates (at-least-once; claims skip rows already finished).
 */
export const WORKER_LOCKS = { lockDuration: 15_000, stalledInterval: 5_000 } as const

export interface FanoutJob {
  eventId: string
}

/**
 * A connection for commands that must fail fast while Redis is down
 * (readiness checks, the outbox relay), rather than queue up in memory: no
 * offline queue, so a command sent while disconnected fails at once. A
 * command already in flight when the connection drops is sent again once it
 * is back rather than failed after one retry: BullMQ initialises each
 * queue once (an INFO on first connect), and a failed initialisation left
 * the queue unusable until a restart (a blip during a worker's start-up
 * stopped its relay for good). Every caller bounds its own wait.
 */
export function createFailFastRedis(url: string, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null, enableOfflineQueue: false, connectTimeout: 2000, ...options })
  redis.on('error', () => {}) // reconnects by itself; callers see the failed command
  return redis
}

/** A connection for BullMQ workers: blocking commands need no retry cap. */
export function createWorkerRedis(url: string): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null })
  redis.on('error', () => {})
  return redis
}

export function createFanoutQueue(connection: Redis, prefix: string): Queue<FanoutJob> {
  const queue = new Queue<FanoutJob>(QUEUE.fanout, {
    connection, prefix,
    defaultJobOptions: { attempts: 10, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: 1000, removeOnFail: 10_000 },
  })
  // Without a listener BullMQ prints every reconnect failure to stderr; the
  // relay sees the failed command itself and logs it, rate-limited.
  queue.on('error', () => {})
  return queue
}
