// Owns live fan-out progress for the console's open pages (contract §9,
// "no polling storm"): one poller per appeal, however many pages watch it,
// sampling Postgres (the delivery counts) at most once per interval, and
// telling watchers only when the counts change. The poller starts with
// the first watcher, stops with the last one, and tells everyone when the
// fan-out is over (they end their streams). No Fastify here: the route
// turns a watcher into a server-sent event stream.
import type { DeliveryProgress } from '../schemas/appeal.js'

export interface ProgressSnapshot {
  progress: DeliveryProgress
  /** Nothing pending and the latest event's fan-out is over. */
  done: boolean
}

export interface ProgressWatcher {
  /** A snapshot whose counts differ from the last one told (the first one always). */
  update(snapshot: ProgressSnapshot): void
  /** The hub is closing: end the stream. */
  end(): void
}

interface Poller<C> {
  /** The first watcher's context (e.g. who reads): every watcher was allowed to see the same counts. */
  context: C
  watchers: Set<ProgressWatcher>
  last: ProgressSnapshot | null
  key: string
  timer: NodeJS.Timeout | null
}

/** What "changed" means: the counts and whether it is over, not the moving rate and ETA. */
const keyOf = (s: ProgressSnapshot) => JSON.stringify([s.progress.channels.email, s.progress.channels.webhook, s.progress.total, s.progress.pending, s.done])

export class ProgressHub<C = undefined> {
  private readonly pollers = new Map<string, Poller<C>>()
  private closed = false
  /** Samples taken since start (tests and metrics read it: one per appeal per interval at most). */
  samples = 0

  constructor(private readonly o: {
    /** Reads the counts of one appeal (the watcher's right to see them was checked before `watch`). */
    sample(appealId: string, context: C): Promise<ProgressSnapshot>
    intervalMs?: number
    onError?(error: unknown): void
  }) {}

  /** Adds a watcher of an appeal; returns how to stop watching. */
  watch(appealId: string, watcher: ProgressWatcher, context: C): () => void {
    if (this.closed) {
      watcher.end()
      return () => {}
    }
    let poller = this.pollers.get(appealId)
    if (!poller) {
      poller = { context, watchers: new Set(), last: null, key: '', timer: null }
      this.pollers.set(appealId, poller)
      poller.watchers.add(watcher)
      void this.tick(appealId, poller)
    } else {
      poller.watchers.add(watcher)
      if (poller.last) watcher.update(poller.last) // else the sample under way tells it
    }
    const p = poller
    return () => {
      p.watchers.delete(watcher)
      if (p.watchers.size === 0) this.stop(appealId, p)
    }
  }

  /** Watchers of every appeal, for tests: how many pollers run. */
  get polling(): number {
    return this.pollers.size
  }

  private stop(appealId: string, poller: Poller<C>): void {
    if (poller.timer) clearTimeout(poller.timer)
    poller.timer = null
    if (this.pollers.get(appealId) === poller) this.pollers.delete(appealId)
  }

  private async tick(appealId: string, poller: Poller<C>): Promise<void> {
    poller.timer = null
    if (this.pollers.get(appealId) !== poller) return
    try {
      this.samples++
      const snapshot = await this.o.sample(appealId, poller.context)
      const key = keyOf(snapshot)
      poller.last = snapshot
      if (key !== poller.key) {
        poller.key = key
        for (const watcher of [...poller.watchers]) watcher.update(snapshot)
      }
    } catch (error) {
      this.o.onError?.(error)
    }
    // Over: the watchers end their streams and unsubscribe; nothing more to sample.
    if (poller.last?.done || poller.watchers.size === 0 || this.pollers.get(appealId) !== poller) {
      this.stop(appealId, poller)
      return
    }
    poller.timer = setTimeout(() => void this.tick(appealId, poller), this.o.intervalMs ?? 1000)
    poller.timer.unref()
  }

  /** Ends every stream and stops every poller (the app is closing). */
  close(): void {
    this.closed = true
    for (const [appealId, poller] of [...this.pollers]) {
      this.stop(appealId, poller)
      for (const watcher of [...poller.watchers]) watcher.end()
    }
  }
}
