// Owns /metrics: Prometheus text from one registry per process, with HTTP
// request counts and latency by route template (never by raw URL, which
// would leak tokens and explode cardinality). Who may scrape: with
// METRICS_TOKEN, a caller presenting it; without, only the host itself
// (a loopback peer that no proxy forwarded). What a scrape costs: nothing
// in Postgres. Counters come from Redis hashes the workers add to; the
// few gauges read from Postgres are refreshed in the background at most
// once per interval, and a scrape serves their last values.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
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

export const metrics = fp(async (app: FastifyInstance, opts: { registry: Registry; token: string | null; gaugeRefreshMs?: number }) => {
  const { registry, token } = opts
  app.decorate('metrics', registry)
  const refreshed = new RefreshedGauges(registry, opts.gaugeRefreshMs ?? GAUGE_REFRESH_MS)
  app.decorate('refreshedGauges', refreshed)
  if (refreshed.everyMs > 0) app.addHook('onReady', async () => { refreshed.start() })
  app.addHook('onClose', async () => { await refreshed.stop() })
  const requests = new Counter({
    name: 'ua_http_requests_total', help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const, registers: [registry],
  })
  const duration = new Histogram({
    name: 'ua_http_request_duration_seconds', help: 'HTTP request latency by method and route',
    labelNames: ['method', 'route'] as const, registers: [registry],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  })

  // Callback style: no promise per response.
  app.addHook('onResponse', (request, reply, done) => {
    const method = request.method
    const route = request.routeOptions.url ?? 'unmatched'
    requests.inc({ method, route, status: String(reply.statusCode) })
    duration.observe({ method, route }, reply.elapsedTime / 1000)
    done()
  })

  app.get('/metrics', {
    config: { apiKey: false },
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
