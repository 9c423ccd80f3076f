// The load generator for latency measurements, in its own process: its
// timings must not include the stalls of the runner's event loop (which
// polls the sinks, samples memory and serves its own in-process app while
// a fan-out runs). Runs one autocannon task and answers with its latency
// summary.
import autocannon from 'autocannon'
import { serveOneTask, type LoadResult } from './ipc.js'

serveOneTask<autocannon.Options>(async (options): Promise<LoadResult> => {
  const r = await autocannon(options)
  return { p50: r.latency.p50, p99: r.latency.p99, requests: r.requests.total, bad: r.non2xx + r.errors + r.timeouts }
})
