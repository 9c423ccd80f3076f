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
import type { Logger } from '../logger.js'
import { PgListener } from '../db/listener.js'

const APPEALS_CHANGED_CHANNEL = 'ua_appeals_changed'

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

const HEARTBEAT_MS = 1000
/** Without a heartbeat answer for this long the connection may be dead without an RST: bypass. */
const SILENCE_LIMIT_MS = 3000
const MAX_BYTES = 32 * 1024 * 1024

export class PublicReadCache {
  private readonly entries = new Map<string, CachedRead>()
  private bytes = 0
  private generation = 0
  private readonly listener: PgListener

  constructor(private readonly opts: { databaseUrl: string; logger?: Logger; maxBytes?: number }) {
    this.listener = new PgListener({
      databaseUrl: opts.databaseUrl, applicationName: 'urgent-appeals-read-cache', channels: [APPEALS_CHANGED_CHANNEL],
      heartbeatMs: HEARTBEAT_MS, silenceLimitMs: SILENCE_LIMIT_MS,
      onNotification: () => this.invalidate(),
      // Deaf: drop everything (reads bypass us until we listen again). Listening
      // again: anything read while we were not listening must not survive.
      onState: (state, reason) => {
        this.invalidate()
        if (state === 'deaf' && reason === 'lost') {
          this.opts.logger?.warn('appeal read cache: LISTEN connection lost; cache bypassed until it is back')
        }
      },
    })
  }

  /** Starts listening; resolves after the first attempt (the cache stays bypassed until one succeeds). */
  async start(): Promise<void> {
    await this.listener.start()
  }

  /** True while a change would be heard: LISTEN established and the connection recently answered. */
  get active(): boolean {
    return this.listener.listening
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
    this.invalidate()
    await this.listener.close()
  }
}
