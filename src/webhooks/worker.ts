// Starts webhook delivery in a worker process: the `webhook` queue's
// BullMQ worker, the one HTTP client, the channel that fan-out and the
// reconciler call, and the notice mailer. delivery/workers.ts composes it.
import { Worker } from 'bullmq'
import { WORKER_LOCKS } from '../queue/queues.js'
import type { ChannelWorkerDeps } from '../delivery/channel.js'
import { createMailTransport } from '../email/transport.js'
import { WebhookChannel } from './channel.js'
import { WebhookDeliverer } from './deliverer.js'
import { WebhookHttpClient } from './http-client.js'
import { AttemptMetrics } from './metrics.js'
import { sendPendingNotices } from './notices.js'
import { createWebhookQueue, WEBHOOK_QUEUE, type WebhookJob } from './queue.js'
import { VERSION } from '../version.js'

export interface RunningWebhookDelivery {
  channel: WebhookChannel
  close(): Promise<void>
}

/** Chunk jobs in flight per worker process; each runs up to 32 requests. */
const CONCURRENCY = 16

export async function startWebhookDelivery(deps: ChannelWorkerDeps): Promise<RunningWebhookDelivery> {
  const { config, pool, logger, connection } = deps
  const queue = createWebhookQueue(connection, config.queuePrefix)
  const client = new WebhookHttpClient({
    allowPrivateNetworks: config.webhook.allowPrivateNetworks, timeoutMs: config.webhook.timeoutMs,
    userAgent: `UrgentAppeals-Webhooks/${VERSION}`,
  })
  const mailer = createMailTransport(config, { maxConnections: 1 })
  let sending: Promise<number> | null = null
  // One notice run at a time; a failure is logged and retried by the reconciler.
  const sendNotices = () => {
    sending ??= sendPendingNotices({ pool, mailer, config, logger })
      .catch((err: unknown) => { logger.warn({ err }, 'webhook notices not sent; will retry'); return 0 })
      .finally(() => { sending = null })
    return sending
  }
  const deliverer = new WebhookDeliverer({
    config, pool, client, queue: () => queue, logger, metrics: new AttemptMetrics(connection, config.queuePrefix),
    onTransitions: () => { void sendNotices() },
  })
  const worker = new Worker<WebhookJob>(WEBHOOK_QUEUE, (job) => deliverer.processJob(job.data), {
    connection, prefix: config.queuePrefix, concurrency: CONCURRENCY, ...WORKER_LOCKS,
  })
  worker.on('failed', (job, err) => logger.warn({ err, ids: job?.data.ids.length }, 'webhook chunk failed; BullMQ will retry'))
  worker.on('error', (err) => logger.warn({ err }, 'webhook worker error'))
  const channel = new WebhookChannel({ pool, config, queue, sendNotices })
  return {
    channel,
    async close() {
      await worker.close()
      await sending
      await queue.close()
      await client.close()
      mailer.close()
    },
  }
}
