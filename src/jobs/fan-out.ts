// Owns the fan-out job: one per event (job id `fanout-<eventId>`), it asks
// each channel in order — webhooks before email, so partners hear first —
// to freeze its audience and enqueue chunk jobs. A channel with a head
// start freezes and enqueues its first few recipients before the rest, so
// the first attempts do not wait for a large audience's freeze. A channel's
// chunk jobs are handed to Redis while the next channel freezes, so email's
// larger freeze does not wait on the webhook enqueue. Safe to run twice:
// freezes insert nothing twice and chunk job ids are idempotent.
import type { Job } from 'bullmq'
import type { Pool } from '../db/pool.js'
import type { DeliveryChannel } from '../delivery/channel.js'
import { findEventById } from '../repositories/events.js'
import type { FanoutJob } from '../queue/queues.js'

export interface FanoutDeps {
  pool: Pool
  /** In delivery order. */
  channels: readonly DeliveryChannel[]
}

export async function processFanout(job: Pick<Job<FanoutJob>, 'data'>, deps: FanoutDeps): Promise<Record<string, number>> {
  const event = await findEventById(deps.pool, job.data.eventId)
  if (!event) return {} // never committed, or already gone: nothing to send
  const frozen: Record<string, number> = {}
  const enqueued: Promise<number>[] = []
  for (const channel of deps.channels) {
    const ahead = channel.headStart ? await channel.headStart(event) : null
    const rest = await channel.freeze(deps.pool, event)
    frozen[channel.name] = (ahead?.count ?? 0) + rest.count
    const enqueue = channel.enqueue(event, { ahead, rest })
    // Awaited below; until then a failure must not count as unhandled (it fails the job, which BullMQ retries).
    enqueue.catch(() => {})
    enqueued.push(enqueue)
  }
  await Promise.all(enqueued)
  return frozen
}
