// Owns the API process's side of delivery: the queues it enqueues on and
// the services that enqueue, built once by app.ts, handed to the route
// plugins that use them (which build nothing) and closed with the app. The
// workers' side — the BullMQ workers that consume these queues — is
// delivery/workers.ts. Each channel adds one producer here: build it, list
// what it must close, return it. Queues are created on first use: building
// the app offline (npm run openapi) must open no connection.
import type { Queue } from 'bullmq'
import type { RedisConnection } from '../queue/queues.js'
import type { Registry } from 'prom-client'
import type { Config } from '../config.js'
import type { Pool } from '../db/pool.js'
import type { Logger } from '../logger.js'
import type { RefreshedGauges } from '../plugins/metrics.js'
import { enrolmentMailer, type EnrolmentMailer } from '../email/enrolment-mailer.js'
import { registerEmailMetrics } from '../email/metrics.js'
import { confirmationJob, createEmailQueue, type EmailJob } from '../email/queue.js'
import { SubscriptionService } from '../services/subscriptions.js'
import { WebhookService } from '../services/webhooks.js'
import { WebhookDeliverer } from '../webhooks/deliverer.js'
import { WebhookHttpClient } from '../webhooks/http-client.js'
import { AttemptMetrics, registerWebhookMetrics } from '../webhooks/metrics.js'
import { createWebhookQueue, type WebhookJob } from '../webhooks/queue.js'
import { VERSION } from '../version.js'

export interface ProducerDeps {
  config: Readonly<Config>
  pool: Pool
  redis: RedisConnection
  logger: Logger
  /** Where the queues' gauges go (the app's /metrics); none when absent. */
  metrics?: { registry: Registry; refreshed: RefreshedGauges }
}

export interface DeliveryProducers {
  /** Partner webhooks: the one service behind /v1/webhooks and the console's partner portal. */
  webhooks: WebhookService
  /** Supporters: the one service behind the subscription routes, the public signup and the staff subscriber list; it enqueues confirmation mails. */
  subscriptions: SubscriptionService
  /** The console's invitations and new sign-in links, on the same email queue. */
  mailEnrolment: EnrolmentMailer
  /** Closes every producer's queues and clients (the app's onClose). */
  close(): Promise<void>
}

interface Closable { close(): Promise<void> }

export function createDeliveryProducers(deps: ProducerDeps): DeliveryProducers {
  const closables: Closable[] = []
  const webhooks = webhookProducer(deps, closables)
  const { subscriptions, mailEnrolment } = emailProducer(deps, closables)
  return {
    webhooks,
    subscriptions,
    mailEnrolment,
    async close() {
      for (const c of closables) await c.close()
    },
  }
}

/**
 * Webhooks: the queue resends and recovers go to, and for test pings the
 * same stages a worker runs (deliverer, HTTP client, attempt metrics).
 */
function webhookProducer(deps: ProducerDeps, closables: Closable[]): WebhookService {
  const { config, pool, redis, logger } = deps
  let created: Queue<WebhookJob> | undefined
  const queue = () => (created ??= createWebhookQueue(redis, config.queuePrefix))
  const client = new WebhookHttpClient({
    allowPrivateNetworks: config.webhook.allowPrivateNetworks, timeoutMs: config.webhook.timeoutMs,
    userAgent: `UrgentAppeals-Webhooks/${VERSION}`, connectionsPerOrigin: 4,
  })
  const metrics = new AttemptMetrics(redis, config.queuePrefix)
  const deliverer = new WebhookDeliverer({ config, pool, client, queue, logger, metrics })
  if (deps.metrics) registerWebhookMetrics(deps.metrics.registry, deps.metrics.refreshed, { db: pool, redis, prefix: config.queuePrefix, queue })
  // In this order: outcomes still waiting, then the counters they bumped, then the connections.
  closables.push(deliverer, { close: () => metrics.flush() }, client, { close: async () => { await created?.close() } })
  return new WebhookService({ pool, config, queue, deliverer, logger })
}

/**
 * Email: one queue for every mail the API enqueues — supporters'
 * confirmations (SubscriptionService) and the console's enrolment mails —
 * and the email gauges. Alerts themselves are enqueued by the fan-out, in
 * the worker.
 */
function emailProducer(deps: ProducerDeps, closables: Closable[]): { subscriptions: SubscriptionService; mailEnrolment: EnrolmentMailer } {
  const { config, pool, redis, logger } = deps
  let created: Queue<EmailJob> | undefined
  const queue = () => (created ??= createEmailQueue(redis, config.queuePrefix))
  const subscriptions = new SubscriptionService(pool, {
    secretsKey: config.secretsKey,
    publicBaseUrl: config.publicBaseUrl,
    // Not awaited: the 202 must not wait on (or be timed by) Redis. A lost
    // enqueue leaves confirmation_mailed_at empty and the reconciler re-sends.
    onConfirmationDue(due) {
      const job = confirmationJob(due, config.email.retryScheduleSeconds)
      queue().add('confirmation', job.data, job.opts)
        .catch((err: unknown) => logger.warn({ err: { message: (err as Error).message }, subscriptionId: due.subscriptionId }, 'confirmation mail not enqueued; the reconciler will'))
    },
  })
  if (deps.metrics) registerEmailMetrics(deps.metrics.registry, deps.metrics.refreshed, { pool, redis, prefix: config.queuePrefix, queue })
  closables.push({ close: async () => { await created?.close().catch(() => {}) } })
  return { subscriptions, mailEnrolment: enrolmentMailer({ config, queue, logger }) }
}
