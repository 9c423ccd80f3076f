// The webhook HTTP client on its own, against real receivers on loopback:
// the peer address each attempt records (shown in the partner's attempt
// log), and the whole-attempt deadline kept by the client's sweep rather
// than a timer per request.
import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import tap from 'tap'
import { WebhookHttpClient } from '../src/webhooks/http-client.js'
import { startReceiver } from './helpers/receiver.js'

interface Tap { teardown(fn: () => unknown): void }

/** A receiver with hand-written answers (a trickling body, an informational response first). */
async function startRawReceiver(t: Tap, handle: Parameters<typeof createServer>[1]): Promise<string> {
  const sockets = new Set<Socket>()
  const server: Server = createServer(handle)
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

tap.test('every attempt that connected records its peer, also two in flight with the same signature header', async (t) => {
  const receiver = await startReceiver(t)
  receiver.answer('/slow', { status: 204, delayMs: 150 })
  const client = new WebhookHttpClient({ allowPrivateNetworks: true, timeoutMs: 5000 })
  t.teardown(() => client.close())
  const body = Buffer.from('{}')
  // The same event resent to the same endpoint within one second signs to the same header value.
  const headers = { 'webhook-id': 'msg_01J0000000000000000000000A', 'webhook-timestamp': '1700000000', 'webhook-signature': 'v1,c2FtZQ==' }
  const [first, second] = await Promise.all([
    client.post(receiver.url('/slow'), headers, body),
    client.post(receiver.url('/slow'), headers, body),
  ])
  t.match(first, { ok: true, statusCode: 204, address: '127.0.0.1' }, 'the first of the two')
  t.match(second, { ok: true, statusCode: 204, address: '127.0.0.1' }, 'the second of the two')
  t.match(await client.post(receiver.url('/plain'), {}, body), { ok: true, address: '127.0.0.1' }, 'a request without webhook headers')
  const refused = await client.post('http://127.0.0.1:9/closed', {}, body)
  t.match(refused, { ok: false, errorClass: 'connection', address: null }, 'no connection, no peer')
  t.equal(receiver.requests.length, 3)
})

tap.test('a 2xx whose body trickles in is cut at the whole-attempt deadline and still counts as accepted', async (t) => {
  const timers = new Set<NodeJS.Timeout>()
  t.teardown(() => { for (const timer of timers) clearInterval(timer) })
  const base = await startRawReceiver(t, (req, res) => {
    req.resume()
    req.on('end', () => {
      // A byte every 100 ms: never silent for bodyTimeout, never done.
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100000' })
      const timer = setInterval(() => { if (!res.destroyed) res.write('x') }, 100)
      timers.add(timer)
      res.on('close', () => { clearInterval(timer); timers.delete(timer) })
    })
  })
  const client = new WebhookHttpClient({ allowPrivateNetworks: true, timeoutMs: 1000 })
  t.teardown(() => client.close())
  const result = await client.post(`${base}/trickle`, {}, Buffer.from('{}'))
  t.match(result, { ok: true, statusCode: 200, errorClass: null, address: '127.0.0.1' })
  t.ok(result.durationMs >= 950 && result.durationMs < 2500, `ended at the deadline (${result.durationMs} ms)`)
})

tap.test('an informational 103 before the answer is not the answer', async (t) => {
  const base = await startRawReceiver(t, (req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' })
      res.writeHead(503, { 'retry-after': '7' }).end('busy')
    })
  })
  const client = new WebhookHttpClient({ allowPrivateNetworks: true, timeoutMs: 2000 })
  t.teardown(() => client.close())
  const result = await client.post(`${base}/hint`, {}, Buffer.from('{}'))
  t.match(result, { ok: false, statusCode: 503, errorClass: 'http', error: 'HTTP 503', retryAfterSeconds: 7, response: 'busy' })
})
