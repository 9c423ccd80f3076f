// Owns recording webhook outcomes, the last stage: ONE batcher per process
// collects finished rows from every chunk job (and test ping) and writes them
// every BATCH_ROWS rows or BATCH_DELAY_MS, whichever comes first; then
// re-enqueues retries, counts the metrics and hands over endpoint-health
// transitions (a notice is owed). A batch that changes no endpoint (only
// successes, on endpoints that were healthy when claimed) is one statement
// (repositories/webhook-deliveries.ts recordFailureFree); any other batch
// is one transaction with the endpoint health, the skipping of a disabled
// endpoint's rows and its audit entry. Each row's promise
// settles when its batch has committed: a chunk job completes only after
// its outcomes are durable (at-least-once).
import type { Queue } from 'bullmq'
import type { Config } from '../config.js'
import type { Pool, Queryable } from '../db/pool.js'
import { withTransaction } from '../db/pool.js'
import type { Logger } from '../logger.js'
import { deferred, type Deferred } from '../lib/deferred.js'
import { recordAudit } from '../repositories/audit-log.js'
import {
  applyEndpointHealth, insertAttempts, recordFailureFree, recordOutcomes, skipUnfinished,
  type AttemptRecord, type DeliveryOutcome, type EndpointHealth, type HealthTransition,
} from '../repositories/webhook-deliveries.js'
import type { AttemptResult } from './http-client.js'
import type { AttemptMetrics } from './metrics.js'
import { changesNoEndpoint, endpointHealth, type Finished } from './outcome.js'
import { PRIORITY, retryJobId, type WebhookJob } from './queue.js'

/** Rows per write: one statement's arrays stay small, a fan-out's rows share few round trips. */
const BATCH_ROWS = 500
/** The longest a finished row waits to be written (a job's completion waits for it too). */
const BATCH_DELAY_MS = 50

export interface RecorderDeps {
  config: Readonly<Config>
  pool: Pool
  /** Where retries are enqueued; if Redis refuses, the reconciler re-enqueues them. */
  queue: () => Queue<WebhookJob>
  logger: Pick<Logger, 'info' | 'warn'>
  metrics?: AttemptMetrics
  /** Called after a batch disabled or recovered an endpoint (a notice is owed). */
  onTransitions?: (transitions: HealthTransition[]) => void
}

/** The batch being gathered: its rows and the one promise they all share. */
interface Batch { items: Finished[]; written: Deferred<void> }

function newBatch(): Batch {
  const written = deferred<void>()
  // A job that stopped waiting (it failed otherwise) must not leave an unhandled rejection behind.
  written.promise.catch(() => {})
  return { items: [], written }
}

export class OutcomeRecorder {
  private waiting: Batch = newBatch()
  private timer: NodeJS.Timeout | undefined
  /** Serialised: each endpoint's outcomes are applied in the order they happened. */
  private chain: Promise<unknown> = Promise.resolve()

  constructor(private readonly deps: RecorderDeps) {}

  /**
   * Resolves once the row's outcome is committed (and its retry, if any,
   * enqueued); rejects if the write failed. Every row of a batch gets the
   * batch's one promise (no promise and closure per row).
   */
  record(item: Finished): Promise<void> {
    const batch = this.waiting
    batch.items.push(item)
    if (batch.items.length >= BATCH_ROWS) this.flush()
    else this.timer ??= setTimeout(() => this.flush(), BATCH_DELAY_MS)
    return batch.written.promise
  }

  /** Writes `items` now as one batch (after what is already waiting); their attempt ids, in order (a test ping answers with its attempt). */
  recordNow(items: Finished[]): Promise<number[]> {
    this.flush()
    const write = this.chain.then(() => this.write(items, true))
    this.chain = write.catch(() => {})
    return write
  }

  /** Writes whatever is waiting (shutdown). */
  async close(): Promise<void> {
    this.flush()
    await this.chain
  }

  private flush(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    const batch = this.waiting
    if (batch.items.length === 0) return
    this.waiting = newBatch()
    this.chain = this.chain.then(() => this.write(batch.items, false)).then(
      () => batch.written.resolve(),
      (error: unknown) => batch.written.reject(error ?? new Error('webhook outcomes not recorded')),
    )
  }

  /** One batch: outcomes (and endpoint health) committed; then retries, metrics, notices. */
  private async write(items: Finished[], returnIds: boolean): Promise<number[]> {
    if (items.length === 0) return []
    const { pool, logger, metrics } = this.deps
    // One pass over the rows, no closure or array per row: this runs for every row of a fan-out.
    const attempts: AttemptRecord[] = []
    const outcomes: DeliveryOutcome[] = []
    const results: AttemptResult[] = []
    const statuses: string[] = []
    let retries: Finished[] | undefined
    for (const item of items) {
      outcomes.push(item.outcome)
      if (item.attempt) attempts.push(item.attempt)
      if (metrics) {
        if (item.result) results.push(item.result)
        statuses.push(item.outcome.status)
      }
      if (item.outcome.status === 'retrying') (retries ??= []).push(item)
    }
    let attemptIds: number[] = []
    let transitions: HealthTransition[]
    if (changesNoEndpoint(items) && !returnIds) {
      // The common case: one statement. Endpoints flagged since their claim (another batch's failure) come back to be
      // applied; only then is the batch's health per endpoint worked out.
      const flagged = await recordFailureFree(pool, attempts, outcomes)
      if (flagged.length === 0) transitions = []
      else {
        const ids = new Set(flagged)
        const health = endpointHealth(items, Date.now()).filter((h) => ids.has(h.endpointId))
        transitions = await withTransaction(pool, (tx) => this.applyHealth(tx, health))
      }
    } else {
      const health = endpointHealth(items, Date.now())
      ;({ attemptIds, transitions } = await withTransaction(pool, async (tx) => {
        const attemptIds = await insertAttempts(tx, attempts)
        await recordOutcomes(tx, outcomes)
        return { attemptIds, transitions: await this.applyHealth(tx, health) }
      }))
    }
    if (retries && transitions.length > 0) {
      const disabled = new Set(transitions.filter((t) => t.disabled).map((t) => t.id))
      retries = retries.filter((i) => !disabled.has(i.row.endpointId))
    }
    if (retries && retries.length > 0) {
      const now = Date.now()
      await this.deps.queue().addBulk(retries.map((i) => ({
        name: 'retry',
        data: { ids: [i.row.id], trigger: 'scheduled' as const },
        opts: { delay: Math.max(0, i.outcome.nextAttemptAt! - now), priority: PRIORITY.retry, jobId: retryJobId(i.row.id, i.row.attempts + 1) },
      }))).catch((err: unknown) => logger.warn({ err }, 'could not enqueue webhook retries; the reconciler will'))
    }
    metrics?.record(results, statuses)
    if (transitions.length > 0) {
      for (const t of transitions) {
        logger.info({ endpointId: t.id, reason: t.reason }, t.disabled ? 'webhook endpoint disabled' : 'webhook endpoint recovered')
      }
      this.deps.onTransitions?.(transitions)
    }
    return attemptIds
  }

  /** Endpoint health in the caller's transaction: a disabled endpoint's unfinished rows are skipped and the disablement audited. */
  private async applyHealth(tx: Queryable, health: EndpointHealth[]): Promise<HealthTransition[]> {
    const transitions = await applyEndpointHealth(tx, health, this.deps.config.webhook.disableAfterSeconds)
    const disabled = transitions.filter((t) => t.disabled)
    await skipUnfinished(tx, disabled.map((t) => t.id))
    for (const t of disabled) await recordAudit(tx, null, 'webhook.disable', 'webhook', t.id, { reason: t.reason })
    return transitions
  }
}
