// Owns how the public rate limit counts: a @fastify/rate-limit store that
// answers from this process and keeps the shared count in Redis behind it.
// Each request is counted in memory at once, so no request waits on Redis;
// the increments follow to the Redis counter in the background, one command
// in flight per key, coalescing whatever arrived meanwhile; what arrived
// during a command waits FOLLOW_UP_MS more, so a busy client costs Redis
// (and this process) a command per ~10 ms, not one per request. The reply
// brings the other instances' requests in. So across instances a client
// can exceed the limit by at most what the others admitted within one
// Redis round trip and FOLLOW_UP_MS; within one instance the count is
// exact. While Redis is unreachable each instance goes on enforcing the
// limit on its own.
import type { FastifyRateLimitStore } from '@fastify/rate-limit'
import type { RedisConnection } from '../queue/queues.js'

/** INCRBY the window's counter; the first increment (or a counter without expiry) starts the window. */
const ADD_SCRIPT = `
local current = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {current, ttl}`

type AddCommand = (key: string, amount: number, windowMs: number) => Promise<[number, number]>

interface Counter {
  /** The count Redis last reported (ours included), or ours alone while Redis is away. */
  known: number
  /** Counted here, being added in Redis now. */
  sending: number
  /** Counted here, not yet sent. */
  unsent: number
  /** The unsent ones go after FOLLOW_UP_MS. */
  waiting: boolean
  /** When the window ends (Redis's TTL once known). */
  resetAt: number
}

type Callback = (error: Error | null, result: { current: number; ttl: number }) => void

/** Counters are dropped once their window has passed; checked every this many requests. */
const SWEEP_EVERY = 4096
/** Past this many clients in one window, the oldest local counters are dropped (Redis still holds them). */
const MAX_COUNTERS = 100_000
/**
 * How long increments that arrived while a command was in flight wait before
 * the next one: at thousands of requests per second from one address (a
 * crawler, a load test, a page an NGO embeds behind one proxy) a command per
 * round trip was ~10 % of the API's CPU and as much again in Redis.
 */
const FOLLOW_UP_MS = 10

export class WriteBehindRateStore implements FastifyRateLimitStore {
  private readonly counters = new Map<string, Counter>()
  private readonly add: AddCommand
  private calls = 0

  constructor(private readonly redis: RedisConnection, private readonly prefix: string) {
    const commands = redis as RedisConnection & { uaRateLimitAdd?: AddCommand }
    if (!commands.uaRateLimitAdd) redis.defineCommand('uaRateLimitAdd', { numberOfKeys: 1, lua: ADD_SCRIPT })
    this.add = (commands.uaRateLimitAdd as AddCommand).bind(redis)
  }

  incr(key: string, callback: Callback, windowMs: number): void {
    const now = Date.now()
    if (++this.calls % SWEEP_EVERY === 0) this.sweep(now)
    let counter = this.counters.get(key)
    if (!counter || (now >= counter.resetAt && counter.sending === 0 && !counter.waiting)) {
      counter = { known: 0, sending: 0, unsent: 0, waiting: false, resetAt: now + windowMs }
      this.counters.set(key, counter)
    }
    counter.unsent++
    this.send(key, counter, windowMs)
    callback(null, { current: counter.known + counter.sending + counter.unsent, ttl: Math.max(0, counter.resetAt - now) })
  }

  /** A route with its own limit: the same connection, its own counters (keyed like the plugin's Redis store). */
  child(routeOptions: Parameters<FastifyRateLimitStore['child']>[0]): WriteBehindRateStore {
    // At run time the plugin passes the merged limit settings with the route as `routeInfo`.
    const route = (routeOptions as unknown as { routeInfo: { method: string; url: string } }).routeInfo
    return new WriteBehindRateStore(this.redis, `${this.prefix}${route.method}${route.url}-`)
  }

  private send(key: string, counter: Counter, windowMs: number): void {
    if (counter.sending > 0 || counter.waiting || counter.unsent === 0) return // the reply in flight (or the timer) sends the rest
    const amount = counter.unsent
    counter.unsent = 0
    counter.sending = amount
    this.add(this.prefix + key, amount, windowMs).then(([current, ttl]) => {
      counter.known = current
      counter.resetAt = Date.now() + ttl
    }, () => {
      // Redis away: keep the count here; the next request tries Redis again.
      counter.known += amount
    }).finally(() => {
      counter.sending = 0
      if (counter.unsent === 0) return
      counter.waiting = true
      setTimeout(() => {
        counter.waiting = false
        this.send(key, counter, windowMs)
      }, FOLLOW_UP_MS).unref()
    }).catch(() => {}) // nothing above rejects; never an unhandled rejection
  }

  private sweep(now: number): void {
    for (const [key, counter] of this.counters) {
      if (counter.resetAt <= now && counter.sending === 0 && counter.unsent === 0 && !counter.waiting) this.counters.delete(key)
    }
    for (const key of this.counters.keys()) {
      if (this.counters.size <= MAX_COUNTERS) break
      this.counters.delete(key)
    }
  }
}
