// Owns the contract between the fan-out job and each delivery channel
// (webhooks, email). Fan-out asks every channel, in order, to freeze its
// audience for an event into `deliveries` and to enqueue chunk jobs; how a
// channel slices that work is its own.
import type { RedisConnection } from '../queue/queues.js'
import type { Config } from '../config.js'
import type { Pool } from '../db/pool.js'
import type { Logger } from '../logger.js'
import type { EventRow } from '../repositories/events.js'

export type ChannelName = 'webhook' | 'email'

/** What a channel's part of one fan-out wrote, and its chunk jobs still on their way to Redis. */
export interface FannedOut {
  /** Rows that were new (a retried fan-out writes none). */
  count: number
  /**
   * Settles once every chunk job is enqueued, with how many rows they carry;
   * a rejection fails the fan-out job (BullMQ retries it).
   */
  enqueued: Promise<number>
}

export interface DeliveryChannel {
  readonly name: ChannelName
  /**
   * Freezes the event's audience — one `deliveries` row per recipient,
   * written with `INSERT … SELECT … ON CONFLICT DO NOTHING` — and enqueues
   * chunk jobs of ids. Resolves once every row is written; the jobs may
   * still be going to Redis (`enqueued`), so the next channel's freeze does
   * not wait for them. A channel may enqueue the first part of its audience
   * before the rest is written (webhooks do). Idempotent: a retried fan-out
   * writes nothing twice, and enqueues every row still pending again (job
   * ids and claims make a second job over a row a no-op).
   */
  fanOut(event: EventRow): Promise<FannedOut>
  /**
   * Re-enqueues rows that are due (`pending`/`retrying`, `next_attempt_at`
   * passed) but whose job was lost — e.g. Redis flushed — judged by a stale
   * `queued_at`. Runs every few seconds from a BullMQ job scheduler.
   */
  reconcile(): Promise<number>
}

/** What each channel's queue workers are started with (delivery/workers.ts). */
export interface ChannelWorkerDeps {
  config: Readonly<Config>
  pool: Pool
  logger: Logger
  /** A BullMQ worker connection (maxRetriesPerRequest: null). */
  connection: RedisConnection
}
