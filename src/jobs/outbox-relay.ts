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

export async function dispatchPendingEvents(pool: Pool, fanout: Queue<FanoutJob>, batchSize = 100): Promise<number> {
  let total = 0
  for (let round = 0; round < 1000; round++) { // bounded: 100 000 events per call at most
    const dispatched = await withTransaction(pool, async (tx) => {
      const events = await claimUndispatched(tx, batchSize)
      if (events.length === 0) return 0
      await fanout.addBulk(events.map((e) => ({
        name: e.type, data: { eventId: e.id }, opts: { jobId: fanoutJobId(e.id) },
      })))
      await markDispatched(tx, events.map((e) => e.id))
      return events.length
    })
    total += dispatched
    if (dispatched < batchSize) break
  }
  return total
}
