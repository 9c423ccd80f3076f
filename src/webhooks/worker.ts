// Starts webhook delivery in a worker process: the `webhook` queue's
// BullMQ worker, the one HTTP client, the channel that fan-out and the
// reconciler call, and the hand-over of owed notices to the email queue.
// delivery/workers.ts composes it.
import { Worker } from 'bullmq'
import { queueKeyPrefix, WORKER_LOCKS } from '../queue/queues.js'
import type { ChannelWorkerDeps } from '../delivery/channel.js'
import { createEmailQueue } from '../email/queue.js'
import { WebhookChannel } from './channel.js'
import { WebhookDeliverer } from './deliverer.js'
import { WebhookHttpClient } from './http-client.js'
import { AttemptMetrics } from './metrics.js'
import { queueNotices, queueOwedNotices } from './notices.js'
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
  // Notices owed to partners' contacts go out as email jobs, never from here.
  const emailQueue = createEmailQueue(connection, config.queuePrefix)
  const retrySchedule = config.email.retryScheduleSeconds
  const warnNotQueued = (err: unknown) => { logger.warn({ err }, 'webhook notices not queued; the reconciler will'); return 0 }
  const metrics = new AttemptMetrics(connection, config.queuePrefix)
  const deliverer = new WebhookDeliverer({
    config, pool, client, queue: () => queue, logger, metrics,
    onTransitions: (transitions) => {
      queueNotices(emailQueue, transitions.map((t) => ({ endpointId: t.id, kind: t.disabled ? 'disabled' as const : 'recovered' as const })), retrySchedule)
        .catch(warnNotQueued)
    },
  })
  const worker = new Worker<WebhookJob>(WEBHOOK_QUEUE, (job) => deliverer.processJob(job.data), {
    connection, prefix: queueKeyPrefix(config.queuePrefix, WEBHOOK_QUEUE), concurrency: CONCURRENCY, ...WORKER_LOCKS,
  })
  worker.on('failed', (job, err) => logger.warn({ err, ids: job?.data.ids.length }, 'webhook chunk failed; BullMQ will retry'))
  worker.on('error', (err) => logger.warn({ err }, 'webhook worker error'))
  const channel = new WebhookChannel({ pool, config, queue, queueNotices: () => queueOwedNotices(pool, emailQueue, retrySchedule) })
  return {
    channel,
    async close() {
      await worker.close()
      await deliverer.close()
      await metrics.flush()
      await queue.close()
      await emailQueue.close()
      await client.close()
    },
  }
}
