// Owns /metrics: Prometheus text from one registry per process, with HTTP
// request counts and latency by route template (never by raw URL, which
// would leak tokens and explode cardinality). Who may scrape: with
// METRICS_TOKEN, a caller presenting it; without, only the host itself
// (a loopback peer that no proxy forwarded). What a scrape costs: nothing
// in Postgres. Counters come from Redis hashes the workers add to; the
// few gauges read from Postgres are refreshed in the background at most
// once per interval, and a scrape serves their last values.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import type { ClusterCounters } from '../lib/cluster-counters.js'
import { sameSecret } from '../auth/console-tokens.js'
import { AppError } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry
    /** Gauges whose values come from Postgres, refreshed in the background, never by a scrape. */
    refreshedGauges: RefreshedGauges
  }
  interface FastifyContextConfig {
    /** false: the route authenticates its own bearer token, not an API key (plugins/auth.ts skips it). */
    apiKey?: boolean
  }
}

export function createRegistry(): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'ua_' })
  return registry
}

/** How often the Postgres-backed gauges are recounted (per API process). */
const GAUGE_REFRESH_MS = 60_000

interface MetricValue { value: number; labels?: Record<string, string>; metricName?: string }

/** A metric the registry renders from `read` at scrape time (values kept elsewhere, e.g. in Redis). */
export function registerComputed(registry: Registry, name: string, help: string, type: 'histogram' | 'counter', read: () => Promise<MetricValue[]>): void {
  registry.registerMetric({
    name, help, type, aggregator: 'sum',
    async get() { return { name, help, type, aggregator: 'sum', values: await read() } },
    reset() {},
  } as never)
}

/** A counter with one label over the fields of a cluster-wide hash that start with `prefix` (e.g. `d:sent`). */
export function registerClusterCounter(registry: Registry, o: {
  name: string; help: string; label: string; counters: ClusterCounters; prefix: string; always?: readonly string[]
}): void {
  registerComputed(registry, o.name, o.help, 'counter', async () => {
    const totals = await o.counters.read()
    const values = new Map<string, number>((o.always ?? []).map((v) => [v, 0]))
    for (const [field, n] of Object.entries(totals)) if (field.startsWith(o.prefix)) values.set(field.slice(o.prefix.length), n)
    return [...values].map(([value, n]) => ({ labels: { [o.label]: value }, value: n }))
  })
}

export interface RefreshedGaugeSpec {
  name: string
  help: string
  label: string
  /** Label values always shown (0 when absent). */
  always?: readonly string[]
  read(): Promise<{ label: string; value: number }[]>
}

export class RefreshedGauges {
  private readonly gauges: { spec: RefreshedGaugeSpec; values: Map<string, number> }[] = []
  private timer: NodeJS.Timeout | undefined
  private refreshing: Promise<void> | null = null

  constructor(private readonly registry: Registry, readonly everyMs: number) {}

  add(spec: RefreshedGaugeSpec): void {
    const values = new Map<string, number>()
    this.gauges.push({ spec, values })
    new Gauge({
      name: spec.name, help: spec.help, labelNames: [spec.label], registers: [this.registry],
      collect() {
        this.reset()
        for (const value of spec.always ?? []) this.set({ [spec.label]: value }, 0)
        for (const [value, n] of values) this.set({ [spec.label]: value }, n)
      },
    })
  }

  /** Recounts every gauge; one refresh at a time; a failed count keeps the last values. */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      for (const { spec, values } of this.gauges) {
        const rows = await spec.read().catch(() => null)
        if (!rows) continue
        values.clear()
        for (const r of rows) values.set(r.label, r.value)
      }
    })().finally(() => { this.refreshing = null })
    return this.refreshing
  }

  start(): void {
    void this.refresh()
    this.timer = setInterval(() => { void this.refresh() }, this.everyMs)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    await this.refreshing
  }
}

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1] ?? ''
  return sameSecret(given, token)
}

/** A request from this host itself: a loopback client address (the proxied client's, with TRUST_PROXY) and no proxy in between. */
const fromThisHost = (request: FastifyRequest) =>
  LOOPBACK.test(request.ip) && request.headers['x-forwarded-for'] === undefined && request.headers.forwarded === undefined

const RECORDED = Symbol('records http metrics')
/** The latency histogram's upper bounds (seconds), as prom-client's `buckets`. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

/** One method of one route: counts by status, and the latency histogram (per-bucket counts, not yet cumulative). */
interface MethodStats { statuses: Map<number, number>; buckets: number[]; sum: number; count: number }

class RouteStats {
  private readonly methods = new Map<string, MethodStats>()
  constructor(readonly route: string) {}

  record(method: string, status: number, seconds: number): void {
    let m = this.methods.get(method)
    if (m === undefined) this.methods.set(method, m = { statuses: new Map(), buckets: new Array<number>(DURATION_BUCKETS.length).fill(0), sum: 0, count: 0 })
    m.statuses.set(status, (m.statuses.get(status) ?? 0) + 1)
    let i = 0
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++
    if (i < DURATION_BUCKETS.length) m.buckets[i]!++
    m.sum += seconds
    m.count++
  }

  entries(): IterableIterator<[string, MethodStats]> { return this.methods.entries() }
  reset(): void { this.methods.clear() }
}

/** The HTTP request metrics of this process, by route template. */
class HttpStats {
  private readonly routes = new Map<string, RouteStats>()

  route(template: string): RouteStats {
    let r = this.routes.get(template)
    if (r === undefined) this.routes.set(template, r = new RouteStats(template))
    return r
  }

  private metric(name: string, help: string, type: 'counter' | 'histogram', values: () => object[]) {
    return {
      name, help, type, aggregator: 'sum',
      get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
      reset: () => { for (const r of this.routes.values()) r.reset() },
    }
  }

  requestsMetric(name: string, help: string) {
    return this.metric(name, help, 'counter', () => {
      const values: object[] = []
      for (const r of this.routes.values()) {
        for (const [method, m] of r.entries()) {
          for (const [status, n] of m.statuses) values.push({ labels: { method, route: r.route, status: String(status) }, value: n })
        }
      }
      return values
    })
  }

  /** As prom-client renders a Histogram: cumulative buckets with `le` first, then +Inf, _sum and _count. */
  durationMetric(name: string, help: string) {
    return this.metric(name, help, 'histogram', () => {
      const values: object[] = []
      for (const r of this.routes.values()) {
        for (const [method, m] of r.entries()) {
          const shared = { method, route: r.route }
          let acc = 0
          DURATION_BUCKETS.forEach((le, i) => {
            acc += m.buckets[i]!
            values.push({ labels: { le }, sharedLabels: shared, value: acc, metricName: `${name}_bucket` })
          })
          values.push({ labels: { le: '+Inf' }, sharedLabels: shared, value: m.count, metricName: `${name}_bucket` })
          values.push({ labels: {}, sharedLabels: shared, value: m.sum, metricName: `${name}_sum` })
          values.push({ labels: {}, sharedLabels: shared, value: m.count, metricName: `${name}_count` })
        }
      }
      return values
    })
  }
}

export const metrics = fp(async (app: FastifyInstance, opts: { registry: Registry; token: string | null; gaugeRefreshMs?: number }) => {
  const { registry, token } = opts
  app.decorate('metrics', registry)
  const refreshed = new RefreshedGauges(registry, opts.gaugeRefreshMs ?? GAUGE_REFRESH_MS)
  app.decorate('refreshedGauges', refreshed)
  if (refreshed.everyMs > 0) app.addHook('onReady', async () => { refreshed.start() })
  app.addHook('onClose', async () => { await refreshed.stop() })
  // Request counts and latencies, kept per route here and rendered as
  // prom-client would render a Counter and a Histogram at scrape time: per
  // request, a few increments on the route's own record, no label hashing.
  const http = new HttpStats()
  registry.registerMetric(http.requestsMetric('ua_http_requests_total', 'HTTP requests by method, route and status') as never)
  registry.registerMetric(http.durationMetric('ua_http_request_duration_seconds', 'HTTP request latency by method and route') as never)

  // Each route records into its own record (added as the route is declared;
  // callback style: no promise per response). Unmatched requests (404s,
  // malformed URLs) have no route of their own: the app-wide hook counts them.
  app.addHook('onRoute', (route) => {
    const hooks = ([] as unknown[]).concat(route.onResponse ?? [])
    if (hooks.some((h) => h === RECORDED || (h as { [RECORDED]?: true })[RECORDED])) return
    const stats = http.route(route.url ?? 'unmatched')
    const record = Object.assign((request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      stats.record(request.method, reply.statusCode, reply.elapsedTime / 1000)
      done()
    }, { [RECORDED]: true as const })
    route.onResponse = hooks.concat(record) as typeof route.onResponse
  })
  const unmatched = http.route('unmatched')
  app.addHook('onResponse', (request, reply, done) => {
    if (request.is404) unmatched.record(request.method, reply.statusCode, reply.elapsedTime / 1000)
    done()
  })

  app.get('/metrics', {
    // Not CORS-open (plugins/public-cors.ts, registered after this plugin, would otherwise not see this route).
    config: { apiKey: false, cors: false },
    schema: { hide: true },
    onRequest: async (request) => {
      if (token !== null) {
        if (!tokenMatches(request.headers.authorization, token)) {
          throw new AppError(401, 'unauthorized', 'Unauthorized', 'Metrics need `Authorization: Bearer <METRICS_TOKEN>`.', undefined,
            { 'www-authenticate': 'Bearer realm="metrics"' })
        }
      } else if (!fromThisHost(request)) {
        throw new AppError(403, 'forbidden', 'Forbidden', 'Metrics are served to this host only; set METRICS_TOKEN to scrape them from elsewhere.')
      }
    },
  }, async (_request, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics())
  })
}, { name: 'metrics' })
