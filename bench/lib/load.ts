// The load generator for latency measurements, in its own process: its
// timings must not include the stalls of the runner's event loop (which
// polls the sinks, samples memory and serves its own in-process app while
// a fan-out runs). Runs one autocannon task sent over IPC and answers with
// the latency summary.
import autocannon from 'autocannon'
import type { LoadResult } from './ipc.js'

process.on('disconnect', () => process.exit(0))
process.once('message', (task: autocannon.Options & { id: number }) => {
  const { id, ...options } = task
  autocannon(options).then((r): LoadResult => ({
    p50: r.latency.p50, p99: r.latency.p99, requests: r.requests.total, bad: r.non2xx + r.errors + r.timeouts,
  })).then((result) => process.send?.({ ...result, id }),
    (error: unknown) => process.send?.({ id, error: String((error as Error)?.stack ?? error) }))
})
process.send?.({ ready: true })
