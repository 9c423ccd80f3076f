// Owns the in-process cache of public reads (GET /v1/appeals and
// /v1/appeals/{id} without a staff key, and the public pages and feeds):
// the response body as the string already rendered, with its validators.
//
// It can never answer with content older than a committed change that this
// process has heard of, and it only answers while it is sure to hear:
// - migration 006 NOTIFYs `ua_appeals_changed` on every change to appeals,
//   their translations and follow-ups; each notification drops every entry;
// - entries are served only while LISTEN is established on a live
//   connection (a heartbeat round trip at least every HEARTBEAT_MS, else
//   bypassed); on loss everything is dropped and reads go to Postgres until
//   LISTEN is back;
// - a read stores its result only if no invalidation happened since it
//   began (generation check), so a read that raced a change cannot put the
//   old version back;
// - writes made through this process invalidate as soon as they return,
//   before their response is sent (no wait for the notification).
import pg from 'pg'
import type { Logger } from '../logger.js'

export const APPEALS_CHANGED_CHANNEL = 'ua_appeals_changed'

export interface CachedRead {
  body: string
  /** Content-Type, when not JSON. */
  type?: string
  etag?: string
  /** HTTP date of the last change the body shows. */
  lastModified?: string
}

/** What a read remembers before it goes to Postgres; null when the result must not be stored. */
export type ReadToken = { generation: number } | null

const RECONNECT_MIN_MS = 500
const RECONNECT_MAX_MS = 10_000
const HEARTBEAT_MS = 1000
/** Without a heartbeat answer for this long the connection may be dead without an RST: bypass. */
const SILENCE_LIMIT_MS = 3000
const MAX_BYTES = 32 * 1024 * 1024

export class PublicReadCache {
  private readonly entries = new Map<string, CachedRead>()
  private bytes = 0
  private generation = 0
  private listening = false
  private lastHeard = 0
  private closed = false
  private listener: pg.Client | null = null
  private connecting: Promise<void> | null = null
  private reconnectTimer: NodeJS.Timeout | undefined
  private heartbeatTimer: NodeJS.Timeout | undefined
  private delayMs = RECONNECT_MIN_MS
  private heartbeatPending = false

  constructor(private readonly opts: { databaseUrl: string; logger?: Logger; maxBytes?: number }) {}

  /** Starts listening; resolves after the first attempt (the cache stays bypassed until one succeeds). */
  async start(): Promise<void> {
    this.connecting = this.listen().finally(() => { this.connecting = null })
    await this.connecting
    this.heartbeatTimer = setInterval(() => this.heartbeat(), HEARTBEAT_MS)
    this.heartbeatTimer.unref()
  }

  /** True while a change would be heard: LISTEN established and the connection recently answered. */
  get active(): boolean {
    if (!this.listening) return false
    if (Date.now() - this.lastHeard > SILENCE_LIMIT_MS) {
      this.invalidate()
      return false
    }
    return true
  }

  get(key: string): CachedRead | undefined {
    if (this.entries.size === 0 || !this.active) return undefined
    return this.entries.get(key)
  }

  /** Call before reading from Postgres; pass the token to `set`. */
  begin(): ReadToken {
    return this.active ? { generation: this.generation } : null
  }

  set(key: string, token: ReadToken, value: CachedRead): void {
    if (token === null || token.generation !== this.generation || !this.active) return
    const size = value.body.length + key.length
    if (size > (this.opts.maxBytes ?? MAX_BYTES) / 4) return
    const old = this.entries.get(key)
    if (old) {
      this.bytes -= old.body.length + key.length
      this.entries.delete(key)
    }
    this.entries.set(key, value)
    this.bytes += size
    // Oldest first out (Map keeps insertion order).
    for (const [k, v] of this.entries) {
      if (this.bytes <= (this.opts.maxBytes ?? MAX_BYTES)) break
      this.entries.delete(k)
      this.bytes -= v.body.length + k.length
    }
  }

  /** Drops every entry; reads already under way will not store their results. */
  invalidate(): void {
    this.generation++
    this.entries.clear()
    this.bytes = 0
  }

  async close(): Promise<void> {
    this.closed = true
    this.setDeaf()
    clearTimeout(this.reconnectTimer)
    clearInterval(this.heartbeatTimer)
    await this.connecting
    const client = this.listener
    this.listener = null
    await client?.end().catch(() => {})
  }

  private setDeaf(): void {
    this.listening = false
    this.invalidate()
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer !== undefined) return
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined
      this.connecting = this.listen().finally(() => { this.connecting = null })
    }, this.delayMs)
    this.reconnectTimer.unref()
    this.delayMs = Math.min(this.delayMs * 2, RECONNECT_MAX_MS)
  }

  // Like the worker's LISTEN (src/worker.ts): its own connection, reconnect
  // with backoff; pg may report one loss several times, so each client
  // schedules at most one reconnect.
  private async listen(): Promise<void> {
    if (this.closed) return
    const client = new pg.Client({
      connectionString: this.opts.databaseUrl, application_name: 'urgent-appeals-read-cache',
      connectionTimeoutMillis: 5000, keepAlive: true, keepAliveInitialDelayMillis: 10_000,
    })
    let lost = false
    const onLost = () => {
      if (lost) return
      lost = true
      if (this.listener === client) {
        this.listener = null
        this.setDeaf()
        this.opts.logger?.warn('appeal read cache: LISTEN connection lost; cache bypassed until it is back')
      }
      client.end().catch(() => {})
      this.scheduleReconnect()
    }
    client.on('notification', () => this.invalidate())
    client.on('error', onLost)
    client.on('end', onLost)
    try {
      await client.connect()
      await client.query(`LISTEN ${APPEALS_CHANGED_CHANNEL}`)
    } catch {
      onLost()
      return
    }
    if (lost) return
    if (this.closed) {
      lost = true
      await client.end().catch(() => {})
      return
    }
    this.listener = client
    this.heartbeatPending = false
    this.delayMs = RECONNECT_MIN_MS
    // Anything stored before (nothing: it was dropped when deaf) or read
    // while we were not listening must not survive.
    this.invalidate()
    this.lastHeard = Date.now()
    this.listening = true
  }

  private heartbeat(): void {
    const client = this.listener
    // One at a time: on a silently dead connection they would pile up.
    if (!client || this.closed || this.heartbeatPending) return
    this.heartbeatPending = true
    client.query('SELECT 1').then(() => {
      if (this.listener === client) this.lastHeard = Date.now()
    }, () => { /* 'error'/'end' handle the loss */ }).finally(() => { this.heartbeatPending = false })
  }
}
