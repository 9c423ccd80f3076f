// Owns counters that every process adds to and any API replica can read:
// one Redis hash per family. Workers, which serve no HTTP, add a batch's
// counts in one pipeline; /metrics reads the hash at scrape time, so every
// replica reports the cluster-wide totals and a scrape never counts rows in
// Postgres. A Redis flush resets them, which Prometheus counters tolerate.
import type { Redis } from 'ioredis'

export class ClusterCounters {
  constructor(private readonly redis: Redis, readonly key: string) {}

  /** Adds each count (zeros skipped) in one round trip. */
  async add(counts: Readonly<Record<string, number>>): Promise<void> {
    const fields = Object.entries(counts).filter(([, by]) => by !== 0)
    if (fields.length === 0) return
    const pipeline = this.redis.pipeline()
    for (const [field, by] of fields) pipeline.hincrby(this.key, field, by)
    await pipeline.exec()
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
