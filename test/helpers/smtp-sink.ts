// A real SMTP server on loopback for tests (smtp-server), keeping every
// accepted message with its envelope and raw bytes, parsed on demand with
// mailparser. It can answer chosen recipients with a permanent (550) or
// temporary (452) failure, a given number of times, to exercise bounces
// and retries. Any test may use it: `const sink = await startSmtpSink(t)`,
// then point SMTP_URL at `sink.url`.
import { SMTPServer, type SMTPServerAddress } from 'smtp-server'
import { simpleParser, type ParsedMail } from 'mailparser'
import { setTimeout as sleep } from 'node:timers/promises'

export interface SinkMessage {
  /** Envelope sender (MAIL FROM). */
  from: string
  /** Envelope recipients (RCPT TO) that were accepted, lower-cased. */
  to: string[]
  raw: Buffer
  receivedAt: number
  /** The message parsed by mailparser (memoised). */
  parsed(): Promise<ParsedMail>
}

export interface SinkRejection { address: string; code: number; at: number }

export interface SmtpSink {
  url: string
  port: number
  messages: SinkMessage[]
  rejections: SinkRejection[]
  /** Accepted messages addressed to `address`. */
  to(address: string): SinkMessage[]
  /** Answer RCPT TO for `address` with `code` (e.g. 550, 452), `times` times (default: always). */
  fail(address: string, code: number, times?: number): void
  /** Resolves once `count` messages have been accepted in all; rejects after `timeoutMs`. */
  waitForCount(count: number, timeoutMs?: number): Promise<SinkMessage[]>
  /** Resolves with the first message to `address`; rejects after `timeoutMs`. */
  waitFor(address: string, timeoutMs?: number): Promise<SinkMessage>
  /** Forget what was received so far (rules stay). */
  reset(): void
  close(): Promise<void>
}

interface Tap { teardown(fn: () => unknown): void }

export interface SmtpSinkOptions {
  /** Wait this long before accepting each message, to keep a fan-out running while a test acts. */
  delayMs?: number
  /** Listen on this port (a relay restarted on its old address); default: any free port. */
  port?: number
}

export async function startSmtpSink(t: Tap | null, options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const messages: SinkMessage[] = []
  const rejections: SinkRejection[] = []
  const rules = new Map<string, { code: number; remaining: number }>()
  let waiters: (() => void)[] = []
  const notify = () => { const w = waiters; waiters = []; for (const f of w) f() }

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    banner: 'urgent-appeals test sink',
    closeTimeout: 500,
    size: 10 * 1024 * 1024,
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      const key = address.address.toLowerCase()
      const rule = rules.get(key)
      if (rule && rule.remaining > 0) {
        rule.remaining--
        rejections.push({ address: key, code: rule.code, at: Date.now() })
        const error = Object.assign(new Error(rule.code >= 500 ? '5.1.1 Mailbox does not exist' : '4.2.2 Mailbox full, try again later'), { responseCode: rule.code })
        callback(error)
        notify()
        return
      }
      callback()
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        const raw = Buffer.concat(chunks)
        let parsed: Promise<ParsedMail> | undefined
        const accept = () => {
          messages.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
            raw,
            receivedAt: Date.now(),
            parsed: () => (parsed ??= simpleParser(raw)),
          })
          callback()
          notify()
        }
        if (options.delayMs) setTimeout(accept, options.delayMs)
        else accept()
      })
    },
  })
  server.on('error', () => {}) // a client dropping its connection is not a test failure

  const port = await new Promise<number>((resolve, reject) => {
    server.server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve((server.server.address() as { port: number }).port))
  })

  const until = async <T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const value = check()
      if (value !== undefined) return value
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`smtp sink: ${what} not seen within ${timeoutMs} ms (${messages.length} messages received)`)
      await Promise.race([new Promise<void>((resolve) => waiters.push(resolve)), sleep(Math.min(left, 250))])
    }
  }

  let closed: Promise<void> | undefined
  const sink: SmtpSink = {
    url: `smtp://127.0.0.1:${port}`,
    port,
    messages,
    rejections,
    to: (address) => messages.filter((m) => m.to.includes(address.toLowerCase())),
    fail(address, code, times = Number.POSITIVE_INFINITY) {
      rules.set(address.toLowerCase(), { code, remaining: times })
    },
    waitForCount: (count, timeoutMs = 15_000) =>
      until(() => (messages.length >= count ? messages.slice() : undefined), timeoutMs, `${count} messages`),
    waitFor: (address, timeoutMs = 15_000) =>
      until(() => messages.find((m) => m.to.includes(address.toLowerCase())), timeoutMs, 'a message to the address'),
    reset() { messages.length = 0; rejections.length = 0 },
    close() {
      closed ??= new Promise<void>((resolve) => server.close(() => resolve()))
      return closed
    },
  }
  t?.teardown(() => sink.close())
  return sink
}
