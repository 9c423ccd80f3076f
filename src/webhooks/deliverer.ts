// Owns the order of a webhook chunk job's stages, and nothing else:
//   claim.ts     claim the due rows; close those needing no attempt;
//   (here)       per row: an endpoint slot (endpoint-slots.ts), then the
//                withdrawal check just before sending — once a withdrawal
//                has committed, no attempt of the appeal's earlier events
//                starts (its own `appeal.withdrawn` goes out);
//   dispatch.ts  sign and send through the one HTTP client;
//   outcome.ts   decide delivered / retrying / failed / expired (pure);
//   record.ts    write outcomes in the process's batches, then retries,
//                metrics and endpoint-health notices;
//   claim.ts     hand back rows whose endpoint stayed busy.
// The API's test pings go through the same stages (`attemptSending`).
import type { Queue } from 'bullmq'
import type { Config } from '../config.js'
import type { Pool } from '../db/pool.js'
import type { Logger } from '../logger.js'
import { loadSending, type ClaimedDelivery, type HealthTransition } from '../repositories/webhook-deliveries.js'
import { WithdrawalCheck } from '../delivery/withdrawal-check.js'
import { claimChunk, deferBusy } from './claim.js'
import { Dispatcher, type Bodies } from './dispatch.js'
import { EndpointSlots } from './endpoint-slots.js'
import type { WebhookHttpClient } from './http-client.js'
import type { AttemptMetrics } from './metrics.js'
import { afterAttempt, carriesAppealContent, closedWithoutAttempt, type Finished } from './outcome.js'
import type { AttemptTrigger, WebhookJob } from './queue.js'
import { OutcomeRecorder } from './record.js'
import { SecretCache } from './secret-cache.js'

export interface DelivererDeps {
  config: Readonly<Config>
  pool: Pool
  client: WebhookHttpClient
  /** Where retries and deferred rows are enqueued; if Redis refuses, the reconciler re-enqueues them. */
  queue: () => Queue<WebhookJob>
  logger: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>
  metrics?: AttemptMetrics
  /** Called after a batch disabled or recovered an endpoint (a notice is owed). */
  onTransitions?: (transitions: HealthTransition[]) => void
  /** Concurrent requests per endpoint in this process. */
  perEndpoint?: number
  /** Concurrent requests per chunk job. */
  perJob?: number
}

/** How long a row waits for its endpoint's slot before it is handed back for later. */
const SLOT_WAIT_MS = 1000

async function forEachBounded<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!)
  })
  await Promise.all(runners)
}

/** One per process: its slots, secret cache and outcome batcher are shared by every job it runs. */
export class WebhookDeliverer {
  private readonly slots: EndpointSlots
  private readonly perJob: number
  private readonly withdrawal: WithdrawalCheck
  private readonly dispatcher: Dispatcher
  private readonly recorder: OutcomeRecorder

  constructor(private readonly deps: DelivererDeps) {
    this.slots = new EndpointSlots(deps.perEndpoint ?? 4)
    this.perJob = deps.perJob ?? 32
    this.withdrawal = new WithdrawalCheck(deps.pool)
    this.dispatcher = new Dispatcher({ client: deps.client, secrets: new SecretCache(deps.config.secretsKey), logger: deps.logger })
    this.recorder = new OutcomeRecorder(deps)
  }

  /** One chunk job; completes once every outcome is committed. Returns counts by outcome, for the job's return value. */
  async processJob(job: WebhookJob): Promise<Record<string, number>> {
    const { toAttempt, closed } = await claimChunk(this.deps.pool, job, Date.now())
    const counts: Record<string, number> = {}
    // The batches this job's rows went into (rows share their batch's promise).
    const recorded = new Set<Promise<void>>()
    const finish = (item: Finished) => {
      counts[item.outcome.status] = (counts[item.outcome.status] ?? 0) + 1
      recorded.add(this.recorder.record(item))
    }
    closed.forEach(finish)
    const deferred: ClaimedDelivery[] = []
    const bodies: Bodies = new Map()
    let failure: { reason: unknown } | undefined
    try {
      await forEachBounded(toAttempt, this.perJob, async (row) => {
        if (!this.slots.tryAcquire(row.endpointId) && !(await this.slots.acquire(row.endpointId, SLOT_WAIT_MS))) { deferred.push(row); return }
        try {
          finish(carriesAppealContent(row) && await this.withdrawal.isWithdrawn(row.eventId)
            ? closedWithoutAttempt(row, 'withdrawn')
            : await this.attempt(row, job.trigger, bodies))
        } finally {
          this.slots.release(row.endpointId)
        }
      })
    } catch (reason) {
      failure = { reason }
    }
    // Every outcome settled before the job ends; the first failed write fails the job (BullMQ retries it).
    const settled = await Promise.allSettled(recorded)
    failure ??= settled.find((s) => s.status === 'rejected')
    if (deferred.length > 0) {
      // Handed back whether or not the job failed: a failed job's retry skips rows still `sending`, which would
      // otherwise wait for the stale sweep (minutes) instead of DEFER_MS.
      const handedBack = deferBusy(this.deps, deferred, job.trigger)
      if (failure) await handedBack.catch(() => {}) // the job's own failure is what BullMQ should see
      else await handedBack
      counts.deferred = deferred.length
    }
    if (failure) throw failure.reason
    return counts
  }

  /**
   * The API's test ping: one row already inserted as `sending`, attempted
   * now through the same stages and recorded at once. Returns the attempt id.
   */
  async attemptSending(deliveryId: number, trigger: AttemptTrigger): Promise<number | null> {
    const row = await loadSending(this.deps.pool, deliveryId)
    if (!row) return null
    const [attemptId] = await this.recorder.recordNow([await this.attempt(row, trigger, new Map())])
    return attemptId ?? null
  }

  /** At shutdown, before the pool closes: writes what is still waiting and returns the withdrawal check's reserved client. */
  async close(): Promise<void> {
    await this.recorder.close()
    await this.withdrawal.close()
  }

  private async attempt(row: ClaimedDelivery, trigger: AttemptTrigger, bodies: Bodies): Promise<Finished> {
    const sent = await this.dispatcher.send(row, bodies)
    if (!sent) return closedWithoutAttempt(row, 'secret-unreadable')
    return afterAttempt(row, sent.result, {
      trigger, startedAt: sent.startedAt, now: Date.now(), scheduleSeconds: this.deps.config.webhook.retryScheduleSeconds,
    })
  }
}
