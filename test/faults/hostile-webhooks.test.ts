// Hostile partners all at once — one that never answers, one that drips its
// response a byte at a time, one that sends a 50 MB body, one that
// redirects to itself, one that is gone (410) — registered next to healthy
// partners. The healthy ones are served on time, the hostile ones end as
// the contract says, and the worker stays up.
import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import tap from 'tap'
import { buildTestApp, startPrivateRedis } from '../helpers/context.js'
import { createPublished } from '../helpers/liaoning.js'
import { startReceiver } from '../helpers/receiver.js'
import { startSmtpSink } from '../helpers/smtp-sink.js'
import { createEndpoint } from '../helpers/webhooks.js'
import { roleEnv, startWorkerProcess, until } from './helpers.js'

const HEALTHY = 20
const EACH_HOSTILE = 3
const ON_TIME_MS = 2000
const BIG = 50 * 1024 * 1024

/** The hostile partner: one server, a behaviour per path. */
async function startHostile(t: { teardown(fn: () => unknown): void }): Promise<{ url(path: string): string; hits: Map<string, number> }> {
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  const hits = new Map<string, number>()
  const chunk = Buffer.alloc(64 * 1024, 'x')
  const server: Server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      const kind = (req.url ?? '').split('/')[1] ?? ''
      hits.set(kind, (hits.get(kind) ?? 0) + 1)
      switch (kind) {
        case 'hang': return // never answers
        case 'drip': { // a 200 whose headers never finish: one byte every 200 ms
          res.socket!.write('HTTP/1.1 200 OK\r\nX-Drip: ')
          const timer = setInterval(() => { if (!res.socket?.destroyed) res.socket!.write('x') }, 200)
          timers.add(timer)
          res.socket!.once('close', () => { clearInterval(timer); timers.delete(timer) })
          return
        }
        case 'big': { // 50 MB, streamed as fast as the client reads
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BIG) })
          let sent = 0
          const pump = () => {
            while (sent < BIG) {
              sent += chunk.length
              if (!res.write(chunk)) { res.once('drain', pump); return }
            }
            res.end()
          }
          res.on('close', () => { sent = BIG })
          pump()
          return
        }
        case 'loop':
          res.writeHead(302, { location: req.url }).end()
          return
        case 'gone':
          res.writeHead(410).end('gone')
          return
        default:
          res.writeHead(404).end()
      }
    })
  })
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    for (const timer of timers) clearInterval(timer)
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const { port } = server.address() as AddressInfo
  return { url: (path) => `http://127.0.0.1:${port}${path}`, hits }
}

tap.test('hostile webhook receivers together do not delay healthy partners', async (t) => {
  const redis = await startPrivateRedis(t)
  const sink = await startSmtpSink(t)
  const healthy = await startReceiver(t)
  const hostile = await startHostile(t)
  const ctx = await buildTestApp(t, { REDIS_URL: redis.url, SMTP_URL: sink.url })
  const kinds = ['hang', 'drip', 'big', 'loop', 'gone'] as const
  const endpointKind = new Map<string, string>()
  // Hostile ones first: they sort first in the chunk jobs, ahead of the healthy.
  for (let i = 0; i < EACH_HOSTILE; i++) {
    for (const kind of kinds) {
      const e = await createEndpoint(ctx, { url: hostile.url(`/${kind}/${i}`) })
      endpointKind.set(e.id, kind)
    }
  }
  for (let i = 0; i < HEALTHY; i++) await createEndpoint(ctx, { url: healthy.url(`/partner/${i}`) })
  const worker = await startWorkerProcess(t, roleEnv({
    DATABASE_URL: ctx.config.databaseUrl, REDIS_URL: redis.url, SMTP_URL: sink.url, WEBHOOK_TIMEOUT_MS: '3000', WEBHOOK_RETRY_SCHEDULE: '1,2,5',
  }))

  for (const round of [1, 2]) {
    const before = healthy.requests.length
    const publishedAt = Date.now()
    await createPublished(ctx)
    await healthy.waitFor(() => healthy.requests.length >= before + HEALTHY, 10_000, `round ${round}: every healthy partner`)
    const lastAt = Math.max(...healthy.requests.slice(before).map((r) => r.at))
    t.ok(lastAt - publishedAt <= ON_TIME_MS, `round ${round}: all ${HEALTHY} healthy partners served ${lastAt - publishedAt} ms after publishing (≤ ${ON_TIME_MS})`)
    // Round 2 runs while round 1's hostile retries are under way.
    if (round === 1) await new Promise((r) => setTimeout(r, 1500))
  }

  // Let the first attempts of every hostile endpoint finish (3 s deadline) and record.
  const outcomes = await until(async () => {
    const { rows } = await ctx.pool.query<{ endpoint_id: string; status: string; error_class: string | null; code: number | null; endpoint_status: string }>(
      `SELECT DISTINCT ON (d.recipient_id) d.recipient_id AS endpoint_id, d.status, a.error_class, a.status_code AS code, e.status AS endpoint_status
         FROM deliveries d JOIN webhook_endpoints e ON e.id = d.recipient_id
         LEFT JOIN webhook_attempts a ON a.delivery_id = d.id
        WHERE d.channel = 'webhook' AND d.recipient_id = ANY($1::uuid[])
        ORDER BY d.recipient_id, d.id, a.id`, [[...endpointKind.keys()]])
    return rows.length === endpointKind.size && rows.every((r) => r.status !== 'pending' && r.status !== 'sending' && r.error_class !== undefined) ? rows : undefined
  }, 20_000, 'a first attempt at every hostile endpoint')
  const byKind: Record<string, Set<string>> = {}
  for (const o of outcomes) {
    const kind = endpointKind.get(o.endpoint_id)!
    ;(byKind[kind] ??= new Set()).add(`${o.status}/${o.error_class ?? o.code}/${o.endpoint_status}`)
  }
  t.comment(`hostile outcomes (delivery status / first attempt / endpoint): ${JSON.stringify(Object.fromEntries(Object.entries(byKind).map(([k, v]) => [k, [...v]])))}`)
  const first = (kind: string) => [...byKind[kind]!].map((s) => s.split('/')[1])
  t.same(first('hang'), ['timeout'], 'a hanging receiver times out')
  t.same(first('drip'), ['timeout'], 'a dripping receiver times out')
  t.same(first('loop'), ['redirect'], 'a redirect is not followed')
  t.ok([...byKind.big!].every((s) => s.startsWith('delivered/')), 'a 2xx with a 50 MB body counts as delivered (4 KB read)')
  t.ok([...byKind.gone!].every((s) => s.endsWith('/disabled')), '410 disables the endpoint')
  t.ok((hostile.hits.get('gone') ?? 0) <= EACH_HOSTILE, 'a gone endpoint is not called again')

  const { rows: healthyRows } = await ctx.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM deliveries WHERE channel = 'webhook' AND status = 'delivered' AND NOT (recipient_id = ANY($1::uuid[]))`, [[...endpointKind.keys()]])
  t.equal(healthyRows[0]!.n, HEALTHY * 2, 'every healthy delivery recorded as delivered')
  t.equal(healthy.requests.length, HEALTHY * 2, 'no healthy partner heard twice')
  t.equal(worker.child.exitCode, null, 'the worker is still running')
})
