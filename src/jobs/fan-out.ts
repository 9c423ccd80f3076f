// Owns the fan-out job: one per event (job id `fanout-<eventId>`), it asks
// each channel in order — webhooks before email, so partners hear first —
// to freeze its audience and enqueue chunk jobs. Safe to run twice.
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
  for (const channel of deps.channels) {
    frozen[channel.name] = await channel.freeze(deps.pool, event)
    await channel.enqueue(event)
  }
  return frozen
}
