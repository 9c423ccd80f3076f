// Owns counters that every process adds to and any API replica can read:
// one Redis hash per family. Workers, which serve no HTTP, count in memory
// and write what they counted in one pipeline every half second; /metrics
// reads the hash at scrape time, so every replica reports the cluster-wide
// totals and a scrape never counts rows in Postgres. A Redis flush resets
// them, which Prometheus counters tolerate.
import type { RedisConnection } from '../queue/queues.js'

export class ClusterCounters {
  private pending = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined

  /**
   * Counts are gathered here and written every `flushEveryMs` in one
   * pipeline: the email group commit writes a batch every few milliseconds,
   * and a Redis round trip per batch cost the fan-out ~13 % of its rate and
   * ~70 MB of worker memory (`npm run bench -- --scenario email-fanout`).
   */
  constructor(private readonly redis: RedisConnection, readonly key: string, private readonly flushEveryMs = 500) {}

  /** Counts now (zeros skipped); they reach Redis within `flushEveryMs`. */
  add(counts: Readonly<Record<string, number>>): void {
    for (const [field, by] of Object.entries(counts)) {
      if (by !== 0) this.pending.set(field, (this.pending.get(field) ?? 0) + by)
    }
    if (this.pending.size > 0 && this.timer === undefined) {
      this.timer = setTimeout(() => { void this.flush() }, this.flushEveryMs)
      this.timer.unref()
    }
  }

  /** Writes what was counted; kept for the next flush if Redis refuses (a metric is late, never wrong by much). */
  async flush(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.pending.size === 0) return
    const batch = this.pending
    this.pending = new Map()
    const pipeline = this.redis.pipeline()
    for (const [field, by] of batch) pipeline.hincrby(this.key, field, by)
    try {
      const results = await pipeline.exec()
      if (results?.some(([error]) => error)) throw new Error('not every count was written')
    } catch {
      this.add(Object.fromEntries(batch))
    }
  }

  /** Every field's total; empty while Redis is unreachable (the scrape still answers). */
  async read(): Promise<Record<string, number>> {
    try {
      const hash = await this.redis.hgetall(this.key)
      return Object.fromEntries(Object.entries(hash).map(([field, value]) => [field, Number(value)]))
    } catch {
      return {}
    }
  }
}

/** `{ a: 2 }` from `['a', 'a']`, prefixing each key: the counts of one batch, ready for `add`. */
export function tally(values: readonly string[], prefix = ''): Record<string, number> {
  const out: Record<string, number> = {}
  for (const value of values) out[prefix + value] = (out[prefix + value] ?? 0) + 1
  return out
}
