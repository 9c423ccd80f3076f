// Owns the send-time question "has this event's appeal been withdrawn?"
// for deliveries that have no write of their own to carry it (webhook
// attempts; email asks in its outcome writes, see email/outcome-recorder.ts).
// Every answer comes from a query that started after the question was
// asked, so once a withdrawal has committed no attempt that asks later can
// go out. Questions that arrive while a query runs wait for the next one:
// one query per wave of attempts, not one per attempt.
import type { Queryable } from '../db/pool.js'
import { withdrawnEvents } from '../repositories/events.js'

interface Asking { resolve: (withdrawn: boolean) => void; reject: (error: unknown) => void }

export class WithdrawalCheck {
  private asking = new Map<string, Asking[]>()
  private querying = false

  constructor(private readonly db: Queryable) {}

  /** Resolves with whether the appeal of `eventId` was withdrawn, as of a moment after this call. */
  isWithdrawn(eventId: string): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      const waiting = this.asking.get(eventId)
      if (waiting) waiting.push({ resolve, reject })
      else this.asking.set(eventId, [{ resolve, reject }])
      if (!this.querying) void this.drain()
    })
  }

  private async drain(): Promise<void> {
    this.querying = true
    while (this.asking.size > 0) {
      const batch = this.asking
      this.asking = new Map()
      try {
        const withdrawn = new Set(await withdrawnEvents(this.db, [...batch.keys()]))
        for (const [eventId, waiting] of batch) for (const w of waiting) w.resolve(withdrawn.has(eventId))
      } catch (error) {
        for (const waiting of batch.values()) for (const w of waiting) w.reject(error)
      }
    }
    this.querying = false
  }
}
