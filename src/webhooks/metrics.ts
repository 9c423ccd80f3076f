// Owns the webhook metrics on /metrics. Attempts happen in `worker`
// processes, which serve no HTTP; so workers add each batch's latency
// buckets, attempt outcomes and delivery outcomes to one Redis hash
// (lib/cluster-counters.ts), and the API's /metrics renders it as a
// cluster-wide histogram and counters at scrape time. The queue's jobs come
// from BullMQ; endpoints by state from Postgres, recounted in the background
// (plugins/metrics.ts), never by a scrape.
import type { Queue } from 'bullmq'
import type { RedisConnection } from '../queue/queues.js'
import { Gauge, type Registry } from 'prom-client'
import type { Queryable } from '../db/pool.js'
import { ClusterCounters, tally } from '../lib/cluster-counters.js'
import { registerClusterCounter, registerComputed, type RefreshedGauges } from '../plugins/metrics.js'
import type { AttemptResult } from './http-client.js'

export const LATENCY_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30]

const webhookCounters = (redis: RedisConnection, prefix: string) => new ClusterCounters(redis, `${prefix}:webhook:metrics`)

/** Worker side: counts each batch of attempts and outcomes (written to Redis every half second). */
export class AttemptMetrics {
  private readonly counters: ClusterCounters

  constructor(redis: RedisConnection, prefix: string) {
    this.counters = webhookCounters(redis, prefix)
  }

  /** A batch: its attempts (latency, outcome) and what became of its deliveries (`delivered`, `retrying`, `cancelled`…). */
  record(results: readonly AttemptResult[], deliveryStatuses: readonly string[] = []): void {
    const fields: Record<string, number> = { ...tally(deliveryStatuses, 'd:') }
    const bump = (field: string) => { fields[field] = (fields[field] ?? 0) + 1 }
    let sumMs = 0
    for (const r of results) {
      const le = LATENCY_BUCKETS.find((b) => r.durationMs / 1000 <= b)
      bump(`b:${le ?? '+Inf'}`)
      bump(`o:${r.ok ? 'delivered' : r.errorClass ?? 'unknown'}`)
      sumMs += r.durationMs
    }
    this.counters.add({ ...fields, count: results.length, sum_ms: sumMs })
  }

  /** Writes what is still counted only here (at shutdown). */
  flush(): Promise<void> { return this.counters.flush() }
}

export interface WebhookMetricsSources {
  db: Queryable
  redis: RedisConnection
  prefix: string
  queue: () => Queue
}

/** Registers the webhook metrics on the API's registry. */
export function registerWebhookMetrics(registry: Registry, refreshed: RefreshedGauges, s: WebhookMetricsSources): void {
  const counters = webhookCounters(s.redis, s.prefix)

  registerComputed(registry, 'ua_webhook_attempt_duration_seconds',
    'Webhook attempt latency (whole attempt: connect, send, read up to 4 KB), across all workers', 'histogram', async () => {
      const h = await counters.read()
      const values = []
      let cumulative = 0
      for (const le of LATENCY_BUCKETS) {
        cumulative += h[`b:${le}`] ?? 0
        values.push({ metricName: 'ua_webhook_attempt_duration_seconds_bucket', labels: { le: String(le) }, value: cumulative })
      }
      values.push({ metricName: 'ua_webhook_attempt_duration_seconds_bucket', labels: { le: '+Inf' }, value: h.count ?? 0 })
      values.push({ metricName: 'ua_webhook_attempt_duration_seconds_sum', value: (h.sum_ms ?? 0) / 1000 })
      values.push({ metricName: 'ua_webhook_attempt_duration_seconds_count', value: h.count ?? 0 })
      return values
    })

  registerClusterCounter(registry, {
    name: 'ua_webhook_attempts_total', help: 'Webhook attempts by outcome (delivered, or the error class), across all workers',
    label: 'outcome', counters, prefix: 'o:',
  })

  registerClusterCounter(registry, {
    name: 'ua_webhook_deliveries_total', help: 'Webhook deliveries by what became of them (delivered, retrying, failed, expired, skipped, cancelled), across all workers',
    label: 'status', counters, prefix: 'd:', always: ['delivered', 'retrying', 'failed', 'expired', 'skipped', 'cancelled'],
  })

  refreshed.add({
    name: 'ua_webhook_endpoints', help: 'Webhook endpoints by state (recounted in the background)', label: 'state', always: ['active', 'disabled'],
    async read() {
      const { rows } = await s.db.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM webhook_endpoints GROUP BY status')
      return rows.map((r) => ({ label: r.status, value: r.n }))
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
