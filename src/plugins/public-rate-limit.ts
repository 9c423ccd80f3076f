// Owns the rate limits, counted write-behind (write-behind-rate-store.ts)
// so that no request waits on Redis:
// - the public limit (contract §1.1 PUBLIC_RATE_LIMIT): every public
//   endpoint — supporter routes and pages, public appeal reads — shares one
//   Redis-backed budget per client address (request.ip: the socket's peer,
//   or the client a trusted proxy names, TRUST_PROXY). An API key lifts it
//   on public reads but never on the supporter endpoints, nor on the "I
//   took action" button: a key must not turn subscribe or the token routes
//   into an unmetered channel, or the public count into one a key holder
//   inflates at will (organisations report theirs with POST
//   /v1/appeals/{id}/actions instead). The ops endpoints are not counted;
// - per-organisation limits on partner actions that make the service send or
//   re-queue work (`organisationLimit`), which count keyed callers too.
import type { FastifyInstance, FastifyRequest, preHandlerHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import rateLimit, { normalizeIP, type FastifyRateLimitStore, type FastifyRateLimitStoreCtor, type RateLimitOptions } from '@fastify/rate-limit'
import type { RedisConnection } from '../queue/queues.js'
import type { Config } from '../config.js'
import { AppError } from '../errors.js'
import { duplicateRedis } from '../queue/queues.js'
import { WriteBehindRateStore } from './write-behind-rate-store.js'

const OPS_ROUTES = ['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs']
/** Supporter endpoints (contract §6, and the hosted signup form of §8): every request counts, keyed or not. */
const SUPPORTER_ROUTES = ['/v1/subscriptions', '/subscriptions', '/subscribe']
/** Single routes counted the same way (exactly these, not what lies under them). */
const ALWAYS_COUNTED_ROUTES = ['/appeals/:id/actions']

const under = (url: string, prefixes: readonly string[]) =>
  prefixes.some((p) => url === p || url.startsWith(`${p}/`))

/**
 * Which counters a route's own limit draws from: the public budget itself
 * (supporter routes: same keys, only no exemption for keys), or one budget
 * per partner action, shared by every route that offers the action (the
 * API's and any page's), rather than the per-route counters of the plugin.
 */
const BUDGET = Symbol('rate-limit budget')
type Budget = 'public' | PartnerAction
type WithBudget = RateLimitOptions & { [BUDGET]: Budget }

const WINDOW_MS = 60_000
const retryAfter = (ttlMs: number) => ({ 'retry-after': String(Math.max(1, Math.ceil(ttlMs / 1000))) })

/** A duration as @fastify/rate-limit words it in its 429 context (`after`, @lukeed/ms's long format): "1 second", "42 seconds", "1 minute". */
function inWords(ms: number): string {
  if (ms < 1000) return `${ms} ms`
  const [n, unit] = ms < 60_000 ? [ms / 1000, 'second'] : ms < 3_600_000 ? [ms / 60_000, 'minute'] : [ms / 3_600_000, 'hour']
  const whole = (n | 0) === n ? n : Math.floor(n + 0.5)
  return `${whole} ${unit}${whole === 1 ? '' : 's'}`
}

/**
 * Partner actions that make the service send or re-queue work, per
 * organisation per minute. `test` makes this API process call the partner's
 * URL itself (up to WEBHOOK_TIMEOUT_MS each): a person setting up an
 * endpoint clicks it a few times. `resend` queues one delivery: a portal
 * user or script going through failures one by one; bulk is `recover`'s
 * job. `recover` can re-queue thousands of deliveries with one call: one
 * window per incident is the normal use.
 */
export const PARTNER_ACTION_LIMITS = { test: 10, resend: 60, recover: 10 } as const
export type PartnerAction = keyof typeof PARTNER_ACTION_LIMITS

const ACTION_NAMES: Record<PartnerAction, string> = { test: 'test deliveries', resend: 'resends', recover: 'recoveries' }

/**
 * The route config of a partner action's limit: per organisation (the
 * caller's), with its own counters, and keyed callers are counted — the
 * routes need a key, so an allow list for keys would lift the limit for all.
 */
export function organisationLimit(action: PartnerAction): RateLimitOptions {
  const max = PARTNER_ACTION_LIMITS[action]
  const options: WithBudget = {
    [BUDGET]: action,
    max,
    timeWindow: WINDOW_MS,
    // The role guard runs first (onRequest): a keyless request is a 401 before it gets here.
    keyGenerator: (request: FastifyRequest) => request.actor?.organisationId ?? request.ip,
    allowList: [],
    errorResponseBuilder: (_request, context) => new AppError(429, 'rate-limited', 'Too many requests',
      `At most ${max} webhook ${ACTION_NAMES[action]} per minute per organisation; retry in ${context.after}.`, undefined,
      retryAfter(context.ttl)),
  }
  return options
}

export const publicRateLimit = fp(async (app: FastifyInstance, opts: { config: Readonly<Config>; redis: RedisConnection }) => {
  const { config } = opts
  // Its own connection, auto-pipelined: the counter updates of different
  // clients that go out in the same tick share one write.
  const redis = duplicateRedis(opts.redis, { enableAutoPipelining: true })
  redis.on('error', () => {}) // reconnects by itself; meanwhile the store counts in this process
  // Under the deployment's namespace: deployments (and test files) sharing a Redis never share
  // counters. One key per client and no hash tag, so a cluster spreads them over its shards.
  const namespace = `${config.queuePrefix}:public-rate-limit:`
  const actionStores = new Map<PartnerAction, WriteBehindRateStore>()
  class PublicRateStore extends WriteBehindRateStore {
    constructor() { super(redis, namespace) }
    override child(options: Parameters<FastifyRateLimitStore['child']>[0]): WriteBehindRateStore {
      const budget = (options as Partial<WithBudget>)[BUDGET]
      if (budget === undefined) return super.child(options)
      // A supporter route's limit differs from the global one only in whom it exempts.
      if (budget === 'public') return this
      let store = actionStores.get(budget)
      if (!store) actionStores.set(budget, store = new WriteBehindRateStore(redis, `${config.queuePrefix}:partner-rate-limit:${budget}:`))
      return store
    }
  }
  // One public budget: the routes below count into it, and so do the supporter routes' limits (their store is this one's child).
  const publicStore = new PublicRateStore()
  app.addHook('onClose', async () => { redis.disconnect() })
  // Who is counted is decided once per route, here, before @fastify/rate-limit
  // sees the route: the ops endpoints not at all (it adds no hook where
  // `config.rateLimit` is false), the supporter endpoints with no exemption
  // for keys, every other route by the public limit below. A route with a
  // limit of its own (organisationLimit) keeps it. Routes declared before
  // this plugin (metrics, OpenAPI, docs) get no hook anyway.
  app.addHook('onRoute', (route) => {
    if (route.config?.rateLimit !== undefined) return
    if (under(route.url, OPS_ROUTES)) {
      route.config = { ...route.config, rateLimit: false }
    } else if (under(route.url, SUPPORTER_ROUTES) || ALWAYS_COUNTED_ROUTES.includes(route.url)) {
      const everyone: WithBudget = { allowList: [], [BUDGET]: 'public' }
      route.config = { ...route.config, rateLimit: everyone }
    }
  })
  const max = config.publicRateLimitPerMinute
  const tooMany = (limit: number, after: string, ttl: number) => new AppError(429, 'rate-limited', 'Too many requests',
    `At most ${limit} requests per minute from one address; retry in ${after}.`, undefined, retryAfter(ttl))
  // The routes with a limit of their own (config.rateLimit): @fastify/rate-limit.
  await app.register(rateLimit, {
    global: false,
    hook: 'preHandler',
    max,
    timeWindow: WINDOW_MS,
    store: function SharedPublicStore() { return publicStore } as unknown as FastifyRateLimitStoreCtor,
    allowList: (request) => request.actor !== null,
    errorResponseBuilder: (_request, context) => tooMany(context.max, context.after, context.ttl),
  })
  // Every other counted route: the public limit, as @fastify/rate-limit's
  // global hook would apply it (same key, exemption, headers and 429), in one
  // synchronous step: the store answers from memory, so a request costs no
  // promise here. Added after the plugin's own onRoute, at the same place in
  // the route's preHandlers (after the key is resolved: keyed calls pass).
  const publicLimit: preHandlerHookHandler = (request, reply, done) => {
    if (request.actor !== null) return done()
    // normalizeIP's key; an address without a colon is no IPv6 one, and needs no IPv6 parse.
    const ip = request.ip
    publicStore.incr(ip.includes(':') ? normalizeIP(ip) : ip.toLowerCase(), (_error, { current, ttl }) => {
      const ttlInSeconds = Math.ceil(ttl / 1000)
      void reply.header('x-ratelimit-limit', max)
      if (current <= max) {
        void reply.header('x-ratelimit-remaining', max - current).header('x-ratelimit-reset', ttlInSeconds)
        return done()
      }
      void reply.header('x-ratelimit-remaining', 0).header('x-ratelimit-reset', ttlInSeconds).header('retry-after', ttlInSeconds)
      done(tooMany(max, inWords(ttlInSeconds * 1000), ttl))
    }, WINDOW_MS)
  }
  app.addHook('onRoute', (route) => {
    if (route.config?.rateLimit !== undefined) return
    route.preHandler = ([] as unknown[]).concat(route.preHandler ?? [], publicLimit) as typeof route.preHandler
  })
}, { name: 'public-rate-limit', dependencies: ['auth'] })
