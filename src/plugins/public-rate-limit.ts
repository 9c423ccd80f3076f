// Owns the per-client limit on keyless requests (contract §1.1
// PUBLIC_RATE_LIMIT): every public endpoint — supporter routes and pages,
// public appeal reads — shares one Redis-backed budget per client address,
// counted write-behind (write-behind-rate-store.ts) so that no request
// waits on Redis. Callers with an API key and the ops endpoints are not counted.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import type { Redis } from 'ioredis'
import type { Config } from '../config.js'
import { AppError } from '../errors.js'
import { WriteBehindRateStore } from './write-behind-rate-store.js'

const OPS_ROUTES = ['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs']

export const publicRateLimit = fp(async (app: FastifyInstance, opts: { config: Readonly<Config>; redis: Redis }) => {
  const { config } = opts
  // Its own connection, auto-pipelined: the counter updates of different
  // clients that go out in the same tick share one write.
  const redis = opts.redis.duplicate({ enableAutoPipelining: true })
  redis.on('error', () => {}) // reconnects by itself; meanwhile the store counts in this process
  // Under the queue prefix: deployments (and test files) sharing a Redis never share counters.
  const namespace = `${config.queuePrefix}:public-rate-limit:`
  class PublicRateStore extends WriteBehindRateStore {
    constructor() { super(redis, namespace) }
  }
  app.addHook('onClose', async () => { redis.disconnect() })
  // The ops endpoints are never counted: decided once per route (rate-limit
  // adds no hook where `config.rateLimit` is false) instead of per request.
  // Routes declared before this plugin (metrics, OpenAPI, docs) get no hook anyway.
  app.addHook('onRoute', (route) => {
    if (OPS_ROUTES.some((ops) => route.url.startsWith(ops))) route.config = { ...route.config, rateLimit: false }
  })
  await app.register(rateLimit, {
    global: true,
    // preHandler: the key (if any) has been resolved by then, so keyed calls pass.
    hook: 'preHandler',
    max: config.publicRateLimitPerMinute,
    timeWindow: 60_000,
    store: PublicRateStore,
    allowList: (request) => request.actor !== null,
    errorResponseBuilder: (_request, context) => new AppError(429, 'rate-limited', 'Too many requests',
      `At most ${context.max} requests per minute from one address; retry in ${context.after}.`, undefined,
      { 'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))) }),
  })
}, { name: 'public-rate-limit', dependencies: ['auth'] })
