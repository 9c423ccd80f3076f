// Owns the email gauges on /metrics, computed at scrape time from the
// truth (Postgres) and the queue (Redis), so they are right whichever
// process sent the mail: deliveries by status (sent, failed, suppressed…),
// suppressed addresses by reason, and the email queue's depth.
import { Gauge, type Registry } from 'prom-client'
import type { Queue } from 'bullmq'
import type { Pool } from '../db/pool.js'
import { emailStatusCounts, suppressionCounts } from '../repositories/email-deliveries.js'
import type { EmailJob } from './queue.js'

export function registerEmailMetrics(registry: Registry, deps: { pool: Pool; queue: () => Queue<EmailJob> }): void {
  const { pool, queue } = deps
  // A scrape during an outage keeps the last values rather than failing /metrics.
  new Gauge({
    name: 'ua_email_deliveries', help: 'Alert email deliveries by status (sent, failed, suppressed, pending, retrying, sending, cancelled)',
    labelNames: ['status'] as const, registers: [registry],
    async collect() {
      const rows = await emailStatusCounts(pool).catch(() => null)
      if (!rows) return
      this.reset()
      for (const status of ['sent', 'failed', 'suppressed', 'pending', 'retrying', 'sending']) this.set({ status }, 0)
      for (const r of rows) this.set({ status: r.status }, r.count)
    },
  })
  new Gauge({
    name: 'ua_email_suppressed_addresses', help: 'Addresses never mailed, by reason',
    labelNames: ['reason'] as const, registers: [registry],
    async collect() {
      const rows = await suppressionCounts(pool).catch(() => null)
      if (!rows) return
      this.reset()
      for (const r of rows) this.set({ reason: r.reason }, r.count)
    },
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
