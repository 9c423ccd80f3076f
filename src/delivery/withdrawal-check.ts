// Owns the send-time question "has this event's appeal been withdrawn?"
// for deliveries that have no write of their own to carry it (webhook
// attempts; email asks in its outcome writes, see email/outcome-recorder.ts).
// Every answer comes from a query that started after the question was
// asked, so once a withdrawal has committed no attempt that asks later can
// go out. Questions that arrive while a query runs wait for the next one.
//
// Cheap per attempt (it is asked before every webhook attempt of appeal
// content): questions are gathered for a short window (1 ms, or until 64
// are waiting) and answered by one query, on a pool client reserved while
// questions keep coming, through a prepared statement. A wave of attempts
// costs one round trip; a lone question waits at most the window longer.
import type pg from 'pg'
import { withdrawnEvents } from '../repositories/events.js'
import { deferred, type Deferred } from '../lib/deferred.js'

/** One event's question in the next query: every asker of that event gets the same promise (none per attempt). */
type Asking = Deferred<boolean>

/** What the check needs of a pool: a client to reserve (pg.Pool). */
export type ClientSource = Pick<pg.Pool, 'connect'>

export interface WithdrawalCheckOptions {
  /** How long the first question of a batch waits for others (ms). */
  windowMs?: number
  /** A batch this large is asked at once, window or not. */
  maxQuestions?: number
  /** The reserved client goes back to the pool after this long without questions (ms). */
  idleReleaseMs?: number
}

export class WithdrawalCheck {
  private asking = new Map<string, Asking>()
  private questions = 0
  private window: NodeJS.Timeout | null = null
  private querying: Promise<void> | null = null
  private client: pg.PoolClient | null = null
  private broken = false
  private idle: NodeJS.Timeout | null = null
  private closed = false
  private readonly windowMs: number
  private readonly maxQuestions: number
  private readonly idleReleaseMs: number

  constructor(private readonly pool: ClientSource, options: WithdrawalCheckOptions = {}) {
    this.windowMs = options.windowMs ?? 1
    this.maxQuestions = options.maxQuestions ?? 64
    this.idleReleaseMs = options.idleReleaseMs ?? 1000
  }

  /** Resolves with whether the appeal of `eventId` was withdrawn, as of a moment after this call. */
  isWithdrawn(eventId: string): Promise<boolean> {
    let waiting = this.asking.get(eventId)
    if (!waiting) { waiting = deferred(); this.asking.set(eventId, waiting) }
    this.questions++
    this.schedule()
    return waiting.promise
  }

  /** Answers what is waiting, then returns the reserved client to the pool (before the pool closes). */
  async close(): Promise<void> {
    this.closed = true
    while (this.querying || this.asking.size > 0) {
      if (!this.querying) this.ask()
      await this.querying
    }
    this.release()
  }

  /** A query starts when the window ends or the batch is full — and never while one runs (its questions go next). */
  private schedule(): void {
    if (this.querying) return
    if (this.questions >= this.maxQuestions || this.closed) { this.ask(); return }
    this.window ??= setTimeout(() => { this.window = null; this.ask() }, this.windowMs)
  }

  private ask(): void {
    if (this.window) { clearTimeout(this.window); this.window = null }
    if (this.querying || this.asking.size === 0) return
    const batch = this.asking
    this.asking = new Map()
    this.questions = 0
    this.querying = this.answer(batch).finally(() => {
      this.querying = null
      // Questions asked during the query have waited at least that long: asked at once.
      if (this.asking.size > 0) this.ask()
      else this.releaseWhenIdle()
    })
  }

  private async answer(batch: Map<string, Asking>): Promise<void> {
    try {
      const withdrawn = new Set(await withdrawnEvents(await this.reserved(), [...batch.keys()]))
      for (const [eventId, waiting] of batch) waiting.resolve(withdrawn.has(eventId))
    } catch (error) {
      this.broken = true // the next batch reserves a fresh client
      this.release()
      for (const waiting of batch.values()) waiting.reject(error)
    }
  }

  private async reserved(): Promise<pg.PoolClient> {
    if (this.idle) { clearTimeout(this.idle); this.idle = null }
    if (this.client && this.broken) this.release() // lost while reserved (Postgres restarted): take another
    if (this.client) return this.client
    const client = await this.pool.connect()
    // A reserved client has no pool listener: a lost connection must not crash the process.
    client.on('error', this.onClientError)
    this.client = client
    this.broken = false
    return client
  }

  private readonly onClientError = (): void => { this.broken = true }

  private releaseWhenIdle(): void {
    if (!this.client) return
    if (this.closed || this.broken) { this.release(); return }
    this.idle ??= setTimeout(() => { this.idle = null; if (!this.querying) this.release() }, this.idleReleaseMs)
    this.idle.unref()
  }

  private release(): void {
    if (this.idle) { clearTimeout(this.idle); this.idle = null }
    const client = this.client
    if (!client) return
    this.client = null
    client.off('error', this.onClientError)
    // A broken client is destroyed, not handed to the next borrower.
    client.release(this.broken ? true : undefined)
  }
}
