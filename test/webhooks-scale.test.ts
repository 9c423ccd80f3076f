// 1 000 partner endpoints on a few loopback receivers: one published appeal
// reaches every one of them exactly once, signed for each, through the
// full path (outbox relay → fan-out → chunk jobs → undici → batched writes).
import tap from 'tap'
import { buildTestApp } from './helpers/context.js'
import { createPublished } from './helpers/liaoning.js'
import { startReceiver, type Receiver } from './helpers/receiver.js'
import { createEndpoint, eventually, startDelivery, verify } from './helpers/webhooks.js'

const ENDPOINTS = 1000
const RECEIVERS = 4

tap.test('1 000 endpoints are all delivered exactly once', async (t) => {
  const ctx = await buildTestApp(t)
  const receivers: Receiver[] = []
  for (let i = 0; i < RECEIVERS; i++) receivers.push(await startReceiver(t))
  const secrets = new Map<string, string>() // "port/path" → secret
  const started = Date.now()
  for (let batch = 0; batch < ENDPOINTS; batch += 20) {
    await Promise.all(Array.from({ length: 20 }, async (_, j) => {
      const i = batch + j
      const receiver = receivers[i % RECEIVERS]!
      const path = `/partner/${i}`
      const e = await createEndpoint(ctx, { url: receiver.url(path), description: `partner ${i}` })
      secrets.set(`${receiver.port}${path}`, e.secret)
    }))
  }
  t.comment(`registered ${ENDPOINTS} endpoints through the API in ${Date.now() - started} ms`)
  await startDelivery(t, ctx.config)

  const publishedAt = Date.now()
  await createPublished(ctx)
  const total = () => receivers.reduce((n, r) => n + r.requests.length, 0)
  for (const r of receivers) await r.waitFor(() => total() >= ENDPOINTS, 30_000, `${ENDPOINTS} deliveries`)
  const elapsed = Date.now() - publishedAt
  t.comment(`${ENDPOINTS} deliveries received ${elapsed} ms after publishing (${Math.round(ENDPOINTS / (elapsed / 1000))}/s end to end)`)

  const seen = new Set<string>()
  let verified = 0
  let duplicates = 0
  const ids = new Set<string>()
  for (const r of receivers) {
    for (const request of r.requests) {
      const key = `${r.port}${request.path}`
      if (seen.has(key)) duplicates++
      seen.add(key)
      if (verify(secrets.get(key)!, request)) verified++
      ids.add(String(request.headers['webhook-id']))
    }
  }
  t.equal(duplicates, 0, 'no endpoint received it twice')
  t.equal(seen.size, ENDPOINTS, 'every endpoint received it')
  t.equal(verified, ENDPOINTS, 'every signature verifies with that endpoint\'s secret')
  t.equal(ids.size, 1, 'one webhook-id for the one event, on every endpoint')
  const metrics = await eventually(async () => {
    const body = (await ctx.app.inject({ method: 'GET', url: '/metrics' })).body
    return body.includes(`ua_webhook_deliveries_total{status="delivered"} ${ENDPOINTS}`) ? body : null
  }, 10_000, 'every outcome recorded')
  t.match(metrics, new RegExp(`ua_webhook_attempt_duration_seconds_count ${ENDPOINTS}\\b`), 'one attempt each')
  await new Promise((r) => setTimeout(r, 300))
  t.equal(total(), ENDPOINTS, 'and no duplicate arrived afterwards')
})
