// The load generator for latency measurements, in its own process: its
// timings must not include the stalls of the runner's event loop (which
// polls the sinks, samples memory and serves its own in-process app while
// a fan-out runs). Runs one autocannon task and answers with the latency
// summary: autocannon's percentiles, and the same percentiles over each
// response's own time. With a rate set, autocannon corrects for
// coordinated omission with an expected interval of ceil(1 / per-connection
// rate) milliseconds — 1 ms at 10 req/s per connection, where the real
// interval is 100 ms — so one response of X ms adds X − 1 synthetic
// samples, and its p99 is mostly the run's single worst stall.
import autocannon from 'autocannon'
import { serveOneTask, type LoadResult } from './ipc.js'

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0

serveOneTask<autocannon.Options>(async (options): Promise<LoadResult> => {
  const times: number[] = []
  const r = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)))
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) times.push(responseTime)
    })
  })
  times.sort((a, b) => a - b)
  return {
    p50: r.latency.p50, p99: r.latency.p99, requests: r.requests.total, bad: r.non2xx + r.errors + r.timeouts,
    perResponse: { p50: percentile(times, 50), p99: percentile(times, 99), max: times.at(-1) ?? 0, count: times.length },
  }
})
