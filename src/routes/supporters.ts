// Composes the supporter side of the API: the keyless supporter routes and
// pages, the public site (whose signup uses the same service) and the staff
// subscriber routes, around one SubscriptionService that
// delivery/producers.ts builds with its email queue. One registration in
// app.ts.
import type { FastifyInstance } from 'fastify'
import type { RedisConnection } from '../queue/queues.js'
import type { Config } from '../config.js'
import type { Pool } from '../db/pool.js'
import type { SubscriptionService } from '../services/subscriptions.js'
import { supporterRoutes } from './subscriptions.js'
import { subscriberRoutes } from './subscribers.js'
import { publicPageRoutes } from './pages.js'

export async function supporters(app: FastifyInstance, opts: { config: Readonly<Config>; pool: Pool; redis: RedisConnection; subscriptions: SubscriptionService }) {
  const { config, pool, redis, subscriptions } = opts
  await app.register(supporterRoutes, { config, pool, redis, subscriptions })
  // The public site: its signup form subscribes through this same service.
  await app.register(publicPageRoutes, { config, pool, subscriptions, readCache: app.publicReadCache })
  await app.register(subscriberRoutes, { prefix: '/v1', subscriptions })
}
