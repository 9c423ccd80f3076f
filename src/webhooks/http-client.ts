// Owns the one HTTP client every webhook call goes through — deliveries,
// retries, resends and test pings alike: undici `request` on a keep-alive
// Agent with bounded connections per origin; the SSRF guard at connect time
// (every resolved address and every IP literal is classified); redirects
// never followed; at most 4 KB of the response read, all within one
// whole-attempt deadline; every failure put into one error class.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { Socket } from 'node:net'
import { Agent, buildConnector, request } from 'undici'
import { classifyAddress, isIpLiteral, parseIPv4Loose, type BlockReason } from './address.js'

export const RESPONSE_CAP_BYTES = 4096

export type ErrorClass = 'timeout' | 'connection' | 'dns' | 'tls' | 'http' | 'blocked' | 'redirect'

export interface AttemptResult {
  ok: boolean
  statusCode: number | null
  errorClass: ErrorClass | null
  /** Short, safe description of the failure (never the response body). */
  error: string | null
  /** The peer the request went to, when a connection was made. */
  address: string | null
  durationMs: number
  /** The first 4 KB of the response body, as text. */
  response: string | null
  /** Seconds from Retry-After, when the receiver sent one. */
  retryAfterSeconds: number | null
}

export class BlockedAddressError extends Error {
  readonly code = 'UA_BLOCKED_ADDRESS'
  constructor(readonly address: string, readonly reason: BlockReason) {
    super(`refused to connect to ${address} (${reason} address)`)
    this.name = 'BlockedAddressError'
  }
}

class DeadlineError extends Error {
  constructor(ms: number) {
    super(`no complete answer within ${ms} ms`)
    this.name = 'DeadlineError'
  }
}

export interface HttpClientOptions {
  allowPrivateNetworks: boolean
  timeoutMs: number
  /** Concurrent connections per origin (scheme + host + port). */
  connectionsPerOrigin?: number
  userAgent?: string
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void

/**
 * A `lookup` for net/tls.connect that refuses the whole host when any of its
 * addresses is blocked: a name with one public and one private record must
 * not be a way in (nor a rebinding race between two lookups).
 */
export function guardedLookup(hostname: string, options: { all?: boolean; family?: number | string }, callback: LookupCallback): void {
  dnsLookup(hostname, { all: true, family: options.family as 0 | 4 | 6 | undefined ?? 0 }, (err, addresses) => {
    if (err) return callback(err, options.all ? [] : '')
    for (const { address } of addresses) {
      const reason = classifyAddress(address)
      if (reason) return callback(new BlockedAddressError(address, reason) as NodeJS.ErrnoException, options.all ? [] : '')
    }
    if (options.all) return callback(null, addresses)
    const first = addresses[0]!
    callback(null, first.address, first.family)
  })
}

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_OSSL_)/

function classifyError(err: unknown, deadlineHit: boolean): { errorClass: ErrorClass; error: string } {
  const e = err as { code?: string; name?: string; message?: string; cause?: unknown }
  if (e instanceof BlockedAddressError || e.code === 'UA_BLOCKED_ADDRESS') return { errorClass: 'blocked', error: e.message ?? 'blocked' }
  if (deadlineHit || e instanceof DeadlineError || e.code === 'UND_ERR_CONNECT_TIMEOUT' || e.code === 'UND_ERR_HEADERS_TIMEOUT'
    || e.code === 'UND_ERR_BODY_TIMEOUT' || e.code === 'ETIMEDOUT') {
    return { errorClass: 'timeout', error: e instanceof DeadlineError ? e.message : `timed out (${e.code ?? e.name})` }
  }
  const code = e.code ?? ''
  if (['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'ENODATA', 'ESERVFAIL'].includes(code)) {
    return { errorClass: 'dns', error: `DNS lookup failed (${code})` }
  }
  if (TLS_CODES.test(code) || /SSL|TLS|certificate/i.test(e.message ?? '')) {
    return { errorClass: 'tls', error: `TLS failed (${code || (e.message ?? '').slice(0, 120)})` }
  }
  if (e.cause && e.cause !== err) return classifyError(e.cause, false)
  return { errorClass: 'connection', error: `connection failed (${code || e.name || 'error'})` }
}

/** Seconds from a Retry-After header (delta-seconds or HTTP-date). */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | null {
  const v = Array.isArray(value) ? value[0] : value
  if (v === undefined) return null
  if (/^\s*\d{1,10}\s*$/.test(v)) return Number(v)
  const at = Date.parse(v)
  if (Number.isNaN(at)) return null
  return Math.max(0, Math.ceil((at - now) / 1000))
}

const decoder = () => new TextDecoder('utf-8', { fatal: false })

/** Postgres text cannot hold NUL; a hostile receiver must not break the attempt log. */
const storable = (text: string) => text.replace(/\u0000/g, '\uFFFD')

export class WebhookHttpClient {
  private readonly agent: Agent
  private readonly timeoutMs: number
  private readonly allowPrivate: boolean
  private readonly userAgent: string
  /** Attempts waiting for their socket, keyed by their signature header (unique per attempt). */
  private readonly awaitingSocket = new Map<string, { address: string | null }>()
  private readonly onSendHeaders = (message: unknown) => {
    if (this.awaitingSocket.size === 0) return
    const { headers, socket } = message as { headers: string; socket: Socket }
    const at = headers.indexOf('webhook-signature: ')
    if (at < 0) return
    const end = headers.indexOf('\r\n', at)
    const slot = this.awaitingSocket.get(headers.slice(at + 19, end))
    if (slot) slot.address = socket.remoteAddress ?? null
  }

  constructor(options: HttpClientOptions) {
    this.timeoutMs = options.timeoutMs
    this.allowPrivate = options.allowPrivateNetworks
    this.userAgent = options.userAgent ?? 'UrgentAppeals-Webhooks/1'
    const connectTimeout = Math.min(options.timeoutMs, 10_000)
    const connector = buildConnector({
      timeout: connectTimeout,
      ...(this.allowPrivate ? {} : { lookup: guardedLookup }),
    } as buildConnector.BuildOptions)
    const guardedConnect: buildConnector.connector = (opts, callback) => {
      if (!this.allowPrivate) {
        // Node never calls `lookup` for an IP literal: check literals here,
        // including the inet_aton forms getaddrinfo would accept.
        const host = opts.hostname.replace(/^\[|\]$/g, '')
        if (isIpLiteral(host)) {
          const reason = classifyAddress(host)
          if (reason) {
            const shown = parseIPv4Loose(host) !== null ? host : `[${host}]`
            callback(new BlockedAddressError(shown, reason), null)
            return
          }
        }
      }
      connector(opts, callback)
    }
    this.agent = new Agent({
      connections: options.connectionsPerOrigin ?? 16,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 60_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect: guardedConnect,
    })
    subscribe('undici:client:sendHeaders', this.onSendHeaders)
  }

  /** POSTs `body` with `headers`; never throws, always within the deadline. */
  async post(url: string, headers: Record<string, string>, body: Buffer): Promise<AttemptResult> {
    const started = performance.now()
    const controller = new AbortController()
    let deadlineHit = false
    const timer = setTimeout(() => { deadlineHit = true; controller.abort(new DeadlineError(this.timeoutMs)) }, this.timeoutMs)
    const slot = { address: null as string | null }
    const key = headers['webhook-signature']
    if (key) this.awaitingSocket.set(key, slot)
    const result: AttemptResult = {
      ok: false, statusCode: null, errorClass: null, error: null, address: null, durationMs: 0, response: null, retryAfterSeconds: null,
    }
    try {
      const res = await request(url, {
        method: 'POST',
        dispatcher: this.agent,
        signal: controller.signal,
        headers: { 'content-type': 'application/json', 'user-agent': this.userAgent, ...headers },
        body,
      })
      result.statusCode = res.statusCode
      result.ok = res.statusCode >= 200 && res.statusCode < 300
      if (!result.ok) {
        result.errorClass = res.statusCode >= 300 && res.statusCode < 400 ? 'redirect' : 'http'
        result.error = result.errorClass === 'redirect'
          ? `redirect not followed (${res.statusCode}${res.headers.location ? ' to another location' : ''})`
          : `HTTP ${res.statusCode}`
        result.retryAfterSeconds = parseRetryAfter(res.headers['retry-after'])
      }
      // Most receivers answer 204 or an empty 200: drain those without the stream iterator.
      if (res.statusCode === 204 || res.headers['content-length'] === '0') await res.body.dump()
      else result.response = await this.readCapped(res.body)
    } catch (error) {
      if (result.statusCode === null) {
        const { errorClass, error: message } = classifyError(error, deadlineHit)
        result.errorClass = errorClass
        result.error = message
      }
      // A 2xx whose body then stalls is still a 2xx: the receiver accepted it.
    } finally {
      clearTimeout(timer)
      if (key) this.awaitingSocket.delete(key)
      result.address = slot.address
      result.durationMs = Math.round(performance.now() - started)
    }
    return result
  }

  /** Reads at most RESPONSE_CAP_BYTES; stops (and drops the connection) past that. */
  private async readCapped(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string | null> {
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of body) {
      const room = RESPONSE_CAP_BYTES - size
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk)
      size += Math.min(chunk.length, room)
      if (size >= RESPONSE_CAP_BYTES) break // leaving the loop destroys the stream
    }
    if (size === 0) return null
    return storable(decoder().decode(Buffer.concat(chunks)))
  }

  async close(): Promise<void> {
    unsubscribe('undici:client:sendHeaders', this.onSendHeaders)
    await this.agent.close()
  }
}
