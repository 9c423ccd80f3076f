// Owns writing alert outcomes as they happen, one process-wide group
// commit: outcomes that arrive while a write is running go together in the
// next statement, so each mail's row is written within about two round
// trips of its SMTP reply, at the cost of one statement per batch.
import type { Pool } from '../db/pool.js'
import { withTransaction } from '../db/pool.js'
import { recordOutcomes, type Outcome } from '../repositories/email-deliveries.js'

interface Waiting {
  outcome: Outcome
  hardBounced: boolean
  settle: (error?: unknown) => void
}

export class OutcomeRecorder {
  private waiting: Waiting[] = []
  private writing = false

  constructor(private readonly pool: Pool) {}

  /** Resolves once the outcome is committed; rejects if its batch could not be written. */
  record(outcome: Outcome, hardBounced = false): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ outcome, hardBounced, settle: (error) => (error === undefined ? resolve() : reject(error)) })
      if (!this.writing) void this.drain()
    })
  }

  private async drain(): Promise<void> {
    this.writing = true
    while (this.waiting.length > 0) {
      const batch = this.waiting
      this.waiting = []
      const outcomes = batch.map((w) => w.outcome)
      const bounced = batch.filter((w) => w.hardBounced).map((w) => w.outcome.id)
      try {
        // One statement is atomic on its own; a bounce also writes the suppression list, in the same transaction.
        if (bounced.length === 0) await recordOutcomes(this.pool, outcomes, [])
        else await withTransaction(this.pool, (tx) => recordOutcomes(tx, outcomes, bounced))
        for (const w of batch) w.settle()
      } catch (error) {
        for (const w of batch) w.settle(error ?? new Error('outcome write failed'))
      }
    }
    this.writing = false
  }
}

