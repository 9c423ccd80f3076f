// Owns a Postgres LISTEN connection kept alive for its user: a dedicated
// client (LISTEN cannot share a pooled one), notifications handed over,
// loss detected ('error'/'end', and optionally a heartbeat round trip with a
// silence limit for a peer that died without an RST), reconnection with
// capped exponential backoff, and each listening/deaf change reported.
// The outbox relay (src/sweeper.ts) and the public read cache
// (src/services/public-read-cache.ts) both use it: one loop, one set of fixes.
import pg from 'pg'

export type ListenerState = 'listening' | 'deaf'
/** Why a listener went deaf: its connection was lost, or it stopped answering the heartbeat. */
export type DeafReason = 'lost' | 'silent'

export interface ListenerOptions {
  databaseUrl: string
  /** Shown in pg_stat_activity; tells operators (and tests) whose connection it is. */
  applicationName: string
  channels: readonly string[]
  onNotification(message: pg.Notification): void
  /**
   * Called on each change: 'listening' once LISTEN is established (again),
   * 'deaf' when an established connection is lost or falls silent.
   * Notifications may have been missed while deaf.
   */
  onState?(state: ListenerState, reason?: DeafReason): void
  /** Round trip every this many ms; without it only 'error'/'end' (and TCP keepalive) detect loss. */
  heartbeatMs?: number
  /** Deaf when no heartbeat answered for this long (default: 3 heartbeats). */
  silenceLimitMs?: number
}

const RECONNECT_MIN_MS = 500
const RECONNECT_MAX_MS = 10_000

export class PgListener {
  private client: pg.Client | null = null
  private connecting: Promise<void> | null = null
  private reconnectTimer: NodeJS.Timeout | undefined
  private heartbeatTimer: NodeJS.Timeout | undefined
  private heartbeatPending = false
  private delayMs = RECONNECT_MIN_MS
  private lastHeard = 0
  private silent = false
  private closed = false

  constructor(private readonly opts: ListenerOptions) {}

  /** Connects once; resolves after that first attempt (on failure it keeps retrying with backoff). */
  async start(): Promise<void> {
    if (this.closed) return
    this.connecting = this.connect().finally(() => { this.connecting = null })
    await this.connecting
    if (this.opts.heartbeatMs !== undefined && !this.closed && this.heartbeatTimer === undefined) {
      this.heartbeatTimer = setInterval(() => this.heartbeat(), this.opts.heartbeatMs)
      this.heartbeatTimer.unref()
    }
  }

  /** True while a notification would be heard: LISTEN established and, with a heartbeat, recently answered. */
  get listening(): boolean {
    if (this.client === null || this.closed) return false
    if (this.silent) return false
    if (this.opts.heartbeatMs !== undefined && Date.now() - this.lastHeard > this.silenceLimitMs()) {
      this.silent = true
      this.opts.onState?.('deaf', 'silent')
      return false
    }
    return true
  }

  /** Stops reconnecting and ends the connection; no state is reported after this. */
  async close(): Promise<void> {
    this.closed = true
    clearTimeout(this.reconnectTimer)
    this.reconnectTimer = undefined
    clearInterval(this.heartbeatTimer)
    await this.connecting
    const client = this.client
    this.client = null
    await client?.end().catch(() => {})
  }

  private silenceLimitMs(): number {
    return this.opts.silenceLimitMs ?? 3 * (this.opts.heartbeatMs ?? 0)
  }

  // pg can report one loss several times ('error' more than once, then
  // 'end'): each client schedules at most one reconnect.
  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer !== undefined) return
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined
      this.connecting = this.connect().finally(() => { this.connecting = null })
    }, this.delayMs)
    this.reconnectTimer.unref()
    this.delayMs = Math.min(this.delayMs * 2, RECONNECT_MAX_MS)
  }

  private async connect(): Promise<void> {
    if (this.closed) return
    const client = new pg.Client({
      connectionString: this.opts.databaseUrl, application_name: this.opts.applicationName,
      // Keepalive notices a silently dead peer (no RST) that would otherwise leave us deaf.
      connectionTimeoutMillis: 5000, keepAlive: true, keepAliveInitialDelayMillis: 10_000,
    })
    let lost = false
    const onLost = () => {
      if (lost) return
      lost = true
      if (this.client === client) {
        this.client = null
        if (!this.closed) this.opts.onState?.('deaf', 'lost')
      }
      client.end().catch(() => {})
      this.scheduleReconnect()
    }
    client.on('notification', (message) => { if (!this.closed) this.opts.onNotification(message) })
    client.on('error', onLost)
    client.on('end', onLost)
    try {
      await client.connect()
      for (const channel of this.opts.channels) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`)
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
    this.client = client
    this.heartbeatPending = false
    this.silent = false
    this.delayMs = RECONNECT_MIN_MS
    this.lastHeard = Date.now()
    this.opts.onState?.('listening')
  }

  private heartbeat(): void {
    const client = this.client
    // One at a time: on a silently dead connection they would pile up.
    if (!client || this.closed) return
    void this.listening // reports a silence even when nobody asks
    if (this.heartbeatPending) return
    this.heartbeatPending = true
    client.query('SELECT 1').then(() => {
      if (this.client !== client || this.closed) return
      this.lastHeard = Date.now()
      if (this.silent) {
        this.silent = false
        this.opts.onState?.('listening')
      }
    }, () => { /* 'error'/'end' handle the loss */ }).finally(() => { this.heartbeatPending = false })
  }
}
