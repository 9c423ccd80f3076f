// The bench's sinks, in their own process so they never share the sender's
// event loop: one counting SMTP server (every message accepted, bodies not
// kept — 100 000 mails would not fit) and N HTTP receivers (the tests'
// receiver, one per origin). Answers over IPC: `stats` (counts and the
// first/last acceptance time since the last `reset`), `timeline` (webhooks
// accepted per time bucket since a given moment: where a fan-out waits),
// `sample` (one received webhook body), `reset`, `close`. Exits when its parent goes.
import { SMTPServer } from 'smtp-server'
import { startReceiver, type Receiver } from '../../test/helpers/receiver.js'
import type { SinkReply, SinkRequest } from './ipc.js'

const origins = Number(process.argv[2] ?? 20)
const closers: (() => unknown)[] = []
const t = { teardown: (fn: () => unknown) => { closers.push(fn) } }

let mail = { count: 0, first: 0, last: 0 }
const smtp = new SMTPServer({
  authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], logger: false, closeTimeout: 500, size: 10 * 1024 * 1024,
  onData(stream, _session, callback) {
    stream.on('data', () => {})
    stream.on('end', () => {
      const now = Date.now()
      mail.count++
      if (mail.first === 0) mail.first = now
      mail.last = now
      callback()
    })
  },
})
smtp.on('error', () => {})

async function main() {
  const smtpPort = await new Promise<number>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve((smtp.server.address() as { port: number }).port)))
  const receivers: Receiver[] = []
  for (let i = 0; i < origins; i++) receivers.push(await startReceiver(t))

  const stats = () => {
    let count = 0; let first = 0; let last = 0
    for (const r of receivers) {
      count += r.requests.length
      for (const q of r.requests) {
        if (first === 0 || q.at < first) first = q.at
        if (q.at > last) last = q.at
      }
    }
    return { mail: { ...mail }, http: { count, first, last } }
  }

  const close = async () => {
    await new Promise<void>((resolve) => smtp.close(() => resolve()))
    for (const fn of closers) await fn()
    process.exit(0)
  }
  process.on('disconnect', () => { void close() })
  process.on('message', (m: SinkRequest) => {
    const reply = (r: Omit<SinkReply, 'id'>) => process.send?.({ id: m.id, ...r })
    switch (m.cmd) {
      case 'stats': reply({ stats: stats() }); break
      case 'timeline': {
        const counts: number[] = []
        for (const r of receivers) {
          for (const q of r.requests) {
            const bucket = Math.max(0, Math.floor((q.at - m.since) / m.bucketMs))
            while (counts.length <= bucket) counts.push(0)
            counts[bucket]!++
          }
        }
        reply({ timeline: counts })
        break
      }
      case 'sample': reply({ body: receivers.find((r) => r.requests.length > 0)?.requests.at(-1)?.body ?? '' }); break
      case 'reset':
        mail = { count: 0, first: 0, last: 0 }
        for (const r of receivers) r.requests.length = 0
        reply({})
        break
      case 'close': reply({}); void close(); break
    }
  })
  process.send?.({ ready: { smtpPort, httpPorts: receivers.map((r) => r.port) } })
}

main().catch((error) => { console.error(error); process.exit(1) })
