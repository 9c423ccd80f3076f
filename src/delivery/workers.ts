// Composition root of delivery: the BullMQ workers of the fan-out queue and
// of each channel's queues, in one place, so `worker` and `dev` start the
// same set. Channels register here in delivery order (webhooks first).
import { setFlagsFromString } from 'node:v8'
import { Queue, Worker } from 'bullmq'
import type { Config } from '../config.js'
import type { Pool } from '../db/pool.js'
import type { Logger } from '../logger.js'
import { processFanout } from '../jobs/fan-out.js'
import { adoptLegacyJobs, createWorkerRedis, QUEUE, queueKeyPrefix, WORKER_LOCKS, type FanoutJob } from '../queue/queues.js'
import { EMAIL_QUEUE } from '../email/queue.js'
import { WEBHOOK_QUEUE } from '../webhooks/queue.js'
import type { DeliveryChannel } from './channel.js'
import { startEmailDelivery } from '../email/worker.js'
import { startWebhookDelivery } from '../webhooks/worker.js'

export interface DeliveryDeps {
  config: Readonly<Config>
  pool: Pool
  logger: Logger
}

export interface RunningDelivery {
  close(): Promise<void>
}

interface Closable { close(): Promise<void> }

const RECONCILE_EVERY_MS = 10_000

/**
 * Most of the worker's peak memory was V8's old space filling with what
 * chunk jobs promoted and then dropped (mail in flight lives through a
 * young-generation GC or two): V8 let it reach about twice what its last
 * full GC kept (30 MB) before the next one. WORKER_HEAP_GROWTH_PERCENT caps
 * that growth. V8 reads the flag whenever a full GC sets the next limit, so
 * setting it here at start (measured on Node 20's V8; Node warns that flags
 * changed after start are not guaranteed) covers every way the worker runs —
 * CLI, Docker, Compose; in `dev`, the whole process — with no node option.
 */
export function limitHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${Math.trunc(percent)}`)
}

export async function startDeliveryWorkers(deps: DeliveryDeps): Promise<RunningDelivery> {
  const { config, pool, logger } = deps
  limitHeapGrowth(config.workerHeapGrowthPercent)
  // Bounce and complaint reports by SMTP (BOUNCE_SMTP_PORT): first, so a port
  // already taken stops the worker before anything else is opened.
  // Imported only when configured: it brings smtp-server and mailparser, ~10 MB of the worker's RSS.
  const reports = config.email.bounce.smtpPort === null
    ? null
    : await (await import('../email/report-listener.js')).startReportListener({ config, pool, logger })
  const connection = createWorkerRedis(config.redisUrl)
  // Jobs still under the old shared `{ua}` tag move to their queue's own keys.
  // Not awaited: while Redis is down the commands wait for it (this connection queues them).
  adoptLegacyJobs(connection, config.queuePrefix, [QUEUE.fanout, EMAIL_QUEUE, WEBHOOK_QUEUE])
    .then((moved) => { if (Object.keys(moved).length > 0) logger.warn({ moved }, 'moved jobs left under the old {ua} queue keys') })
    .catch((err: unknown) => logger.warn({ err }, 'could not move jobs left under the old {ua} queue keys'))
  const closables: Closable[] = []
  if (reports) closables.push(reports) // closed last of all (the list is reversed): reports still take effect while workers drain

  const webhooks = await startWebhookDelivery({ config, pool, logger, connection })
  closables.push(webhooks)
  const channels: DeliveryChannel[] = [webhooks.channel]
  // Email after webhooks: fan-out asks channels in this order, partners hear first.
  const email = await startEmailDelivery({ config, pool, logger, connection })
  closables.push(email)
  channels.push(email.channel)

  const fanout = new Worker<FanoutJob>(QUEUE.fanout, (job) => processFanout(job, { pool, channels }), {
    connection, prefix: queueKeyPrefix(config.queuePrefix, QUEUE.fanout), concurrency: 4, ...WORKER_LOCKS,
  })
  fanout.on('failed', (job, err) => logger.warn({ err, eventId: job?.data.eventId }, 'fan-out failed; BullMQ will retry'))
  fanout.on('error', (err) => logger.warn({ err }, 'fan-out worker error'))
  closables.push(fanout)

  // The reconciler: Postgres is the truth, so every due delivery without a
  // live job is enqueued again — flushing Redis delays alerts, loses none.
  const maintenance = new Queue(QUEUE.maintenance, { connection, prefix: queueKeyPrefix(config.queuePrefix, QUEUE.maintenance) })
  maintenance.on('error', () => {}) // Redis outages: the scheduler call below waits for the reconnect
  // Not awaited: a worker started while Redis is down must still start; this lands on reconnect.
  maintenance.upsertJobScheduler('reconcile', { every: RECONCILE_EVERY_MS }, { name: 'reconcile' })
    .catch((err: unknown) => logger.warn({ err }, 'could not schedule the reconciler'))
  // The scheduler lives in Redis: a FLUSHALL or a restart without persistence
  // erases it, and with it the reconciler that would restore the lost jobs.
  // Put it back whenever it is missing (a no-op otherwise).
  let ensuring = false
  const ensureScheduler = setInterval(() => {
    if (ensuring) return
    ensuring = true
    maintenance.getJobScheduler('reconcile')
      .then((scheduler) => scheduler
        ? undefined
        : maintenance.upsertJobScheduler('reconcile', { every: RECONCILE_EVERY_MS }, { name: 'reconcile' })
          .then(() => logger.warn('reconciler schedule was missing from Redis; restored')))
      .catch(() => {}) // Redis away: the next tick tries again
      .finally(() => { ensuring = false })
  }, RECONCILE_EVERY_MS)
  ensureScheduler.unref()
  const reconciler = new Worker(QUEUE.maintenance, async () => {
    const counts: Record<string, number> = {}
    for (const channel of channels) counts[channel.name] = await channel.reconcile()
    return counts
  }, { connection, prefix: queueKeyPrefix(config.queuePrefix, QUEUE.maintenance), concurrency: 1, ...WORKER_LOCKS })
  reconciler.on('failed', (_job, err) => logger.warn({ err }, 'reconcile failed; next run retries'))
  reconciler.on('error', (err) => logger.warn({ err }, 'reconciler error'))
  closables.push(maintenance, reconciler)

  return {
    async close() {
      clearInterval(ensureScheduler)
      for (const c of closables.reverse()) await c.close()
      connection.disconnect()
    },
  }
}
