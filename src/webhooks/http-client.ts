// Owns the one HTTP client every webhook call goes through — deliveries,
// retries, resends and test pings alike: undici's dispatcher on a keep-alive
// Agent with bounded connections per origin; the SSRF guard at connect time
// (every resolved address and every IP literal is classified); redirects
// never followed; at most 4 KB of the response read, all within one
// whole-attempt deadline; every failure put into one error class.
//
// Per request it does as little as it can: one handler object (no response
// stream, no AbortController, no timer of its own), the headers passed as
// one flat array. undici's headersTimeout/bodyTimeout cut a silent receiver;
// one coarse sweep timer per client enforces the whole-attempt deadline
// (connect, queueing for a connection, a body that trickles).
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { Socket } from 'node:net'
import { Agent, buildConnector, type Dispatcher } from 'undici'
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

/** Ends a request whose response reached RESPONSE_CAP_BYTES: the rest is not read, the connection dropped. */
class CapReachedError extends Error {
  constructor() {
    super('response cap reached')
    this.name = 'CapReachedError'
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

/** The first value of a response header, from undici's raw [name, value, …] list; only read for non-2xx answers. */
function rawHeader(raw: readonly (Buffer | string | string[])[], name: string): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (String(raw[i]).toLowerCase() === name) {
      const value = raw[i + 1]!
      return Array.isArray(value) ? value[0] : String(value)
    }
  }
  return undefined
}

const decoder = new TextDecoder('utf-8', { fatal: false })

/** Postgres text cannot hold NUL; a hostile receiver must not break the attempt log. */
const storable = (text: string) => text.replace(/\u0000/g, '\uFFFD')

/** An endpoint URL split as undici's dispatcher wants it. Endpoints are few and reused, so each is parsed once. */
interface Target { origin: string; path: string }
const TARGET_CACHE_SIZE = 10_000

/**
 * The attempt whose request undici is writing right now. undici calls a
 * handler's onConnect and then, synchronously in the same function,
 * publishes `undici:client:sendHeaders` with the socket it writes to: the
 * subscriber below reads the peer address off that socket. No lookup by
 * header, no map: the request object's `abort` is the one this attempt got.
 */
let writing: Attempt | null = null

function onSendHeaders(message: unknown): void {
  const attempt = writing
  if (attempt === null) return
  writing = null
  const { request, socket } = message as { request: { abort?: unknown }; socket: Socket }
  if (request.abort === attempt.abortRequest) attempt.result.address = socket.remoteAddress ?? null
}

let subscribers = 0

/** One request in flight: undici's (classic) dispatch handler and the promise of its result. */
class Attempt implements Dispatcher.DispatchHandler {
  readonly result: AttemptResult = {
    ok: false, statusCode: null, errorClass: null, error: null, address: null, durationMs: 0, response: null, retryAfterSeconds: null,
  }

  abortRequest: ((err?: Error) => void) | null = null
  /** Set by the sweep: the deadline passed (before or after undici had a connection for us). */
  expired = false
  private settled = false
  private chunks: Buffer[] | null = null
  private size = 0
  private resolve!: (result: AttemptResult) => void
  readonly promise = new Promise<AttemptResult>((resolve) => { this.resolve = resolve })

  constructor(readonly client: WebhookHttpClient, readonly started: number, readonly deadline: number) {}

  onConnect(abort: (err?: Error) => void): void {
    if (this.expired) { abort(new DeadlineError(this.client.timeoutMs)); return }
    this.abortRequest = abort
    writing = this
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], _resume: () => void, _statusText: string): boolean {
    if (statusCode < 200) return true // 1xx (e.g. 103 Early Hints): the real answer follows
    const result = this.result
    result.statusCode = statusCode
    result.ok = statusCode >= 200 && statusCode < 300
    if (!result.ok) {
      result.errorClass = statusCode >= 300 && statusCode < 400 ? 'redirect' : 'http'
      result.error = result.errorClass === 'redirect'
        ? `redirect not followed (${statusCode}${rawHeader(rawHeaders, 'location') !== undefined ? ' to another location' : ''})`
        : `HTTP ${statusCode}`
      result.retryAfterSeconds = parseRetryAfter(rawHeader(rawHeaders, 'retry-after'))
    }
    return true
  }

  onData(chunk: Buffer): boolean {
    if (this.settled) return true
    const room = RESPONSE_CAP_BYTES - this.size
    ;(this.chunks ??= []).push(chunk.length > room ? chunk.subarray(0, room) : chunk)
    this.size += Math.min(chunk.length, room)
    if (this.size >= RESPONSE_CAP_BYTES) {
      this.finish(null)
      this.abortRequest?.(new CapReachedError()) // the rest is never read: drop the connection
    }
    return true
  }

  onComplete(): void {
    this.finish(null)
  }

  onError(err: Error): void {
    this.finish(err)
  }

  onBodySent(): void {}

  /** The deadline passed: end the request if undici has started it, and settle now either way. */
  expire(): void {
    this.expired = true
    const error = new DeadlineError(this.client.timeoutMs)
    this.abortRequest?.(error) // calls onError synchronously when the request is under way
    this.finish(error)
  }

  private finish(err: Error | null): void {
    if (this.settled) return
    this.settled = true
    const result = this.result
    if (err === null) {
      if (this.size > 0) result.response = storable(decoder.decode(this.chunks!.length === 1 ? this.chunks![0] : Buffer.concat(this.chunks!)))
    } else if (result.statusCode === null) {
      const { errorClass, error } = classifyError(err, this.expired)
      result.errorClass = errorClass
      result.error = error
    }
    // A 2xx whose body then stalls is still a 2xx: the receiver accepted it.
    result.durationMs = Math.round(performance.now() - this.started)
    this.chunks = null
    this.client.settled(this)
    this.resolve(result)
  }
}

export class WebhookHttpClient {
  private readonly agent: Agent
  readonly timeoutMs: number
  private readonly allowPrivate: boolean
  private readonly userAgent: string
  private readonly targets = new Map<string, Target>()
  /** Attempts in flight, in start order — so in deadline order: every deadline is start + timeoutMs. */
  private readonly inFlight = new Set<Attempt>()
  private sweeper: NodeJS.Timeout | null = null
  /** How late the sweep may notice a passed deadline: a tenth of it, within 50 ms … 1 s. */
  private readonly sweepEveryMs: number
  private closed = false

  constructor(options: HttpClientOptions) {
    this.timeoutMs = options.timeoutMs
    this.sweepEveryMs = Math.min(1000, Math.max(50, Math.round(options.timeoutMs / 10)))
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
      // A receiver silent this long after the request (or between two body
      // chunks) is cut by undici itself; the sweep bounds the whole attempt.
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect: guardedConnect,
    })
    if (subscribers++ === 0) subscribe('undici:client:sendHeaders', onSendHeaders)
  }

  /** POSTs `body` with `headers`; never throws, always within the deadline. */
  post(url: string, headers: Record<string, string>, body: Buffer): Promise<AttemptResult> {
    const started = performance.now()
    const attempt = new Attempt(this, started, started + this.timeoutMs)
    let target: Target
    try {
      target = this.target(url)
    } catch (error) {
      this.inFlight.add(attempt)
      attempt.onError(error as Error)
      return attempt.promise
    }
    const flat: string[] = ['content-type', 'application/json', 'user-agent', this.userAgent]
    for (const name in headers) flat.push(name, headers[name]!)
    this.inFlight.add(attempt)
    if (this.sweeper === null) {
      this.sweeper = setInterval(() => this.sweep(), this.sweepEveryMs)
      this.sweeper.unref()
    }
    // dispatch() reports its own failures through onError.
    this.agent.dispatch({ origin: target.origin, path: target.path, method: 'POST', headers: flat, body }, attempt)
    return attempt.promise
  }

  /** Called once per attempt when its result is final. */
  settled(attempt: Attempt): void {
    this.inFlight.delete(attempt)
  }

  /** Ends every attempt past its deadline; stops itself once nothing is in flight. */
  private sweep(): void {
    const now = performance.now()
    for (const attempt of this.inFlight) {
      if (attempt.deadline > now) break // the rest started later
      attempt.expire()
    }
    if (this.inFlight.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper)
      this.sweeper = null
    }
  }

  private target(url: string): Target {
    let target = this.targets.get(url)
    if (target === undefined) {
      const parsed = new URL(url)
      target = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` }
      if (this.targets.size >= TARGET_CACHE_SIZE) this.targets.delete(this.targets.keys().next().value!)
      this.targets.set(url, target)
    }
    return target
  }

  /** Lets attempts in flight finish (the sweep keeps their deadline), then closes every connection. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.agent.close()
    if (this.sweeper !== null) clearInterval(this.sweeper)
    this.sweeper = null
    if (--subscribers === 0) unsubscribe('undici:client:sendHeaders', onSendHeaders)
  }
}
