// Composes the supporter side of the API: the subscription service with
// its producer of confirmation mails (the `email` queue), the keyless
// supporter routes and pages, the public site (whose signup uses the same
// service), the staff subscriber routes, and the email gauges on /metrics.
// One registration in app.ts.
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import type { Config } from '../config.js'
import type { Pool } from '../db/pool.js'
import { SubscriptionService } from '../services/subscriptions.js'
import type { Queue } from 'bullmq'
import { confirmationJob, createEmailQueue, type EmailJob } from '../email/queue.js'
import { registerEmailMetrics } from '../email/metrics.js'
import { supporterRoutes } from './subscriptions.js'
import { subscriberRoutes } from './subscribers.js'
import { publicPageRoutes } from './pages.js'

export async function supporters(app: FastifyInstance, opts: { config: Readonly<Config>; pool: Pool; redis: Redis }) {
  const { config, pool, redis } = opts
  // Created on first use: building the app (e.g. to write the OpenAPI
  // document) must not connect to Redis.
  let queue: Queue<EmailJob> | undefined
  const emailQueue = () => {
    if (!queue) {
      queue = createEmailQueue(redis, config.queuePrefix)
      queue.on('error', () => {}) // Redis down: the enqueue fails and the reconciler catches up
    }
    return queue
  }
  app.addHook('onClose', async () => { await queue?.close().catch(() => {}) })

  const subscriptions = new SubscriptionService(pool, {
    secretsKey: config.secretsKey,
    publicBaseUrl: config.publicBaseUrl,
    // Not awaited: the 202 must not wait on (or be timed by) Redis. A lost
    // enqueue leaves confirmation_mailed_at empty and the reconciler re-sends.
    onConfirmationDue(subscriptionId) {
      emailQueue().add('confirmation', ...spread(confirmationJob(subscriptionId, config.email.retryScheduleSeconds)))
        .catch((err: unknown) => app.log.warn({ err: { message: (err as Error).message }, subscriptionId }, 'confirmation mail not enqueued; the reconciler will'))
    },
  })
  registerEmailMetrics(app.metrics, app.refreshedGauges, { pool, redis, prefix: config.queuePrefix, queue: emailQueue })
  await app.register(supporterRoutes, { config, pool, redis, subscriptions })
  // The public site: its signup form subscribes through this same service.
  await app.register(publicPageRoutes, { config, pool, subscriptions, readCache: app.publicReadCache })
  await app.register(subscriberRoutes, { prefix: '/v1', subscriptions })
}

const spread = <T extends { data: unknown; opts: unknown }>(job: T): [T['data'], T['opts']] => [job.data, job.opts]
