// Owns the worker's inbound SMTP listener for bounce and complaint reports
// (contract §10, BOUNCE_SMTP_PORT): an MX target (no AUTH, no STARTTLS — TLS
// from the internet is the front relay's job, see README "Bounces by SMTP")
// that takes mail only for our return paths `bounces+<token>@BOUNCE_DOMAIN`
// and the feedback-loop address `bounces@BOUNCE_DOMAIN`, within size,
// connection and rate limits, parses it (report-parser.ts) and hands what
// it found to applyEmailReport — the one place a report takes effect.
// Logs delivery ids and outcomes only: never an address.
import type { Socket } from 'node:net'
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server'
import { RateLimiterMemory } from 'rate-limiter-flexible'
import type { Config } from '../config.js'
import type { Pool } from '../db/pool.js'
import type { Logger } from '../logger.js'
import { applyEmailReport, type ReportResult } from '../services/email-reports.js'
import { deliveryIdFromReturnPath, RETURN_PATH_LOCAL_PREFIX } from './return-path.js'
import { parseReport } from './report-parser.js'

export interface ReportListenerLimits {
  /** Largest message taken (SIZE in EHLO; larger ones get 552). A DSN with the whole original alert is a few tens of KB. */
  maxBytes: number
  /** Connections open at once, from everyone (beyond: 421). */
  maxClients: number
  /** Connections one client address may open per minute (beyond: 421). */
  connectionsPerMinute: number
  /** Messages one client address may send per minute (beyond: 451 at MAIL FROM; a relay retries later). */
  messagesPerMinute: number
  /** Recipients in one message (beyond: 452). A report goes to one return path. */
  maxRecipients: number
  /** Idle time before a connection is dropped. */
  socketTimeoutMs: number
  /** Longest a connection may stay open, busy or not (a client trickling bytes would otherwise keep its slot). */
  maxSessionMs: number
}

export const REPORT_LISTENER_LIMITS: Readonly<ReportListenerLimits> = Object.freeze({
  maxBytes: 256 * 1024,
  maxClients: 20,
  connectionsPerMinute: 120,
  messagesPerMinute: 600,
  maxRecipients: 5,
  socketTimeoutMs: 30_000,
  maxSessionMs: 5 * 60_000,
})

export interface ReportListenerDeps {
  config: Readonly<Config>
  pool: Pool
  logger: Logger
}

export interface ReportListener {
  /** The port listened on (BOUNCE_SMTP_PORT). */
  port: number
  close(): Promise<void>
}

/**
 * The one address without a token that takes mail: `bounces@BOUNCE_DOMAIN`,
 * to register with mailbox providers' feedback loops (Yahoo, Microsoft
 * JMRP, the Universal FBL), which send every ARF complaint to one fixed
 * address. Such a report counts only through the return path of the
 * complained-about mail it carries (ARF `Original-Mail-From`, or the
 * attached original's `Return-Path`), verified like any other token.
 */
export const feedbackLoopAddress = (bounceDomain: string) => `${RETURN_PATH_LOCAL_PREFIX.replace(/\+$/, '')}@${bounceDomain.toLowerCase()}`

/** An SMTP reply: smtp-server sends `responseCode` with the matching enhanced status code. */
const reply = (responseCode: number, message: string) => Object.assign(new Error(message), { responseCode })

/**
 * Starts listening on HOST:BOUNCE_SMTP_PORT (HOST as for the API: loopback
 * unless told otherwise). Rejects when the port cannot be bound or
 * BOUNCE_DOMAIN is unset (no return path could ever be verified).
 */
export async function startReportListener(deps: ReportListenerDeps, limits: Partial<ReportListenerLimits> = {}): Promise<ReportListener> {
  const { config, pool, logger } = deps
  const port = config.email.bounce.smtpPort
  const domain = config.email.bounce.domain
  if (port === null) throw new Error('BOUNCE_SMTP_PORT is not set')
  if (domain === null) throw new Error('BOUNCE_SMTP_PORT needs BOUNCE_DOMAIN: reports are taken only for bounces+<token>@BOUNCE_DOMAIN')
  const l = { ...REPORT_LISTENER_LIMITS, ...limits }
  const secretsKey = config.secretsKey
  const connections = new RateLimiterMemory({ points: l.connectionsPerMinute, duration: 60 })
  const messages = new RateLimiterMemory({ points: l.messagesPerMinute, duration: 60 })
  const log = logger.child({ component: 'bounce-listener' })

  /** The delivery a recipient names, or null: checked at RCPT time and again when the message is read. */
  const deliveryOf = (address: string) => deliveryIdFromReturnPath(secretsKey, domain, address)
  const feedbackLoop = feedbackLoopAddress(domain)
  const isFeedbackLoop = (address: string) => address.trim().toLowerCase() === feedbackLoop

  async function handle(raw: Buffer, session: SMTPServerSession): Promise<void> {
    const report = await parseReport(raw)
    if (!report) {
      // Auto-replies, non-standard bounces, "delivered" notices, other feedback types.
      log.debug('message is no bounce or complaint report; ignored')
      return
    }
    const common = {
      kind: report.kind, source: report.source,
      ...(report.status ? { status: report.status } : {}),
      ...(report.reportId ? { reportId: report.reportId } : {}),
    }
    for (const rcpt of session.envelope.rcptTo) {
      const deliveryId = deliveryOf(rcpt.address)
      if (deliveryId !== null) {
        // Sent to a return path: its token names the delivery (what the report says about the original is not needed).
        const result: ReportResult = await applyEmailReport(pool, { ...common, deliveryId }, { secretsKey, bounceDomain: domain })
        log.info({ deliveryId, kind: report.kind, source: report.source, status: report.status, ...result }, 'bounce report')
      } else if (report.source === 'smtp-arf' && report.originalReturnPath) {
        // Sent to the feedback-loop address: only the token in the reported mail's own envelope sender
        // counts, verified by applyEmailReport (a forged one is ignored there).
        const result: ReportResult = await applyEmailReport(pool, { ...common, returnPath: report.originalReturnPath }, { secretsKey, bounceDomain: domain })
        log.info({ kind: report.kind, source: report.source, via: 'feedback-loop', ...result }, 'bounce report')
      } else {
        log.debug({ kind: report.kind, source: report.source }, 'report to the feedback-loop address names no return path of ours; ignored')
      }
    }
  }

  const server = new SMTPServer({
    name: `bounce-listener.${domain}`, // not the front relay's own name: Postfix refuses a peer greeting it with its own
    banner: 'Urgent Appeals bounce and complaint reports',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    hideENHANCEDSTATUSCODES: false,
    disableReverseLookup: true,
    logger: false, // its own log lines carry envelope addresses
    size: l.maxBytes,
    maxClients: l.maxClients,
    socketTimeout: l.socketTimeoutMs,
    closeTimeout: 2_000,

    onConnect(session, callback) {
      connections.consume(session.remoteAddress || 'unknown')
        .then(() => callback(), () => callback(reply(421, 'Too many connections, try again later')))
    },
    onMailFrom(_address, session, callback) {
      messages.consume(session.remoteAddress || 'unknown')
        .then(() => callback(), () => callback(reply(451, 'Too many reports, try again later')))
    },
    onRcptTo(address: SMTPServerAddress, session, callback) {
      if (session.envelope.rcptTo.length >= l.maxRecipients) return callback(reply(452, 'Too many recipients'))
      // The same answer for every address that is neither one of our return paths nor the
      // feedback-loop address, forged tokens included.
      if (deliveryOf(address.address) === null && !isFeedbackLoop(address.address)) return callback(reply(550, 'No such recipient'))
      callback()
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      let bytes = 0
      stream.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        if (bytes <= l.maxBytes) chunks.push(chunk) // past the limit: read and drop, the server answers 552
      })
      stream.on('error', (err) => callback(err))
      stream.on('end', () => {
        if (stream.sizeExceeded || bytes > l.maxBytes) return callback(reply(552, 'Message too big for a report'))
        handle(Buffer.concat(chunks), session).then(() => callback(), (err: unknown) => {
          // Postgres away: a temporary failure, so the sending relay keeps the report and tries again.
          log.warn({ err }, 'could not apply a bounce report; the sender will retry')
          callback(reply(451, 'Could not take the report now, try again later'))
        })
      })
    },
  })
  server.on('error', (err) => log.warn({ err }, 'bounce listener error'))
  server.server.on('connection', (socket: Socket) => {
    const deadline = setTimeout(() => socket.destroy(), l.maxSessionMs)
    deadline.unref()
    socket.once('close', () => clearTimeout(deadline))
  })

  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error) => reject(err)
    server.server.once('error', failed)
    server.listen(port, config.host, () => {
      server.server.off('error', failed)
      resolve()
    })
  })
  const address = server.server.address()
  const bound = typeof address === 'object' && address ? address.port : port
  log.info({ port: bound }, 'listening for bounce and complaint reports')
  return {
    port: bound,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
