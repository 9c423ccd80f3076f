// A real HTTP receiver on loopback for webhook tests: records every request
// (headers and exact body bytes) and answers as each path is told to —
// status, headers, body, delay, hang, redirect — like a partner would.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

interface Tap { teardown(fn: () => unknown): void }

export interface ReceivedRequest {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: string
  at: number
}

export interface Behaviour {
  status?: number
  headers?: Record<string, string>
  body?: string | Buffer
  /** Answer after this many ms. */
  delayMs?: number
  /** Never answer (the sender's deadline must end it). */
  hang?: boolean
}

export type BehaviourFn = (request: ReceivedRequest, nth: number) => Behaviour

export interface Receiver {
  port: number
  /** TCP connections accepted so far (the SSRF tests assert none). */
  connections(): number
  url(path?: string): string
  requests: ReceivedRequest[]
  to(path: string): ReceivedRequest[]
  /** How `path` answers from now on; a function sees the request and how many came to that path before it. */
  answer(path: string, behaviour: Behaviour | BehaviourFn): void
  /** Resolves once `predicate` holds, polling every 20 ms; rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs?: number, what?: string): Promise<void>
  close(): Promise<void>
}

export async function startReceiver(t: Tap): Promise<Receiver> {
  const requests: ReceivedRequest[] = []
  const behaviours = new Map<string, Behaviour | BehaviourFn>()
  const counts = new Map<string, number>()
  const hanging = new Set<ServerResponse>()

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!
      const record: ReceivedRequest = { method: req.method ?? '', path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() }
      requests.push(record)
      const nth = counts.get(path) ?? 0
      counts.set(path, nth + 1)
      const spec = behaviours.get(path)
      const b: Behaviour = typeof spec === 'function' ? spec(record, nth) : spec ?? {}
      if (b.hang) { hanging.add(res); return }
      const send = () => {
        res.writeHead(b.status ?? 204, b.headers ?? {})
        res.end(b.body)
      }
      if (b.delayMs) setTimeout(send, b.delayMs).unref()
      else send()
    })
  })
  let connections = 0
  server.on('connection', () => { connections++ })
  server.keepAliveTimeout = 65_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    for (const res of hanging) res.destroy()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  t.teardown(close)

  return {
    port,
    connections: () => connections,
    url: (path = '/') => `http://127.0.0.1:${port}${path}`,
    requests,
    to: (path) => requests.filter((r) => r.path === path),
    answer: (path, behaviour) => { behaviours.set(path, behaviour) },
    async waitFor(predicate, timeoutMs = 10_000, what = 'condition') {
      const deadline = Date.now() + timeoutMs
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
        await new Promise((r) => setTimeout(r, 20))
      }
    },
    close,
  }
}
