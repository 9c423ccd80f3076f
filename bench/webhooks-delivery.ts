// Benchmark: the webhook pipeline delivering one event to 1 000 endpoints
// (outbox relay → fan-out → chunk jobs → signed undici requests → batched
// writes) against raw `undici.request` of the same body to the same
// receivers at the same concurrency. Run: `npx tsx bench/webhooks-delivery.ts`
// (starts its own Postgres and Redis unless TEST_DATABASE_URL/TEST_REDIS_URL are set).
import { Agent, request } from 'undici'
import { buildTestApp } from '../test/helpers/context.js'
import { createPublished } from '../test/helpers/liaoning.js'
import { startReceiver, type Receiver } from '../test/helpers/receiver.js'
import { createEndpoint, startDelivery } from '../test/helpers/webhooks.js'

const ENDPOINTS = Number(process.env.BENCH_ENDPOINTS ?? 1000)
const RECEIVERS = 4
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
// The pipeline's shape: 200-id chunks, 32 requests per chunk in flight, 16 connections per origin.
const IN_FLIGHT = Math.min(5, Math.ceil(ENDPOINTS / 200)) * 32
const CONNECTIONS_PER_ORIGIN = 16

const teardowns: (() => unknown)[] = []
const t = { teardown: (fn: () => unknown) => { teardowns.push(fn) } }

function span(receivers: Receiver[], from: number): { first: number; last: number; count: number } {
  const times = receivers.flatMap((r) => r.requests.slice(from).map((q) => q.at))
  return { first: Math.min(...times), last: Math.max(...times), count: times.length }
}

async function main() {
  const ctx = await buildTestApp(t, { LOG_LEVEL: 'silent' })
  const receivers: Receiver[] = []
  for (let i = 0; i < RECEIVERS; i++) receivers.push(await startReceiver(t))
  const urls: string[] = []
  for (let i = 0; i < ENDPOINTS; i += 20) {
    await Promise.all(Array.from({ length: Math.min(20, ENDPOINTS - i) }, async (_, j) => {
      const url = receivers[(i + j) % RECEIVERS]!.url(`/partner/${i + j}`)
      await createEndpoint(ctx, { url })
      urls.push(url)
    }))
  }
  await startDelivery(t, ctx.config)
  const total = () => receivers.reduce((n, r) => n + r.requests.length, 0)
  const waitTotal = async (n: number) => {
    for (let i = 0; i < 6000 && total() < n; i++) await new Promise((r) => setTimeout(r, 5))
    if (total() < n) throw new Error(`only ${total()} of ${n} arrived`)
  }

  let body = Buffer.alloc(0)
  const pipeline: { e2e: number; rate: number }[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const before = total()
    const publishedAt = Date.now()
    await createPublished(ctx)
    await waitTotal(before + ENDPOINTS)
    const s = span(receivers, 0)
    const own = receivers.flatMap((r) => r.requests.filter((q) => q.at >= publishedAt).map((q) => q.at))
    const first = Math.min(...own)
    const last = Math.max(...own)
    pipeline.push({ e2e: last - publishedAt, rate: ENDPOINTS / ((last - first) / 1000) })
    body = Buffer.from(receivers[0]!.requests.at(-1)!.body)
    void s
  }

  const agent = new Agent({ connections: CONNECTIONS_PER_ORIGIN, pipelining: 1, keepAliveTimeout: 30_000 })
  const raw: number[] = []
  const headers = {
    'content-type': 'application/json', 'webhook-id': 'msg_01J0000000000000000000000A', 'webhook-timestamp': '1700000000',
    'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')}`,
  }
  for (let round = 0; round < ROUNDS; round++) {
    let next = 0
    const started = performance.now()
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (next < urls.length) {
        const res = await request(urls[next++]!, { method: 'POST', dispatcher: agent, headers, body })
        await res.body.dump()
      }
    }))
    raw.push(ENDPOINTS / ((performance.now() - started) / 1000))
  }
  await agent.close()

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  console.log(`endpoints=${ENDPOINTS} receivers=${RECEIVERS} body=${body.length} B in-flight=${IN_FLIGHT} connections/origin=${CONNECTIONS_PER_ORIGIN} rounds=${ROUNDS}`)
  console.log(`pipeline: publish→last delivery ${pipeline.map((p) => `${p.e2e} ms`).join(', ')}; first→last delivery rate ${pipeline.map((p) => `${Math.round(p.rate)}/s`).join(', ')} (median ${Math.round(median(pipeline.map((p) => p.rate)))}/s)`)
  console.log(`raw undici.request: ${raw.map((r) => `${Math.round(r)}/s`).join(', ')} (median ${Math.round(median(raw))}/s)`)
}

main().then(async () => {
  for (const fn of teardowns.reverse()) await fn()
  process.exit(0)
}, async (error) => {
  console.error(error)
  for (const fn of teardowns.reverse()) await Promise.resolve(fn()).catch(() => {})
  process.exit(1)
})
