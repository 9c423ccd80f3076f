// Owns the fan-out job: one per event (job id `fanout-<eventId>`), it asks
// each channel in order — webhooks before email, so partners hear first —
// to freeze its audience and enqueue chunk jobs (delivery/channel.ts). A
// channel's chunk jobs are handed to Redis while the next channel freezes,
// so email's larger freeze does not wait on the webhook enqueue. Safe to run
// twice: freezes insert nothing twice and chunk job ids are idempotent.
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
    const out = await channel.fanOut(event)
    frozen[channel.name] = out.count
    // Awaited below; until then a failure must not count as unhandled (it fails the job, which BullMQ retries).
    out.enqueued.catch(() => {})
    enqueued.push(out.enqueued)
  }
  await Promise.all(enqueued)
  return frozen
}
