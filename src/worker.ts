// The `worker` role: wakes on LISTEN/NOTIFY and sweeps on a timer to
// release embargoed appeals and relay outbox events to the fan-out queue.
// Fan-out, email and webhook processors attach to these queues.
import pg from 'pg'
import type { Queue } from 'bullmq'
import type { Config } from './config.js'
import type { Pool } from './db/pool.js'
import type { Logger } from './logger.js'
import { EVENTS_CHANNEL } from './repositories/events.js'
import { purgeExpiredIdempotencyKeys } from './repositories/idempotency.js'
import { dispatchPendingEvents } from './jobs/outbox-relay.js'
import { AppealService } from './services/appeals.js'
import type { FanoutJob } from './queue/queues.js'

export interface WorkerDeps {
  config: Readonly<Config>
  pool: Pool
  fanoutQueue: Queue<FanoutJob>
  logger: Logger
}

export interface RunningWorker {
  /** Runs one sweep now (tests and shutdown use it). */
  sweep(): Promise<void>
  close(): Promise<void>
}

const PURGE_EVERY_MS = 60 * 60 * 1000

export async function startWorker(deps: WorkerDeps): Promise<RunningWorker> {
  const { config, pool, fanoutQueue, logger } = deps
  const appeals = new AppealService(pool)
  let closed = false
  let running: Promise<void> | null = null
  let again = false
  let lastPurge = 0
  let lastFailureLogged = 0

  const sweepOnce = async () => {
    const released = await appeals.releaseDueEmbargoes()
    if (released > 0) logger.info({ released }, 'embargo lifted: appeals published')
    const dispatched = await dispatchPendingEvents(pool, fanoutQueue)
    if (dispatched > 0) logger.debug({ dispatched }, 'events relayed to fan-out')
    if (Date.now() - lastPurge > PURGE_EVERY_MS) {
      lastPurge = Date.now()
      await purgeExpiredIdempotencyKeys(pool)
    }
  }

  // Coalesces wake-ups: one sweep at a time, one more if woken meanwhile.
  const sweep = (): Promise<void> => {
    if (running) { again = true; return running }
    running = (async () => {
      do {
        again = false
        try {
          await sweepOnce()
        } catch (error) {
          // Redis or Postgres unavailable: the next tick retries. Log once a minute.
          if (Date.now() - lastFailureLogged > 60_000) {
            lastFailureLogged = Date.now()
            logger.warn({ err: error }, 'sweep failed; will retry')
          }
        }
      } while (again && !closed)
    })().finally(() => { running = null })
    return running
  }

  const timer = setInterval(() => { void sweep() }, config.sweepIntervalMs)

  // LISTEN needs its own connection; on loss, reconnect with backoff while the timer keeps sweeping.
  let listener: pg.Client | null = null
  let reconnectTimer: NodeJS.Timeout | undefined
  const listen = async (delayMs = 500) => {
    if (closed) return
    const client = new pg.Client({ connectionString: config.databaseUrl, application_name: 'urgent-appeals-listener' })
    client.on('notification', () => { void sweep() })
    client.on('error', () => {
      client.end().catch(() => {})
      if (listener === client) listener = null
      reconnectTimer = setTimeout(() => { void listen(Math.min(delayMs * 2, 10_000)) }, delayMs)
    })
    try {
      await client.connect()
      await client.query(`LISTEN ${EVENTS_CHANNEL}`)
      listener = client
      void sweep() // catch up on anything committed while we were not listening
    } catch {
      client.end().catch(() => {})
      reconnectTimer = setTimeout(() => { void listen(Math.min(delayMs * 2, 10_000)) }, delayMs)
    }
  }
  await listen()

  return {
    sweep,
    async close() {
      closed = true
      clearInterval(timer)
      clearTimeout(reconnectTimer)
      await running
      await listener?.end().catch(() => {})
    },
  }
}
