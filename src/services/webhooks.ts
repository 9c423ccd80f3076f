// Owns partner webhook endpoints (contract §5): registration with URL
// policy, filters and a cap per organisation, secrets (shown once, rotated
// with a grace period), enable, test pings through the real delivery path,
// the delivery log, resend and recover. Partners act on their own
// organisation's endpoints only — scoped in SQL — admins on all; every
// write is audited in its transaction.
import { randomUUID } from 'node:crypto'
import type { Queue } from 'bullmq'
import type { Config } from '../config.js'
import type { Pool } from '../db/pool.js'
import { withTransaction } from '../db/pool.js'
import type { Actor } from '../auth/api-keys.js'
import type { Logger } from '../logger.js'
import { AppError, badRequest, conflict, notFound, preconditionFailed, type FieldError } from '../errors.js'
import { isCountry } from '../lib/codes.js'
import { decodeCursor, toPage } from '../lib/cursor.js'
import { recordAudit } from '../repositories/audit-log.js'
import * as repo from '../repositories/webhooks.js'
import { requeue, requeueWindow } from '../repositories/deliveries.js'
import { insertTestDelivery } from '../repositories/webhook-deliveries.js'
import { appendEvent } from './events.js'
import { etagOf, matchesIfMatch } from './appeals.js'
import type {
  CreateWebhook, ListDeliveriesQuery, ListWebhooksQuery, PatchWebhook, Recover, Webhook, WebhookAttempt, WebhookDelivery,
} from '../schemas/webhook.js'
import type { WebhookDeliverer } from '../webhooks/deliverer.js'
import { CHUNK_SIZE, chunk, partnerRequestJobId, PRIORITY, type WebhookJob } from '../webhooks/queue.js'
import { sealSecret } from '../webhooks/secret-box.js'
import { generateSecret } from '../webhooks/signing.js'
import { urlProblem } from '../webhooks/url-policy.js'

export { etagOf }

const scopeOf = (actor: Actor): repo.Scope => ({ organisationId: actor.role === 'admin' ? null : actor.organisationId })

const toApi = ({ seq: _seq, ...row }: repo.EndpointRow): Webhook => row as Webhook

const invalid = (errors: FieldError[]) =>
  badRequest(`The request body has ${errors.length} invalid value${errors.length === 1 ? '' : 's'}.`, errors)

const endpointLimitReached = (max: number) =>
  new AppError(409, 'webhook-limit-reached', 'Too many webhook endpoints',
    `Your organisation already has ${max} webhook endpoint${max === 1 ? '' : 's'}, the most this service allows. `
    + 'Delete one you no longer use, or filter one endpoint by event type, country, theme and urgency; '
    + 'the service\'s operator can raise the limit.')

const endpointDisabled = () =>
  new AppError(409, 'webhook-disabled', 'The endpoint is disabled',
    'Re-enable it with POST /v1/webhooks/{id}/enable first; deliveries to a disabled endpoint are skipped.')

export class WebhookService {
  constructor(private readonly deps: {
    pool: Pool
    config: Readonly<Config>
    /** Created on first use: building the app (e.g. to write the OpenAPI file) must not connect to Redis. */
    queue: () => Queue<WebhookJob>
    deliverer: WebhookDeliverer
    logger: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>
  }) {}

  /** Checks what a schema cannot: the URL policy (with DNS) and real country codes. */
  private async check(input: Partial<CreateWebhook>): Promise<void> {
    const errors: FieldError[] = []
    if (input.url !== undefined) {
      const problem = await urlProblem(input.url, this.deps.config.webhook.allowPrivateNetworks)
      if (problem) errors.push({ pointer: '/url', in: 'body', message: problem })
    }
    input.countries?.forEach((c, i) => {
      if (!isCountry(c)) errors.push({ pointer: `/countries/${i}`, in: 'body', message: `${c} is not an ISO 3166-1 country` })
    })
    if (errors.length > 0) throw invalid(errors)
  }

  async create(actor: Actor, input: CreateWebhook): Promise<Webhook & { secret: string }> {
    await this.check(input)
    const id = randomUUID()
    const secret = generateSecret()
    const max = this.deps.config.webhook.maxEndpointsPerOrganisation
    return withTransaction(this.deps.pool, async (tx) => {
      // Under the organisation's lock: two registrations at max - 1 cannot both pass.
      if (await repo.lockAndCountEndpoints(tx, actor.organisationId, max) >= max) throw endpointLimitReached(max)
      const row = await repo.insertEndpoint(tx, {
        id, organisationId: actor.organisationId, url: input.url, description: input.description ?? null,
        eventTypes: [...input.eventTypes], countries: [...new Set(input.countries ?? [])], themes: [...new Set(input.themes ?? [])],
        minUrgency: input.minUrgency ?? null, secretCurrent: sealSecret(this.deps.config.secretsKey, id, secret),
      })
      await recordAudit(tx, actor, 'webhook.create', 'webhook', id, { url: row.url, eventTypes: row.eventTypes })
      return { ...toApi(row), secret }
    })
  }

  async list(actor: Actor, query: ListWebhooksQuery): Promise<{ items: Webhook[]; nextCursor: string | null }> {
    const limit = query.limit ?? 20
    const rows = await repo.listEndpoints(this.deps.pool, scopeOf(actor), limit, decodeCursor(query.cursor))
    const page = toPage(rows, limit, (r) => r.seq)
    return { items: page.items.map(toApi), nextCursor: page.nextCursor }
  }

  async get(actor: Actor, id: string): Promise<Webhook> {
    const row = await repo.findEndpoint(this.deps.pool, id, scopeOf(actor))
    if (!row) throw notFound('This webhook endpoint')
    return toApi(row)
  }

  async patch(actor: Actor, id: string, input: PatchWebhook, ifMatch: string | undefined): Promise<Webhook> {
    await this.check(input)
    return withTransaction(this.deps.pool, async (tx) => {
      const row = await repo.findEndpoint(tx, id, scopeOf(actor), { forUpdate: true })
      if (!row) throw notFound('This webhook endpoint')
      if (ifMatch !== undefined && !matchesIfMatch(ifMatch, row.version)) throw preconditionFailed(row.version)
      const fields: Record<string, unknown> = { ...input }
      if (input.countries) fields.countries = [...new Set(input.countries)]
      if (input.themes) fields.themes = [...new Set(input.themes)]
      const updated = await repo.updateEndpoint(tx, id, fields)
      await recordAudit(tx, actor, 'webhook.update', 'webhook', id, { fields: Object.keys(input) })
      return toApi(updated)
    })
  }

  async remove(actor: Actor, id: string): Promise<void> {
    await withTransaction(this.deps.pool, async (tx) => {
      const row = await repo.findEndpoint(tx, id, scopeOf(actor), { forUpdate: true })
      if (!row) throw notFound('This webhook endpoint')
      await repo.deleteEndpoint(tx, id)
      await recordAudit(tx, actor, 'webhook.delete', 'webhook', id, { url: row.url })
    })
  }

  async rotateSecret(actor: Actor, id: string, graceSeconds: number): Promise<Webhook & { secret: string }> {
    const secret = generateSecret()
    return withTransaction(this.deps.pool, async (tx) => {
      const row = await repo.findEndpoint(tx, id, scopeOf(actor), { forUpdate: true })
      if (!row) throw notFound('This webhook endpoint')
      const updated = await repo.rotateSecret(tx, id, sealSecret(this.deps.config.secretsKey, id, secret), graceSeconds)
      await recordAudit(tx, actor, 'webhook.rotate-secret', 'webhook', id, { graceSeconds })
      return { ...toApi(updated), secret }
    })
  }

  async enable(actor: Actor, id: string): Promise<Webhook> {
    return withTransaction(this.deps.pool, async (tx) => {
      const row = await repo.findEndpoint(tx, id, scopeOf(actor), { forUpdate: true })
      if (!row) throw notFound('This webhook endpoint')
      if (row.status === 'active') return toApi(row) // already enabled: nothing changes, nothing to audit
      const updated = await repo.enableEndpoint(tx, id)
      await recordAudit(tx, actor, 'webhook.enable', 'webhook', id, { wasDisabledFor: row.disabledReason })
      return toApi(updated)
    })
  }

  /** Sends `webhook.test` now through the real delivery path and returns the attempt. */
  async test(actor: Actor, id: string): Promise<WebhookAttempt> {
    const deliveryId = await withTransaction(this.deps.pool, async (tx) => {
      const row = await repo.findEndpoint(tx, id, scopeOf(actor), { forUpdate: true })
      if (!row) throw notFound('This webhook endpoint')
      const event = await appendEvent(tx, 'webhook.test', {
        endpointId: row.id, message: 'Test delivery from Urgent Appeals: your endpoint is reachable and can verify signatures.',
      }, { organisationId: row.organisationId })
      const deliveryId = await insertTestDelivery(tx, event.id, row.id)
      await recordAudit(tx, actor, 'webhook.test', 'webhook', id, { eventId: event.id, deliveryId })
      return deliveryId
    })
    const attemptId = await this.deps.deliverer.attemptSending(deliveryId, 'test')
    const attempt = attemptId === null ? null : await repo.findAttempt(this.deps.pool, attemptId)
    if (!attempt) throw new AppError(500, 'internal-error', 'Internal error', 'The test delivery could not be attempted.')
    return attempt as WebhookAttempt
  }

  async deliveries(actor: Actor, id: string, query: ListDeliveriesQuery): Promise<{ items: WebhookDelivery[]; nextCursor: string | null }> {
    const endpoint = await repo.findEndpoint(this.deps.pool, id, scopeOf(actor))
    if (!endpoint) throw notFound('This webhook endpoint')
    const limit = query.limit ?? 20
    const rows = await repo.listDeliveries(this.deps.pool, id, { status: query.status ?? null, limit, beforeId: decodeCursor(query.cursor) })
    const page = toPage(rows, limit, (r) => r.id)
    const attempts = await repo.listAttempts(this.deps.pool, page.items.map((d) => d.id))
    const byDelivery = new Map<number, repo.AttemptRow[]>()
    for (const a of attempts) byDelivery.set(a.deliveryId, [...(byDelivery.get(a.deliveryId) ?? []), a])
    return {
      items: page.items.map((d) => ({ ...d, attempts: byDelivery.get(d.id) ?? [] }) as WebhookDelivery),
      nextCursor: page.nextCursor,
    }
  }

  async resend(actor: Actor, id: string, deliveryId: number): Promise<WebhookDelivery> {
    await withTransaction(this.deps.pool, async (tx) => {
      const endpoint = await repo.findEndpoint(tx, id, scopeOf(actor), { forUpdate: true })
      if (!endpoint) throw notFound('This webhook endpoint')
      const delivery = await repo.findDelivery(tx, id, deliveryId, { forUpdate: true })
      if (!delivery) throw notFound('This delivery')
      if (endpoint.status !== 'active') throw endpointDisabled()
      if (delivery.status === 'sending') throw conflict('This delivery is being attempted right now; look at its attempts in a moment.', 'delivery-in-flight')
      await requeue(tx, deliveryId)
      await recordAudit(tx, actor, 'webhook.resend', 'webhook', id, { deliveryId })
    })
    await this.enqueue([deliveryId], 'manual')
    const [delivery] = (await this.deliveriesByIds(id, [deliveryId]))
    return delivery!
  }

  async recover(actor: Actor, id: string, input: Recover): Promise<{ recovered: number; since: string; until: string }> {
    const since = new Date(input.since)
    const until = input.until ? new Date(input.until) : new Date()
    const errors: FieldError[] = []
    if (since.getTime() > Date.now()) errors.push({ pointer: '/since', in: 'body', message: 'must not be in the future' })
    if (until.getTime() <= since.getTime()) errors.push({ pointer: input.until ? '/until' : '/since', in: 'body', message: 'the window must end after it starts' })
    if (errors.length > 0) throw invalid(errors)
    const ids = await withTransaction(this.deps.pool, async (tx) => {
      const endpoint = await repo.findEndpoint(tx, id, scopeOf(actor), { forUpdate: true })
      if (!endpoint) throw notFound('This webhook endpoint')
      if (endpoint.status !== 'active') throw endpointDisabled()
      const ids = await requeueWindow(tx, id, since.toISOString(), until.toISOString())
      await recordAudit(tx, actor, 'webhook.recover', 'webhook', id, { since: since.toISOString(), until: until.toISOString(), recovered: ids.length })
      return ids
    })
    await this.enqueue(ids, 'recover')
    return { recovered: ids.length, since: since.toISOString(), until: until.toISOString() }
  }

  /** Best effort: if Redis refuses, the rows are due in Postgres and the reconciler enqueues them. */
  private async enqueue(ids: number[], trigger: 'manual' | 'recover'): Promise<void> {
    if (ids.length === 0) return
    const stamp = Date.now()
    await this.deps.queue().addBulk(chunk(ids, CHUNK_SIZE).map((part) => ({
      name: trigger, data: { ids: part, trigger }, opts: { priority: PRIORITY[trigger], jobId: partnerRequestJobId(trigger, part[0]!, stamp) },
    }))).catch((err: unknown) => this.deps.logger.warn({ err }, 'could not enqueue webhook deliveries; the reconciler will'))
  }

  private async deliveriesByIds(endpointId: string, ids: number[]): Promise<WebhookDelivery[]> {
    const out: WebhookDelivery[] = []
    for (const deliveryId of ids) {
      const d = await repo.findDelivery(this.deps.pool, endpointId, deliveryId)
      if (d) out.push({ ...d, attempts: await repo.listAttempts(this.deps.pool, [d.id]) } as WebhookDelivery)
    }
    return out
  }
}
