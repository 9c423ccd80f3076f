// The sweeper, one half of the `worker` role: wakes on LISTEN/NOTIFY and
// sweeps on a timer to release embargoed appeals and relay outbox events to
// the fan-out queue; once an hour it drops idempotency keys and confirmation
// limits past their day. It delivers nothing: the delivery workers
// (delivery/workers.ts, the other half) take the fan-out queue from there.
import type { Queue } from 'bullmq'
import type { Config } from './config.js'
import type { Pool } from './db/pool.js'
import { PgListener } from './db/listener.js'
import type { Logger } from './logger.js'
import { EVENTS_CHANNEL } from './repositories/events.js'
import { purgeExpiredIdempotencyKeys } from './repositories/idempotency.js'
import { purgeStaleConfirmationLimits } from './repositories/subscriptions.js'
import { dispatchPendingEvents } from './jobs/outbox-relay.js'
import { AppealService } from './services/appeals.js'
import type { FanoutJob } from './queue/queues.js'

export interface SweeperDeps {
  config: Readonly<Config>
  pool: Pool
  fanoutQueue: Queue<FanoutJob>
  logger: Logger
}

export interface RunningSweeper {
  /** Runs one sweep now (tests and shutdown use it). */
  sweep(): Promise<void>
  close(): Promise<void>
}

const PURGE_EVERY_MS = 60 * 60 * 1000

export async function startSweeper(deps: SweeperDeps): Promise<RunningSweeper> {
  const { config, pool, fanoutQueue, logger } = deps
  const appeals = new AppealService(pool)
  let closed = false
  let running: Promise<void> | null = null
  let again = false
  let lastPurge = 0
  const lastFailureLogged = new Map<string, number>()

  // Steps fail on their own: a broken embargo release must not hold back the relay.
  const step = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn()
    } catch (error) {
      // Redis or Postgres unavailable: the next wake-up retries. Log once a minute per step.
      if (Date.now() - (lastFailureLogged.get(name) ?? 0) > 60_000) {
        lastFailureLogged.set(name, Date.now())
        logger.warn({ err: error, step: name }, 'sweep step failed; will retry')
      }
    }
  }

  const sweepOnce = async () => {
    await step('embargo', async () => {
      const released = await appeals.releaseDueEmbargoes()
      if (released > 0) logger.info({ released }, 'embargo lifted: appeals published')
    })
    await step('outbox', async () => {
      const dispatched = await dispatchPendingEvents(pool, fanoutQueue)
      if (dispatched > 0) logger.debug({ dispatched }, 'events relayed to fan-out')
    })
    if (Date.now() - lastPurge > PURGE_EVERY_MS) {
      await step('purge', async () => {
        await purgeExpiredIdempotencyKeys(pool)
        await purgeStaleConfirmationLimits(pool)
        lastPurge = Date.now()
      })
    }
  }

  // Coalesces wake-ups: one sweep at a time, one more if an event was
  // committed meanwhile. A timer tick during a sweep is simply skipped: it
  // would re-run the sweep for nothing (and forever while Redis is away).
  const sweep = (trigger: 'timer' | 'event' = 'event'): Promise<void> => {
    if (running) {
      if (trigger === 'event') again = true
      return running
    }
    if (closed) return Promise.resolve()
    running = (async () => {
      do {
        again = false
        await sweepOnce()
      } while (again && !closed)
    })().finally(() => { running = null })
    return running
  }

  const timer = setInterval(() => { void sweep('timer') }, config.sweepIntervalMs)

  // LISTEN wakes the relay; while it is lost (reconnecting with backoff)
  // the timer keeps sweeping.
  const listener = new PgListener({
    databaseUrl: config.databaseUrl, applicationName: 'urgent-appeals-listener', channels: [EVENTS_CHANNEL],
    onNotification: () => { void sweep() },
    // Catch up on anything committed while we were not listening.
    onState: (state) => { if (state === 'listening') void sweep() },
  })
  await listener.start()

  return {
    sweep,
    async close() {
      closed = true
      clearInterval(timer)
      const listenerClosed = listener.close() // stops reconnecting at once
      await running
      await listenerClosed
    },
  }
}
