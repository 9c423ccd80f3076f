// Messages between the bench runner and its child processes (sinks,
// baselines, the load generator), and the children's side of a one-task run.
export interface SinkStats {
  mail: { count: number; first: number; last: number }
  http: { count: number; first: number; last: number }
}

export type SinkRequest = { id: number; cmd: 'stats' | 'sample' | 'reset' | 'close' } | { id: number; cmd: 'timeline'; since: number; bucketMs: number }
export interface SinkReply { id: number; stats?: SinkStats; body?: string; timeline?: number[] }

export interface NodemailerTask {
  cmd: 'nodemailer'
  smtpUrl: string
  n: number
  /** Pool size: the product's transport uses 5. */
  connections: number
  /** Messages handed to the pool at once. */
  inFlight: number
  from: string
  subject: string
  text: string
  html: string
  headers: Record<string, string>
}

export interface UndiciTask {
  cmd: 'undici'
  urls: string[]
  body: string
  inFlight: number
  connectionsPerOrigin: number
  rounds: number
}

export interface FastifyTask {
  cmd: 'fastify'
  /** Path → JSON document to answer with (serialised by Fastify, as a JSON route is). */
  routes?: Record<string, unknown>
  /** Path → exact bytes and Content-Type to answer with (a page or feed as the service rendered it), and optionally the same response headers. */
  bodies?: Record<string, { body: string; type: string; headers?: Record<string, string> }>
}

export type BaselineTask = NodemailerTask | UndiciTask | FastifyTask

export interface BaselineResult {
  /** Milliseconds per round (nodemailer: one round). */
  ms?: number[]
  /** undici: CPU time (user + system) over all rounds. */
  cpuMicroseconds?: number
  /** fastify: the port it listens on. */
  port?: number
  error?: string
}

/** What bench/lib/load.ts answers: autocannon's latency summary (ms). */
export interface LoadResult {
  p50: number
  p99: number
  requests: number
  /** Non-2xx answers, errors and timeouts. */
  bad: number
  error?: string
}

/**
 * A child's side of a one-task run (baselines, the load generator): says
 * it is ready, runs the one task the runner sends, answers with its result
 * or error under the task's id, and exits when the runner goes away.
 */
export function serveOneTask<T>(run: (task: T) => Promise<object>): void {
  process.on('disconnect', () => process.exit(0))
  // A normal exit on the runner's SIGTERM, so a --cpu-prof profile gets written.
  process.once('SIGTERM', () => process.exit(0))
  process.once('message', (message: T & { id: number }) => {
    const { id, ...task } = message
    run(task as T).then((result) => process.send?.({ ...result, id }),
      (error: unknown) => process.send?.({ id, error: String((error as Error)?.stack ?? error) }))
  })
  process.send?.({ ready: true })
}
