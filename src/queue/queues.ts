// Owns the BullMQ queues' key layout and every Redis connection of the
// service: one node, or a Redis Cluster when REDIS_URL lists several. Each
// queue has its own hash tag (`ua:{email}:email:…`), so BullMQ's multi-key
// scripts stay in one slot while different queues land on different shards.
// Job data holds ids only, never addresses or payloads.
import { Queue } from 'bullmq'
import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis'

export const QUEUE = { fanout: 'fanout', maintenance: 'maintenance' } as const

/** Job ids cannot contain ':' in BullMQ; event ids never do. */
export const fanoutJobId = (eventId: string) => `fanout-${eventId}`

/**
 * The BullMQ `prefix` of one queue: the deployment's namespace (config
 * `queuePrefix`, e.g. `ua`), then the queue's own hash tag. BullMQ keys are
 * `${prefix}:${queue}:…`, so every key of a queue hashes to the slot of its
 * name and no two queues need share a shard. Braces in the namespace are
 * dropped: a tag there would pin every queue to one slot again.
 */
export function queueKeyPrefix(namespace: string, queue: string): string {
  return `${namespace.replace(/[{}]/g, '')}:{${queue}}`
}

/**
 * Job locks of every worker: the jobs of a worker that died are handed to
 * another within about lockDuration + stalledInterval (20 s instead of
 * BullMQ's 60 s). Locks are renewed every lockDuration / 2, so only an
 * event loop blocked for 15 s could see a job start twice, which delivery
 * tolerates (at-least-once; claims skip rows already finished).
 */
export const WORKER_LOCKS = { lockDuration: 15_000, stalledInterval: 5_000 } as const

export interface FanoutJob {
  eventId: string
}

/**
 * One Redis node, or a Redis Cluster when REDIS_URL lists several seed
 * nodes. Every command, script, pipeline (each within one key's slot) and
 * event the service uses behaves the same on both, and BullMQ takes
 * either; `duplicate` does not — use duplicateRedis.
 */
export type RedisConnection = Redis | Cluster

/**
 * The one place a Redis connection is made: `url` is REDIS_URL, one node's
 * URL or, comma-separated, the seed nodes of a Redis Cluster (two or more,
 * any of its nodes; the client discovers the rest). Credentials and TLS
 * (`rediss://`) are taken from the first seed URL and used for every node
 * the cluster reports.
 */
export function connectRedis(url: string, options: RedisOptions = {}): RedisConnection {
  const urls = url.split(',').map((u) => u.trim()).filter((u) => u !== '')
  if (urls.length <= 1) return new Redis(url, options)
  const seeds: ClusterNode[] = urls.map((u) => {
    const url = new URL(u)
    return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 6379) }
  })
  const first = new URL(urls[0]!)
  const { enableOfflineQueue, enableAutoPipelining, lazyConnect, retryStrategy, ...nodeOptions } = options
  return new Cluster(seeds, {
    enableOfflineQueue, enableAutoPipelining, lazyConnect,
    ...(retryStrategy ? { clusterRetryStrategy: (times: number) => retryStrategy(times) ?? null } : {}),
    redisOptions: {
      ...nodeOptions,
      ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
      ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
      ...(first.protocol === 'rediss:' ? { tls: {} } : {}),
    },
  })
}

/** A second connection like `redis` (same node or cluster), with `options` on top. */
export function duplicateRedis(connection: RedisConnection, options: RedisOptions = {}): RedisConnection {
  if (connection instanceof Cluster) {
    const { enableAutoPipelining, enableOfflineQueue, ...nodeOptions } = options
    return connection.duplicate([], {
      ...(enableAutoPipelining !== undefined ? { enableAutoPipelining } : {}),
      ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
      redisOptions: { ...connection.options.redisOptions, ...nodeOptions },
    })
  }
  return connection.duplicate(options)
}

/**
 * A connection for commands that must fail fast while Redis is down
 * (readiness checks, the outbox relay), rather than queue up in memory: no
 * offline queue, so a command sent while disconnected fails at once. A
 * command already in flight when the connection drops is sent again once it
 * is back rather than failed after one retry: BullMQ initialises each
 * queue once (an INFO on first connect), and a failed initialisation left
 * the queue unusable until a restart (a blip during a worker's start-up
 * stopped its relay for good). Every caller bounds its own wait.
 */
export function createFailFastRedis(url: string, options: RedisOptions = {}): RedisConnection {
  const redis = connectRedis(url, { maxRetriesPerRequest: null, enableOfflineQueue: false, connectTimeout: 2000, ...options })
  redis.on('error', () => {}) // reconnects by itself; callers see the failed command
  return redis
}

/** A connection for BullMQ workers: blocking commands need no retry cap. */
export function createWorkerRedis(url: string): RedisConnection {
  const redis = connectRedis(url, { maxRetriesPerRequest: null })
  redis.on('error', () => {})
  return redis
}

export function createFanoutQueue(connection: RedisConnection, namespace: string): Queue<FanoutJob> {
  const queue = new Queue<FanoutJob>(QUEUE.fanout, {
    connection, prefix: queueKeyPrefix(namespace, QUEUE.fanout),
    defaultJobOptions: { attempts: 10, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: 1000, removeOnFail: 10_000 },
  })
  // Without a listener BullMQ prints every reconnect failure to stderr; the
  // relay sees the failed command itself and logs it, rate-limited.
  queue.on('error', () => {})
  return queue
}

/** Where every queue lived before each had its own hash tag: `{ua}:<queue>:…`, all in one slot. */
export const legacyQueuePrefix = (namespace: string) => `{${namespace.replace(/[{}]/g, '')}}`

/** Jobs moved per round, and rounds per queue: a bounded start-up step. */
const ADOPT_PAGE = 500
const ADOPT_ROUNDS = 200

/**
 * After an upgrade from the shared `{ua}` tag: moves the jobs still waiting
 * or delayed under the old keys to each queue's own keys — same name, data,
 * job id, priority and remaining delay — and removes the old copies. The
 * reconciler would re-enqueue deliveries and confirmations from Postgres
 * (the truth) anyway, about 20 s later; a fan-out job it would not, since
 * nothing in Postgres tells an event whose fan-out has not run yet from one
 * that has. Every worker runs this at start: two at once add the same job
 * ids (the second add is a no-op). A job an old worker is running stays
 * with it. Returns how many jobs moved, per queue.
 */
export async function adoptLegacyJobs(connection: RedisConnection, namespace: string, queueNames: readonly string[]): Promise<Record<string, number>> {
  const moved: Record<string, number> = {}
  for (const name of queueNames) {
    // Nothing under the old keys (the usual case): no queue is opened, so none of its keys is written.
    const lists = ['wait', 'prioritized', 'delayed'].map((list) => `${legacyQueuePrefix(namespace)}:${name}:${list}`)
    if (await connection.exists(...lists) === 0) continue // one slot: the old tag is shared
    const legacy = new Queue(name, { connection, prefix: legacyQueuePrefix(namespace), skipMetasUpdate: true })
    const current = new Queue(name, { connection, prefix: queueKeyPrefix(namespace, name) })
    legacy.on('error', () => {})
    current.on('error', () => {})
    try {
      for (let round = 0; round < ADOPT_ROUNDS; round++) {
        const jobs = (await legacy.getJobs(['waiting', 'prioritized', 'delayed'], 0, ADOPT_PAGE - 1)).filter((job) => job?.id !== undefined)
        if (jobs.length === 0) break
        const now = Date.now()
        await current.addBulk(jobs.map((job) => ({
          name: job.name,
          data: job.data as unknown,
          // BullMQ refuses an all-digit custom id: such a job (none of ours) gets a new one.
          opts: { ...job.opts, jobId: /^\d+$/.test(job.id!) ? undefined : job.id, delay: Math.max(0, job.timestamp + job.delay - now) },
        })))
        await Promise.all(jobs.map((job) => job.remove().catch(() => {}))) // taken by an old worker meanwhile: it runs there
        moved[name] = (moved[name] ?? 0) + jobs.length
      }
    } finally {
      await legacy.close()
      await current.close()
    }
  }
  return moved
}
