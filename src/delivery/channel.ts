// Owns the contract between the fan-out job and each delivery channel
// (webhooks, email). Fan-out asks every channel, in order, to freeze its
// audience for an event into `deliveries` and to enqueue chunk jobs.
import type { RedisConnection } from '../queue/queues.js'
import type { Config } from '../config.js'
import type { Pool, Queryable } from '../db/pool.js'
import type { Logger } from '../logger.js'
import type { Frozen } from '../repositories/deliveries.js'
import type { EventRow } from '../repositories/events.js'

export type ChannelName = 'webhook' | 'email'

/** What one fan-out's freezes of a channel wrote: its head start's (null without one) and the rest's. */
export interface WrittenByFanout { ahead: Frozen | null; rest: Frozen }

export interface DeliveryChannel {
  readonly name: ChannelName
  /**
   * Writes one `deliveries` row per (event, recipient) with a single
   * `INSERT … SELECT … ON CONFLICT DO NOTHING`; returns how many were new
   * (and, where the statement returns them, the new pending rows' ids).
   * Must be idempotent: a retried fan-out inserts nothing twice.
   */
  freeze(db: Queryable, event: EventRow): Promise<Frozen>
  /**
   * Optional, before `freeze`: freezes the first few recipients and enqueues
   * their job, so their attempts start while the rest of a large audience is
   * frozen; returns what it wrote, like `freeze`. Idempotent like the others.
   */
  headStart?(event: EventRow): Promise<Frozen>
  /**
   * Enqueues chunk jobs (ids only) for the event's undelivered rows;
   * idempotent by job id. `written` is what this fan-out's own head start
   * and freeze wrote: a channel may enqueue from it instead of reading the
   * event's rows again.
   */
  enqueue(event: EventRow, written?: WrittenByFanout): Promise<number>
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
