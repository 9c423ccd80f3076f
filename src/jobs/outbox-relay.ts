// Owns moving committed events from the Postgres outbox to Redis: claims
// undispatched rows (SKIP LOCKED, so relays in several workers share the
// work), enqueues one idempotent fan-out job per event, marks them
// dispatched in the same transaction. If Redis is down the transaction
// rolls back and the next sweep tries again: nothing is lost.
import type { Queue } from 'bullmq'
import type { Pool } from '../db/pool.js'
import { withTransaction } from '../db/pool.js'
import { claimUndispatched, markDispatched } from '../repositories/events.js'
import { fanoutJobId, type FanoutJob } from '../queue/queues.js'

/** How long the relay waits on Redis before giving up until the next sweep. */
export const REDIS_DEADLINE_MS = 5000

/** ioredis states of a connection that was lost (not merely still connecting). */
const LOST_STATUSES = new Set(['reconnecting', 'close', 'end'])

export class RedisUnavailableError extends Error {
  constructor(what: string) {
    super(what)
    this.name = 'RedisUnavailableError'
  }
}

/** Rejects after `ms`; the late outcome of `promise` is ignored. */
async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  promise.catch(() => {}) // a late rejection is not unhandled
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new RedisUnavailableError(what)), ms) }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

export async function dispatchPendingEvents(
  pool: Pool, fanout: Queue<FanoutJob>, batchSize = 100, deadlineMs = REDIS_DEADLINE_MS,
): Promise<number> {
  // BullMQ waits for a connection that is not up rather than failing fast.
  // Find out here, outside any transaction, so that no claimed row stays
  // locked (a withdrawal rewrites those rows) while Redis is away.
  const status = (fanout.opts.connection as { status?: string } | undefined)?.status
  if (status !== undefined && LOST_STATUSES.has(status)) throw new RedisUnavailableError(`Redis is not reachable (${status})`)
  await withDeadline(fanout.waitUntilReady(), deadlineMs, 'Redis is not reachable')
  let total = 0
  for (let round = 0; round < 1000; round++) { // bounded: 100 000 events per call at most
    const dispatched = await withTransaction(pool, async (tx) => {
      const events = await claimUndispatched(tx, batchSize)
      if (events.length === 0) return 0
      // Bounded too: a Redis that hangs must not hold the claimed rows. If the
      // jobs land after the deadline, the next sweep's identical job ids are no-ops.
      await withDeadline(fanout.addBulk(events.map((e) => ({
        name: e.type, data: { eventId: e.id }, opts: { jobId: fanoutJobId(e.id) },
      }))), deadlineMs, 'Redis did not accept the fan-out jobs in time')
      await markDispatched(tx, events.map((e) => e.id))
      return events.length
    })
    total += dispatched
    if (dispatched < batchSize) break
  }
  return total
}
