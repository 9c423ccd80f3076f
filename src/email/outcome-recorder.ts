// Owns writing alert outcomes as they happen, one process-wide group
// commit: outcomes that arrive while a write is running go together in the
// next statement, so each mail's row is written within about two round
// trips of its SMTP reply, at the cost of one statement per batch. The same
// statement tells which of the events being sent have had their appeal
// withdrawn meanwhile: that answer is what lets the next mail of a lane go
// (send-lanes.ts), at no extra round trip.
import type { Pool } from '../db/pool.js'
import { withTransaction } from '../db/pool.js'
import { recordOutcomes, type Outcome } from '../repositories/email-deliveries.js'

/** Events whose appeal was withdrawn, as of a write that started after the outcome was known. */
export type Withdrawn = ReadonlySet<string>

interface Waiting {
  outcome: Outcome
  hardBounced: boolean
  settle: (error: unknown, withdrawn?: Withdrawn) => void
}

export class OutcomeRecorder {
  private waiting: Waiting[] = []
  private writing = false

  /** `watched` names the events this process is sending now; `onWritten` sees each batch once committed. */
  constructor(
    private readonly pool: Pool,
    private readonly watched: () => readonly string[] = () => [],
    private readonly onWritten: (outcomes: readonly Outcome[]) => void = () => {},
  ) {}

  /** Resolves once the outcome is committed; rejects if its batch could not be written. */
  record(outcome: Outcome, hardBounced = false): Promise<Withdrawn> {
    return new Promise<Withdrawn>((resolve, reject) => {
      this.waiting.push({ outcome, hardBounced, settle: (error, withdrawn) => (error === undefined ? resolve(withdrawn!) : reject(error)) })
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
      const watched = this.watched()
      try {
        // One statement is atomic on its own; a bounce also writes the suppression list, in the same transaction.
        const ids = bounced.length === 0
          ? await recordOutcomes(this.pool, outcomes, [], watched)
          : await withTransaction(this.pool, (tx) => recordOutcomes(tx, outcomes, bounced, watched))
        const withdrawn: Withdrawn = new Set(ids)
        for (const w of batch) w.settle(undefined, withdrawn)
        this.onWritten(outcomes)
      } catch (error) {
        for (const w of batch) w.settle(error ?? new Error('outcome write failed'))
      }
    }
    this.writing = false
  }
}
