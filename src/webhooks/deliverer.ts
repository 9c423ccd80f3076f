// Owns making webhook attempts and recording them: claims a chunk of
// deliveries, signs each body with the endpoint's active secrets, posts it
// through the one HTTP client with a bounded number of requests per
// endpoint, decides delivered / retrying / failed / expired, and writes the
// outcomes in batches (one statement per table per batch). Just before each
// attempt it asks whether the appeal was withdrawn (WithdrawalCheck): once a
// withdrawal has committed, no attempt of the appeal's earlier events
// starts (its own `appeal.withdrawn` goes out). Test pings from the API use
// the same code path (`attemptSending`).
import type { Queue } from 'bullmq'
import type { Config } from '../config.js'
import type { Pool } from '../db/pool.js'
import { withTransaction } from '../db/pool.js'
import type { Logger } from '../logger.js'
import { recordAudit } from '../repositories/audit-log.js'
import {
  applyEndpointHealth, claimDeliveries, insertAttempts, loadSending, recordOutcomes, releaseDeliveries, skipUnfinished,
  type AttemptRecord, type ClaimedDelivery, type DeliveryOutcome, type EndpointHealth, type HealthTransition,
} from '../repositories/webhook-deliveries.js'
import { WithdrawalCheck } from '../delivery/withdrawal-check.js'
import type { AttemptResult, WebhookHttpClient } from './http-client.js'
import type { AttemptMetrics } from './metrics.js'
import { PRIORITY, type AttemptTrigger, type WebhookJob } from './queue.js'
import { deadlineEnd, nextAttempt } from './schedule.js'
import { openSecret } from './secret-box.js'
import { webhookHeaders } from './signing.js'

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

interface Finished {
  row: ClaimedDelivery
  outcome: DeliveryOutcome
  attempt: AttemptRecord | null
  result: AttemptResult | null
  gone: boolean
}

/** How long a row waits for its endpoint's slot before it is handed back for later. */
const SLOT_WAIT_MS = 1000
const DEFER_MS = 2000
const BATCH_ROWS = 200
const BATCH_DELAY_MS = 200
/** Decrypted secrets kept per endpoint, keyed by their ciphertext so a rotation is seen at once. */
const SECRET_CACHE_SIZE = 10_000
/** Events that carry no appeal content: sent whatever became of the appeal. */
const CONTENT_FREE_EVENTS: ReadonlySet<string> = new Set(['appeal.withdrawn', 'webhook.test'])
const WITHDRAWN = 'the appeal was withdrawn'

/** A counting semaphore per endpoint, with a bounded wait. */
class EndpointSlots {
  private readonly state = new Map<string, { active: number; waiters: (() => void)[] }>()
  constructor(private readonly limit: number) {}

  async acquire(id: string, waitMs: number): Promise<boolean> {
    let s = this.state.get(id)
    if (!s) { s = { active: 0, waiters: [] }; this.state.set(id, s) }
    if (s.active < this.limit) { s.active++; return true }
    const entry = s
    return new Promise<boolean>((resolve) => {
      const wake = () => { clearTimeout(timer); entry.active++; resolve(true) }
      const timer = setTimeout(() => {
        const i = entry.waiters.indexOf(wake)
        if (i >= 0) entry.waiters.splice(i, 1)
        resolve(false)
      }, waitMs)
      entry.waiters.push(wake)
    })
  }

  release(id: string): void {
    const s = this.state.get(id)
    if (!s) return
    s.active--
    const next = s.waiters.shift()
    if (next) next()
    else if (s.active === 0) this.state.delete(id)
  }
}

async function forEachBounded<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!)
  })
  await Promise.all(runners)
}

export class WebhookDeliverer {
  private readonly slots: EndpointSlots
  private readonly perJob: number
  private readonly openedSecrets = new Map<string, { sealed: string; secrets: string[] }>()
  private readonly withdrawal: WithdrawalCheck

  constructor(private readonly deps: DelivererDeps) {
    this.slots = new EndpointSlots(deps.perEndpoint ?? 4)
    this.perJob = deps.perJob ?? 32
    this.withdrawal = new WithdrawalCheck(deps.pool)
  }

  /** One chunk job. Returns counts by outcome, for the job's return value. */
  async processJob(job: WebhookJob): Promise<Record<string, number>> {
    const claimed = await claimDeliveries(this.deps.pool, job.ids)
    const batch = new OutcomeBatch(this)
    const deferred: ClaimedDelivery[] = []
    const bodies = new Map<string, Buffer>()
    const secrets = new Map<string, string[] | null>()
    const counts: Record<string, number> = {}
    const count = (status: string) => { counts[status] = (counts[status] ?? 0) + 1 }

    const toAttempt: ClaimedDelivery[] = []
    for (const row of claimed) {
      const closed = this.closeWithoutAttempt(row, job.trigger)
      if (closed) { batch.add(closed); count(closed.outcome.status) } else toAttempt.push(row)
    }
    try {
      await forEachBounded(toAttempt, this.perJob, async (row) => {
        if (!(await this.slots.acquire(row.endpointId, SLOT_WAIT_MS))) { deferred.push(row); return }
        try {
          const finished = !CONTENT_FREE_EVENTS.has(row.eventType) && await this.withdrawal.isWithdrawn(row.eventId)
            ? closed(row, 'cancelled', WITHDRAWN)
            : await this.attempt(row, job.trigger, bodies, secrets)
          batch.add(finished)
          count(finished.outcome.status)
        } finally {
          this.slots.release(row.endpointId)
        }
      })
    } finally {
      await batch.close()
    }
    if (deferred.length > 0) {
      await this.defer(deferred, job.trigger)
      counts.deferred = deferred.length
    }
    return counts
  }

  /**
   * The API's test ping: one row already inserted as `sending`, attempted
   * now through the same client, signing and recording. Returns the attempt id.
   */
  async attemptSending(deliveryId: number, trigger: AttemptTrigger): Promise<number | null> {
    const row = await loadSending(this.deps.pool, deliveryId)
    if (!row) return null
    const batch = new OutcomeBatch(this)
    const finished = await this.attempt(row, trigger, new Map(), new Map())
    batch.add(finished)
    const ids = await batch.close()
    return ids[0] ?? null
  }

  private closeWithoutAttempt(row: ClaimedDelivery, trigger: WebhookJob['trigger']): Finished | null {
    const close = (status: string, lastError: string) => closed(row, status, lastError)
    if (row.appealWithdrawn && !CONTENT_FREE_EVENTS.has(row.eventType)) return close('cancelled', WITHDRAWN)
    if (row.endpointStatus === null) return close('skipped', 'endpoint deleted')
    if (row.endpointStatus === 'disabled') return close('skipped', 'endpoint disabled')
    // Scheduled retries stop at the appeal's deadline; a partner's explicit resend or recover still goes.
    const deadline = deadlineEnd(row.actionDeadline)
    if (trigger === 'scheduled' && row.previousStatus === 'retrying' && deadline && deadline.getTime() < Date.now()) {
      return close('expired', 'the appeal\'s action deadline has passed')
    }
    return null
  }

  private async attempt(
    row: ClaimedDelivery, trigger: AttemptTrigger, bodies: Map<string, Buffer>, secretsCache: Map<string, string[] | null>,
  ): Promise<Finished> {
    const { config, client } = this.deps
    let body = bodies.get(row.eventId)
    if (!body) { body = Buffer.from(JSON.stringify(row.payload)); bodies.set(row.eventId, body) }
    let secrets = secretsCache.get(row.endpointId)
    if (secrets === undefined) {
      secrets = this.openSecrets(row)
      secretsCache.set(row.endpointId, secrets)
    }
    if (!secrets || !row.url) {
      return {
        row, attempt: null, result: null, gone: false,
        outcome: { id: row.id, status: 'failed', attempted: 0, nextAttemptAt: null, lastError: 'signing secret cannot be decrypted (was SECRETS_KEY changed?)' },
      }
    }
    const at = new Date()
    const result = await client.post(row.url, webhookHeaders(row.eventId, body, secrets, at.getTime()), body)
    const gone = result.statusCode === 410
    let outcome: DeliveryOutcome
    if (result.ok) {
      outcome = { id: row.id, status: 'delivered', attempted: 1, nextAttemptAt: null, lastError: null }
    } else if (gone) {
      outcome = { id: row.id, status: 'failed', attempted: 1, nextAttemptAt: null, lastError: 'HTTP 410: the endpoint is gone; it has been disabled' }
    } else {
      const decision = nextAttempt({
        attemptsMade: row.attempts + 1, scheduleSeconds: config.webhook.retryScheduleSeconds,
        retryAfterSeconds: result.retryAfterSeconds, deadline: deadlineEnd(row.actionDeadline),
      })
      outcome = { id: row.id, status: decision.status, attempted: 1, nextAttemptAt: decision.nextAttemptAt, lastError: result.error }
    }
    return {
      row, outcome, result, gone,
      attempt: {
        deliveryId: row.id, trigger, address: result.address, statusCode: result.statusCode, errorClass: result.errorClass,
        error: result.error, durationMs: result.durationMs, response: result.response, nextAttemptAt: outcome.nextAttemptAt, at,
      },
    }
  }

  private openSecrets(row: ClaimedDelivery): string[] | null {
    try {
      // AES-GCM set-up dominates a delivery's crypto: open each endpoint's secrets once, not once per chunk.
      const previous = row.previousActive && row.secretPrevious ? row.secretPrevious : null
      const sealed = `${row.secretCurrent!.toString('base64')}|${previous?.toString('base64') ?? ''}`
      const cached = this.openedSecrets.get(row.endpointId)
      if (cached?.sealed === sealed) return cached.secrets
      const key = this.deps.config.secretsKey
      const out = [openSecret(key, row.endpointId, row.secretCurrent!)]
      if (previous) out.push(openSecret(key, row.endpointId, previous))
      if (this.openedSecrets.size >= SECRET_CACHE_SIZE) this.openedSecrets.delete(this.openedSecrets.keys().next().value!)
      this.openedSecrets.set(row.endpointId, { sealed, secrets: out })
      return out
    } catch (error) {
      this.deps.logger.error({ err: error, endpointId: row.endpointId }, 'cannot decrypt a webhook secret')
      return null
    }
  }

  /** Rows whose endpoint stayed busy: handed back, due again shortly, in a new job. */
  private async defer(rows: ClaimedDelivery[], trigger: WebhookJob['trigger']): Promise<void> {
    const at = new Date(Date.now() + DEFER_MS)
    await releaseDeliveries(this.deps.pool, rows, at)
    const ids = rows.map((r) => r.id)
    await this.deps.queue().add('deliver', { ids, trigger }, {
      delay: DEFER_MS, priority: trigger === 'scheduled' ? PRIORITY.retry : PRIORITY[trigger],
      jobId: `whd-${ids[0]}-${Date.now()}`,
    }).catch((err: unknown) => this.deps.logger.warn({ err }, 'could not enqueue deferred webhook deliveries; the reconciler will'))
  }

  /** One batch: attempts, outcomes and endpoint health in one transaction; then retries, metrics, notices. */
  async flush(items: Finished[]): Promise<number[]> {
    if (items.length === 0) return []
    const { pool, config, logger } = this.deps
    const attempts = items.flatMap((i) => (i.attempt ? [i.attempt] : []))
    const health = endpointHealth(items)
    const { attemptIds, transitions } = await withTransaction(pool, async (tx) => {
      const attemptIds = await insertAttempts(tx, attempts)
      await recordOutcomes(tx, items.map((i) => i.outcome))
      const transitions = await applyEndpointHealth(tx, health, config.webhook.disableAfterSeconds)
      const disabled = transitions.filter((t) => t.disabled)
      await skipUnfinished(tx, disabled.map((t) => t.id))
      for (const t of disabled) {
        await recordAudit(tx, null, 'webhook.disable', 'webhook', t.id, { reason: t.reason })
      }
      return { attemptIds, transitions }
    })
    const disabledIds = new Set(transitions.filter((t) => t.disabled).map((t) => t.id))
    const retries = items.filter((i) => i.outcome.status === 'retrying' && !disabledIds.has(i.row.endpointId))
    if (retries.length > 0) {
      const now = Date.now()
      await this.deps.queue().addBulk(retries.map((i) => ({
        name: 'retry',
        data: { ids: [i.row.id], trigger: 'scheduled' as const },
        opts: {
          delay: Math.max(0, i.outcome.nextAttemptAt!.getTime() - now), priority: PRIORITY.retry,
          jobId: `whr-${i.row.id}-${i.row.attempts + 1}`,
        },
      }))).catch((err: unknown) => logger.warn({ err }, 'could not enqueue webhook retries; the reconciler will'))
    }
    const results = items.flatMap((i) => (i.result ? [i.result] : []))
    this.deps.metrics?.record(results, items.map((i) => i.outcome.status))
    if (transitions.length > 0) {
      for (const t of transitions) {
        logger.info({ endpointId: t.id, reason: t.reason }, t.disabled ? 'webhook endpoint disabled' : 'webhook endpoint recovered')
      }
      this.deps.onTransitions?.(transitions)
    }
    return attemptIds
  }
}

/** A row closed without an attempt (skipped, expired, cancelled). */
function closed(row: ClaimedDelivery, status: string, lastError: string): Finished {
  return { row, outcome: { id: row.id, status, attempted: 0, nextAttemptAt: null, lastError }, attempt: null, result: null, gone: false }
}

/** Per endpoint: the latest outcome, any 410, and when the final run of failures began. */
function endpointHealth(items: Finished[]): EndpointHealth[] {
  const byEndpoint = new Map<string, EndpointHealth>()
  for (const item of items) {
    if (!item.attempt) continue
    const id = item.row.endpointId
    const h = byEndpoint.get(id) ?? { endpointId: id, ok: true, gone: false, firstFailureAt: null }
    const ok = item.result!.ok
    if (ok) { h.ok = true; h.firstFailureAt = null } else {
      if (h.ok) h.firstFailureAt = item.attempt.at
      h.ok = false
    }
    if (item.gone) h.gone = true
    byEndpoint.set(id, h)
  }
  for (const h of byEndpoint.values()) if (h.gone) h.ok = false
  return [...byEndpoint.values()].map((h) => ({ ...h, firstFailureAt: h.ok ? null : h.firstFailureAt ?? new Date() }))
}

/**
 * Collects finished rows and writes them every BATCH_ROWS rows or
 * BATCH_DELAY_MS, whichever comes first, so a hanging endpoint in a chunk
 * never holds back the recorded outcomes of the healthy ones.
 */
class OutcomeBatch {
  private items: Finished[] = []
  private timer: NodeJS.Timeout | undefined
  private chain: Promise<number[]> = Promise.resolve([])
  private readonly ids: number[] = []

  constructor(private readonly deliverer: WebhookDeliverer) {}

  add(item: Finished): void {
    this.items.push(item)
    if (this.items.length >= BATCH_ROWS) this.flushNow()
    else this.timer ??= setTimeout(() => this.flushNow(), BATCH_DELAY_MS)
  }

  private flushNow(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    const items = this.items
    this.items = []
    if (items.length === 0) return
    // Serialised: each endpoint's outcomes are applied in the order they happened.
    this.chain = this.chain.then(async () => {
      const ids = await this.deliverer.flush(items)
      this.ids.push(...ids)
      return ids
    })
    this.chain.catch(() => {}) // observed by close(); never an unhandled rejection meanwhile
  }

  /** Writes what is left; rejects if any write failed (the job then fails and BullMQ retries it). */
  async close(): Promise<number[]> {
    this.flushNow()
    await this.chain
    return this.ids
  }
}
