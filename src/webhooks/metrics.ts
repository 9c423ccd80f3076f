// Owns the webhook metrics on /metrics. Attempts happen in `worker`
// processes, which serve no HTTP; so workers add each batch's latency
// buckets and outcomes to one Redis hash, and the API's /metrics renders
// that hash as a cluster-wide histogram and counter at scrape time. State
// gauges (deliveries by status, endpoints by state, queue depth) are read
// from Postgres and BullMQ at scrape time, so every API replica tells the truth.
import type { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { Gauge, type Registry } from 'prom-client'
import type { Queryable } from '../db/pool.js'
import type { AttemptResult } from './http-client.js'

export const LATENCY_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30]

const metricsKey = (prefix: string) => `${prefix}:webhook:metrics`

/** Worker side: one pipeline per batch of attempts. */
export class AttemptMetrics {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  async record(results: readonly AttemptResult[]): Promise<void> {
    const fields = new Map<string, number>()
    const bump = (field: string, by = 1) => fields.set(field, (fields.get(field) ?? 0) + by)
    let sumMs = 0
    for (const r of results) {
      const seconds = r.durationMs / 1000
      const le = LATENCY_BUCKETS.find((b) => seconds <= b)
      bump(`b:${le ?? '+Inf'}`)
      bump(`o:${r.ok ? 'delivered' : r.errorClass ?? 'unknown'}`)
      sumMs += r.durationMs
    }
    const pipeline = this.redis.pipeline()
    for (const [field, by] of fields) pipeline.hincrby(metricsKey(this.prefix), field, by)
    pipeline.hincrby(metricsKey(this.prefix), 'count', results.length)
    pipeline.hincrby(metricsKey(this.prefix), 'sum_ms', sumMs)
    await pipeline.exec()
  }
}

interface MetricValue { value: number; labels?: Record<string, string>; metricName?: string }

/** A metric prom-client's registry can render whose values come from `read` at scrape time. */
function computed(name: string, help: string, type: 'histogram' | 'counter', read: () => Promise<MetricValue[]>) {
  return {
    name, help, type, aggregator: 'sum' as const,
    async get() { return { name, help, type, aggregator: 'sum' as const, values: await read() } },
    reset() {},
  }
}

export interface WebhookMetricsSources {
  db: Queryable
  redis: Redis
  prefix: string
  queue: () => Queue
}

/** Registers the webhook metrics on the API's registry. */
export function registerWebhookMetrics(registry: Registry, s: WebhookMetricsSources): void {
  const readHash = async () => {
    try { return await s.redis.hgetall(metricsKey(s.prefix)) } catch { return {} as Record<string, string> }
  }

  registry.registerMetric(computed('ua_webhook_attempt_duration_seconds',
    'Webhook attempt latency (whole attempt: connect, send, read up to 4 KB), across all workers', 'histogram', async () => {
      const h = await readHash()
      const values: MetricValue[] = []
      let cumulative = 0
      for (const le of LATENCY_BUCKETS) {
        cumulative += Number(h[`b:${le}`] ?? 0)
        values.push({ metricName: 'ua_webhook_attempt_duration_seconds_bucket', labels: { le: String(le) }, value: cumulative })
      }
      values.push({ metricName: 'ua_webhook_attempt_duration_seconds_bucket', labels: { le: '+Inf' }, value: Number(h.count ?? 0) })
      values.push({ metricName: 'ua_webhook_attempt_duration_seconds_sum', value: Number(h.sum_ms ?? 0) / 1000 })
      values.push({ metricName: 'ua_webhook_attempt_duration_seconds_count', value: Number(h.count ?? 0) })
      return values
    }) as never)

  registry.registerMetric(computed('ua_webhook_attempts_total',
    'Webhook attempts by outcome (delivered, or the error class), across all workers', 'counter', async () => {
      const h = await readHash()
      return Object.entries(h).filter(([k]) => k.startsWith('o:'))
        .map(([k, v]) => ({ labels: { outcome: k.slice(2) }, value: Number(v) }))
    }) as never)

  new Gauge({
    name: 'ua_webhook_deliveries', help: 'Webhook deliveries by status', labelNames: ['status'] as const, registers: [registry],
    async collect() {
      this.reset()
      const { rows } = await s.db.query<{ status: string; n: number }>(
        `SELECT status, count(*)::int AS n FROM deliveries WHERE channel = 'webhook' GROUP BY status`)
      for (const r of rows) this.set({ status: r.status }, r.n)
    },
  })

  new Gauge({
    name: 'ua_webhook_endpoints', help: 'Webhook endpoints by state', labelNames: ['state'] as const, registers: [registry],
    async collect() {
      this.reset()
      this.set({ state: 'active' }, 0)
      this.set({ state: 'disabled' }, 0)
      const { rows } = await s.db.query<{ status: string; n: number }>(
        'SELECT status, count(*)::int AS n FROM webhook_endpoints GROUP BY status')
      for (const r of rows) this.set({ state: r.status }, r.n)
    },
  })

  new Gauge({
    name: 'ua_webhook_queue_jobs', help: 'Jobs in the webhook queue by state', labelNames: ['state'] as const, registers: [registry],
    async collect() {
      this.reset()
      try {
        const counts = await s.queue().getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed')
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n)
      } catch { /* Redis down: the gauge is absent rather than wrong */ }
    },
  })
}
