// Owns the email metrics. Workers count what becomes of each delivery (sent,
// failed, retried, suppressed, cancelled) into one cluster-wide Redis hash;
// /metrics renders it as `ua_email_deliveries_total{status}`. The queue's
// depth comes from BullMQ; suppressed addresses by reason, bounce and
// complaint reports and deliverability warnings of the last 24 h from
// Postgres, recounted in the background (plugins/metrics.ts), never by a scrape.
import type { Queue } from 'bullmq'
import type { RedisConnection } from '../queue/queues.js'
import { Gauge, type Registry } from 'prom-client'
import type { Pool } from '../db/pool.js'
import { ClusterCounters } from '../lib/cluster-counters.js'
import { registerClusterCounter, type RefreshedGauges } from '../plugins/metrics.js'
import { suppressionCounts } from '../repositories/email-deliveries.js'
import { recentReportCounts, recentWarningCounts } from '../repositories/email-reports.js'
import type { EmailJob } from './queue.js'

/** Hash fields of delivery outcomes: `d:<status>`. */
export const DELIVERY_FIELD = 'd:'

export const emailCounters = (redis: RedisConnection, prefix: string) => new ClusterCounters(redis, `${prefix}:email:metrics`)

export function registerEmailMetrics(registry: Registry, refreshed: RefreshedGauges, deps: { pool: Pool; redis: RedisConnection; prefix: string; queue: () => Queue<EmailJob> }): void {
  const { pool, queue } = deps
  registerClusterCounter(registry, {
    name: 'ua_email_deliveries_total', help: 'Alert email deliveries by what became of them (sent, retrying, failed, suppressed, cancelled), across all workers',
    label: 'status', counters: emailCounters(deps.redis, deps.prefix), prefix: DELIVERY_FIELD,
    always: ['sent', 'retrying', 'failed', 'suppressed', 'cancelled'],
  })
  refreshed.add({
    name: 'ua_email_suppressed_addresses', help: 'Addresses never mailed, by reason (recounted in the background)', label: 'reason',
    always: ['unsubscribed', 'erased', 'soft-bounce', 'hard-bounce', 'complaint'],
    async read() { return (await suppressionCounts(pool)).map((r) => ({ label: r.reason, value: r.count })) },
  })
  // Deliverability (contract §10): no appeal or address in any label; per appeal, see GET /v1/appeals/{id}/deliveries.
  refreshed.add({
    name: 'ua_email_reports_last_24h', help: 'Bounce and complaint reports received in the last 24 hours, by kind (recounted in the background)', label: 'kind',
    always: ['hard-bounce', 'soft-bounce', 'complaint'],
    async read() { return (await recentReportCounts(pool, 24)).map((r) => ({ label: r.kind, value: r.count })) },
  })
  refreshed.add({
    name: 'ua_email_deliverability_warnings_last_24h', help: 'Appeals whose hard-bounce or complaint rate passed its threshold in the last 24 hours, by kind (recounted in the background)', label: 'kind',
    always: ['hard-bounce', 'complaint'],
    async read() { return (await recentWarningCounts(pool, 24)).map((r) => ({ label: r.kind, value: r.count })) },
  })
  new Gauge({
    name: 'ua_email_queue_depth', help: 'Email jobs waiting, delayed (retries) or running',
    labelNames: ['state'] as const, registers: [registry],
    async collect() {
      const counts = await queue().getJobCounts('waiting', 'prioritized', 'delayed', 'active').catch(() => null)
      if (!counts) return
      this.set({ state: 'waiting' }, (counts.waiting ?? 0) + (counts.prioritized ?? 0))
      this.set({ state: 'delayed' }, counts.delayed ?? 0)
      this.set({ state: 'active' }, counts.active ?? 0)
    },
  })
}
