// Builds the HTTP application. It never listens: server.ts does, tests use
// `app.inject`. Infrastructure plugins first, then one plugin per resource.
import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { RedisConnection } from './queue/queues.js'
import type { Registry } from 'prom-client'
import type { Config } from './config.js'
import type { Pool } from './db/pool.js'
import { requestLogger, type Logger } from './logger.js'
import { problemDetails, sendProblem } from './plugins/problem-details.js'
import { AppError } from './errors.js'
import { auth } from './plugins/auth.js'
import { idempotency } from './plugins/idempotency.js'
import { publicRateLimit } from './plugins/public-rate-limit.js'
import { securityHeaders } from './plugins/security-headers.js'
import { publicCors } from './plugins/public-cors.js'
import { metrics, createRegistry } from './plugins/metrics.js'
import { openapi } from './plugins/openapi.js'
import { healthRoutes } from './routes/health.js'
import { appealRoutes } from './routes/appeals.js'
import { eventRoutes } from './routes/events.js'
import { administrationRoutes } from './routes/administration.js'
import { supporters } from './routes/supporters.js'
import { webhookRoutes } from './routes/webhooks.js'
import { emailEventRoutes } from './routes/email-events.js'
import { createDeliveryProducers } from './delivery/producers.js'
import { consoleWebhooks } from './routes/console-webhooks.js'
import { consoleAppeals } from './routes/console-appeals.js'
import { consoleAppealActions } from './routes/console-appeal-actions.js'
import { consoleRoutes } from './routes/console.js'
import { consoleAdministration } from './routes/console-admin.js'
import { feedRoutes } from './routes/feeds.js'
import { FeedService } from './feeds/service.js'
import { actionRoutes, publicActionRoutes } from './routes/actions.js'
import { ActionService } from './services/actions.js'
import { AppealService } from './services/appeals.js'
import { PublicReadCache } from './services/public-read-cache.js'
import { VERSION } from './version.js'
import { buildSerializer } from './lib/serializers.js'

export interface AppDeps {
  config: Readonly<Config>
  pool: Pool
  redis: RedisConnection
  logger: Logger
  registry?: Registry
  /** The in-process cache of public appeal reads (on unless false: the offline OpenAPI app connects to nothing). */
  readCache?: boolean
  /** How often /metrics' Postgres-backed gauges are recounted (tests shorten it; 0: never, for the offline OpenAPI app). */
  gaugeRefreshMs?: number
  /**
   * Tests only, never configuration: origins (`http://127.0.0.1:<port>`) that the SES webhook
   * accepts in place of AWS's `sns.<region>.amazonaws.com` for signing certificates and SubscribeURL.
   */
  trustedSnsOrigins?: readonly string[]
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Null when built with `readCache: false`. */
    publicReadCache: PublicReadCache | null
  }
}

const BODY_LIMIT_BYTES = 512 * 1024

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger,
    // Response serializers compiled once per process (src/lib/serializers.ts).
    schemaController: { compilersFactory: { buildSerializer } },
    bodyLimit: BODY_LIMIT_BYTES,
    requestTimeout: 30_000,
    connectionTimeout: 60_000,
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    genReqId: () => randomUUID(),
    // request.log: the pino child with the request id, made only when the request logs a line.
    childLoggerFactory: requestLogger as unknown as NonNullable<FastifyServerOptions['childLoggerFactory']>,
    // TRUST_PROXY: behind a reverse proxy, request.ip (and so the public rate
    // limit) is the client X-Forwarded-For names, believed only from these proxies.
    trustProxy: deps.config.trustProxy,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
    // The router's own rejections (broken percent-encoding, an over-long
    // path parameter) happen before the error handler: answer them as problems too.
    frameworkErrors: (error, _request, reply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      void sendProblem(reply, new AppError(tooLong ? 414 : 400, tooLong ? 'uri-too-long' : 'malformed-url',
        tooLong ? 'URI too long' : 'Malformed URL',
        tooLong ? 'A path segment is longer than this API accepts.' : 'The request path is not valid percent-encoding.'))
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  await app.register(problemDetails)
  await app.register(securityHeaders, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'], formAction: ["'self'"], frameAncestors: ["'none'"],
        // Served over plain HTTP (dev, a TLS-terminating proxy's loopback), upgrading
        // same-origin requests to https would break the docs and supporter pages.
        upgradeInsecureRequests: deps.config.publicBaseUrl.startsWith('https:') ? [] : null,
      },
    },
  })
  // Before any route: each route declared after it records its requests (/metrics' own, CORS preflights included).
  await app.register(metrics, { registry: deps.registry ?? createRegistry(), token: deps.config.metricsToken, ...(deps.gaugeRefreshMs === undefined ? {} : { gaugeRefreshMs: deps.gaugeRefreshMs }) })
  // Before any other route: each route declared after it is CORS-open or says it is not.
  await app.register(publicCors, { origins: deps.config.publicCorsOrigins })
  await app.register(openapi, { version: VERSION, publicBaseUrl: deps.config.publicBaseUrl })
  await app.register(auth, { pool: deps.pool })
  await app.register(idempotency, { pool: deps.pool })
  await app.register(publicRateLimit, { config: deps.config, redis: deps.redis })
  // JSON only (and what a route adds for itself, like the one-click form
  // route): a text/plain body is a 415, not a string handed to validation.
  app.removeContentTypeParser('text/plain')

  await app.register(healthRoutes, { pool: deps.pool, redis: deps.redis })
  const readCache = deps.readCache === false ? null : new PublicReadCache({ databaseUrl: deps.config.databaseUrl, logger: deps.logger })
  app.decorate('publicReadCache', readCache)
  if (readCache) {
    app.addHook('onReady', async () => { await readCache.start() })
    app.addHook('onClose', async () => { await readCache.close() })
  }
  await app.register(appealRoutes, { prefix: '/v1', appeals: new AppealService(deps.pool), readCache })
  const actions = new ActionService(deps.pool)
  await app.register(publicActionRoutes, { actions, basePath: new URL(deps.config.publicBaseUrl).pathname.replace(/\/+$/, '') })
  await app.register(actionRoutes, { prefix: '/v1', actions })
  await app.register(feedRoutes, { feeds: new FeedService(deps.pool, deps.config.publicBaseUrl), readCache })
  await app.register(eventRoutes, { prefix: '/v1', pool: deps.pool })
  await app.register(administrationRoutes, { prefix: '/v1', pool: deps.pool })
  // The queues and services that enqueue delivery work, built once: one WebhookService for the API and the console's partner portal,
  // one SubscriptionService for the supporter routes and the public signup, one email queue for confirmations and enrolment mails.
  const producers = createDeliveryProducers({
    config: deps.config, pool: deps.pool, redis: deps.redis, logger: deps.logger, metrics: { registry: app.metrics, refreshed: app.refreshedGauges },
  })
  app.addHook('onClose', producers.close)
  const { webhooks, subscriptions, mailEnrolment } = producers
  await app.register(supporters, { config: deps.config, pool: deps.pool, redis: deps.redis, subscriptions })
  await app.register(webhookRoutes, { prefix: '/v1', webhooks })
  // Provider bounce and complaint webhooks (contract §10): verified, then services/email-reports.ts.
  await app.register(emailEventRoutes, { prefix: '/v1', config: deps.config, pool: deps.pool, redis: deps.redis, trustedSnsOrigins: deps.trustedSnsOrigins ?? [] })
  // People's sign-in (contract §9): cookies and sessions live in this plugin only, never under /v1.
  // Invitations and new links go out through the email queue (the link's id only; the worker derives the token).
  // An appeal's lifecycle actions are their own area, shown in the appeals area's Actions panel.
  const appealActions = consoleAppealActions({ config: deps.config, pool: deps.pool })
  await app.register(consoleRoutes, {
    config: deps.config, pool: deps.pool, mailEnrolment,
    areas: [consoleAppeals({ config: deps.config, pool: deps.pool, actionsPanel: appealActions.panel }), appealActions.area, consoleWebhooks({ webhooks }), consoleAdministration({ config: deps.config, pool: deps.pool, subscriptions })],
  })
  return app as unknown as FastifyInstance
}
