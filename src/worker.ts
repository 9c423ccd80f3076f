// The `worker` role: wakes on LISTEN/NOTIFY and sweeps on a timer to
// release embargoed appeals and relay outbox events to the fan-out queue;
// once an hour it drops idempotency keys and confirmation limits past their day.
// Fan-out, email and webhook processors attach to these queues.
import pg from 'pg'
import type { Queue } from 'bullmq'
import type { Config } from './config.js'
import type { Pool } from './db/pool.js'
import type { Logger } from './logger.js'
import { EVENTS_CHANNEL } from './repositories/events.js'
import { purgeExpiredIdempotencyKeys } from './repositories/idempotency.js'
import { purgeStaleConfirmationLimits } from './repositories/subscriptions.js'
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
const RECONNECT_MIN_MS = 500
const RECONNECT_MAX_MS = 10_000

export async function startWorker(deps: WorkerDeps): Promise<RunningWorker> {
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

  // LISTEN needs its own connection. On loss, reconnect with backoff while
  // the timer keeps sweeping. pg can report one loss several times ('error'
  // more than once, then 'end'): each client schedules at most one reconnect.
  let listener: pg.Client | null = null
  let connecting: Promise<void> | null = null
  let reconnectTimer: NodeJS.Timeout | undefined
  let delayMs = RECONNECT_MIN_MS

  const scheduleReconnect = () => {
    if (closed || reconnectTimer !== undefined) return
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined
      connecting = listen().finally(() => { connecting = null })
    }, delayMs)
    delayMs = Math.min(delayMs * 2, RECONNECT_MAX_MS)
  }

  const listen = async (): Promise<void> => {
    if (closed) return
    const client = new pg.Client({
      connectionString: config.databaseUrl, application_name: 'urgent-appeals-listener',
      // Keepalive notices a silently dead peer (no RST) that would otherwise leave us deaf.
      connectionTimeoutMillis: 5000, keepAlive: true, keepAliveInitialDelayMillis: 10_000,
    })
    let lost = false
    const onLost = () => {
      if (lost) return
      lost = true
      if (listener === client) listener = null
      client.end().catch(() => {})
      scheduleReconnect()
    }
    client.on('notification', () => { void sweep() })
    client.on('error', onLost)
    client.on('end', onLost)
    try {
      await client.connect()
      await client.query(`LISTEN ${EVENTS_CHANNEL}`)
    } catch {
      onLost()
      return
    }
    if (lost) return
    if (closed) {
      lost = true
      await client.end().catch(() => {})
      return
    }
    listener = client
    delayMs = RECONNECT_MIN_MS
    void sweep() // catch up on anything committed while we were not listening
  }
  connecting = listen().finally(() => { connecting = null })
  await connecting

  return {
    sweep,
    async close() {
      closed = true
      clearInterval(timer)
      clearTimeout(reconnectTimer)
      reconnectTimer = undefined
      await connecting
      await running
      const client = listener
      listener = null
      await client?.end().catch(() => {})
    },
  }
}
