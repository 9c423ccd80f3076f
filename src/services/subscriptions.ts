// Owns the supporter lifecycle (contract §6): subscribe with double opt-in,
// confirm or cancel, read and change preferences, unsubscribe, export and
// erase, and the staff views. Every state change appends to the consent
// ledger in the same transaction. No Fastify here: routes and pages call it.
import type { Pool } from '../db/pool.js'
import { withTransaction } from '../db/pool.js'
import { AppError, badRequest, notFound, type FieldError } from '../errors.js'
import type { Actor } from '../auth/api-keys.js'
import { recordAudit } from '../repositories/audit-log.js'
import { closeUnsent, recipientHistory } from '../repositories/deliveries.js'
import * as repo from '../repositories/subscriptions.js'
import type { SubscriptionRow } from '../repositories/subscriptions.js'
import { canonicalLanguage, isCountry } from '../lib/codes.js'
import { decodeCursor, toPage } from '../lib/cursor.js'
import {
  deriveToken, emailHash, isPlausibleEmail, mailboxHash, maskEmail, newToken, parseToken, tokenHash, type TokenPurpose,
} from '../lib/supporter-tokens.js'
import { CONSENT_TEXT_VERSION } from '../i18n/index.js'
import type {
  ListSubscribersQuery, PatchSubscription, Subscribe, Subscriber, SubscriberStats, Subscription, SubscriptionExport,
} from '../schemas/subscription.js'

const LINK_PROBLEMS = {
  invalid: { status: 404, slug: 'invalid-link', title: 'Link not valid', detail: 'This link is not valid: it may be incomplete or no longer in use.' },
  expired: { status: 410, slug: 'link-expired', title: 'Link expired', detail: 'Confirmation links are valid for 72 hours; subscribe again to receive a new one.' },
  used: { status: 410, slug: 'link-used', title: 'Link already used', detail: 'This confirmation link has been used: the subscription is confirmed. Every alert carries a link to manage it.' },
} as const

/** A supporter link that cannot be used; pages answer it in `language` when the link told us whose it is. */
export class LinkError extends AppError {
  constructor(readonly kind: keyof typeof LINK_PROBLEMS, readonly language: string | null = null) {
    const p = LINK_PROBLEMS[kind]
    super(p.status, p.slug, p.title, p.detail)
  }
}
const invalidLink = () => new LinkError('invalid')
const expiredLink = (language: string) => new LinkError('expired', language)
const usedLink = (language: string) => new LinkError('used', language)

/** Where a change came from, as recorded in the consent ledger. */
export type ConsentSource = 'api' | 'page' | 'one-click' | 'staff'

export interface SubscriptionServiceOptions {
  secretsKey: Buffer
  publicBaseUrl: string
  /** Hands a due confirmation mail to the email queue; best effort (the reconciler catches failures). */
  onConfirmationDue(due: repo.DueConfirmation): void
}

export function toSupporterView(row: SubscriptionRow): Subscription {
  return {
    email: maskEmail(row.email), language: row.language, countries: row.countries, themes: row.themes,
    minUrgency: row.minUrgency, status: row.status, createdAt: row.createdAt, confirmedAt: row.confirmedAt,
    unsubscribedAt: row.unsubscribedAt,
  }
}

function toSubscriber(row: SubscriptionRow): Subscriber {
  return {
    id: row.id, email: row.email, language: row.language, countries: row.countries, themes: row.themes,
    minUrgency: row.minUrgency, status: row.status, suppressed: row.suppressed, createdAt: row.createdAt,
    confirmedAt: row.confirmedAt, unsubscribedAt: row.unsubscribedAt,
  }
}

const uniqueSorted = (values: string[] | undefined) => [...new Set(values ?? [])].sort()

/** Checks what the schema cannot (real codes, a known language) and normalises filters. */
function checkPreferences(p: PatchSubscription, base = ''): { value: PatchSubscription; errors: FieldError[] } {
  const errors: FieldError[] = []
  const value: PatchSubscription = {}
  if (p.language !== undefined) {
    const language = canonicalLanguage(p.language)
    if (!language) errors.push({ pointer: `${base}/language`, in: 'body', message: 'is not a known language' })
    else value.language = language
  }
  if (p.countries !== undefined) {
    p.countries.forEach((c, i) => {
      if (!isCountry(c)) errors.push({ pointer: `${base}/countries/${i}`, in: 'body', message: 'is not an ISO 3166-1 alpha-2 country code' })
    })
    value.countries = uniqueSorted(p.countries)
  }
  if (p.themes !== undefined) value.themes = uniqueSorted(p.themes)
  if (p.minUrgency !== undefined) value.minUrgency = p.minUrgency
  return { value, errors }
}

export class SubscriptionService {
  constructor(private readonly pool: Pool, private readonly opts: SubscriptionServiceOptions) {}

  private hash(purpose: TokenPurpose, token: string): Buffer | null {
    const parsed = parseToken(token)
    return parsed ? tokenHash(this.opts.secretsKey, purpose, parsed) : null
  }

  managementToken(row: Pick<SubscriptionRow, 'manageNonce'>): string {
    return deriveToken(this.opts.secretsKey, 'manage', row.manageNonce)
  }

  preferencesUrl(row: Pick<SubscriptionRow, 'manageNonce'>): string {
    return `${this.opts.publicBaseUrl}/subscriptions/${this.managementToken(row)}`
  }

  /**
   * Always completes the same way, whatever the address's state: the
   * caller answers 202 with one fixed body. The mail is handed to the queue
   * without being awaited, so the answer's timing does not tell either.
   */
  async subscribe(input: Subscribe, ctx: { source: ConsentSource; defaultLanguage: string }): Promise<void> {
    const errors: FieldError[] = []
    if (!isPlausibleEmail(input.email)) errors.push({ pointer: '/email', in: 'body', message: 'is not a valid email address' })
    const { value, errors: preferenceErrors } = checkPreferences(input)
    errors.push(...preferenceErrors)
    if (errors.length > 0) throw badRequest(`The request body has ${errors.length} invalid value${errors.length === 1 ? '' : 's'}.`, errors)

    const key = this.opts.secretsKey
    const manage = newToken(key, 'manage')
    const confirm = newToken(key, 'confirm')
    const due = await repo.upsertPending(this.pool, {
      email: input.email, emailHash: emailHash(key, input.email), mailboxHash: mailboxHash(key, input.email),
      language: value.language ?? ctx.defaultLanguage, countries: value.countries ?? [], themes: value.themes ?? [],
      minUrgency: value.minUrgency ?? 'normal', manage, confirm, source: ctx.source, consentTextVersion: CONSENT_TEXT_VERSION,
    })
    if (due) this.opts.onConfirmationDue(due)
  }

  /**
   * The subscription a confirmation link opens — pending, or active when
   * the link was used (the caller must then say so, and show nothing of
   * the subscription); never changes anything.
   */
  async byConfirmationToken(token: string): Promise<SubscriptionRow> {
    const hash = this.hash('confirm', token)
    const row = hash ? await repo.findByConfirmHash(this.pool, hash) : null
    if (!row) throw invalidLink()
    if (row.status === 'pending' && row.confirmExpired) throw expiredLink(row.language)
    return row
  }

  /** Activates. A link is spent once used: using it again is a `link-used` error, never the management link. */
  async confirm(token: string, source: ConsentSource): Promise<SubscriptionRow> {
    const row = await this.byConfirmationToken(token)
    if (row.status !== 'pending') throw usedLink(row.language)
    return withTransaction(this.pool, async (tx) => {
      if (!await repo.activate(tx, row.id)) throw expiredLink(row.language)
      await repo.appendConsent(tx, {
        subscriptionId: row.id, action: 'confirm', source, consentTextVersion: CONSENT_TEXT_VERSION,
        details: { language: row.language, countries: row.countries, themes: row.themes, minUrgency: row.minUrgency },
      })
      return (await repo.findById(tx, row.id))!
    })
  }

  /**
   * "This wasn't me", on a pending, unexpired request only: the request is
   * deleted and the mailbox is never mailed again in any spelling
   * (suppressed as a complaint), so the form cannot be used to bother it.
   * A used or expired link changes nothing. Returns the language to answer in.
   */
  async cancel(token: string, source: ConsentSource): Promise<string> {
    const row = await this.byConfirmationToken(token)
    if (row.status !== 'pending') throw usedLink(row.language)
    await withTransaction(this.pool, async (tx) => {
      await repo.suppress(tx, row.emailHash, 'complaint', mailboxHash(this.opts.secretsKey, row.email))
      await closeUnsent(tx, 'email', row.id, { status: 'suppressed' })
      await repo.deleteSubscription(tx, row.id)
      await repo.appendConsent(tx, { subscriptionId: row.id, action: 'cancel', source, consentTextVersion: CONSENT_TEXT_VERSION })
    })
    return row.language
  }

  async byManagementToken(token: string): Promise<SubscriptionRow> {
    const hash = this.hash('manage', token)
    const row = hash ? await repo.findByManageHash(this.pool, hash) : null
    if (!row) throw invalidLink()
    return row
  }

  async updatePreferences(token: string, changes: PatchSubscription, source: ConsentSource): Promise<SubscriptionRow> {
    const row = await this.byManagementToken(token)
    const { value, errors } = checkPreferences(changes)
    if (errors.length > 0) throw badRequest(`The request body has ${errors.length} invalid value${errors.length === 1 ? '' : 's'}.`, errors)
    return withTransaction(this.pool, async (tx) => {
      await repo.updatePreferences(tx, row.id, value)
      await repo.appendConsent(tx, {
        subscriptionId: row.id, action: 'preferences', source, consentTextVersion: CONSENT_TEXT_VERSION, details: { ...value },
      })
      return (await repo.findById(tx, row.id))!
    })
  }

  /**
   * Takes effect at once: the address is suppressed, queued mail to it is
   * cancelled, and a chunk already sending re-checks before each window.
   * Idempotent (one-click clients may post twice).
   */
  async unsubscribe(token: string, source: ConsentSource): Promise<SubscriptionRow> {
    const row = await this.byManagementToken(token)
    await withTransaction(this.pool, async (tx) => {
      const changed = await repo.markUnsubscribed(tx, row.id)
      await repo.suppress(tx, row.emailHash, 'unsubscribed')
      await closeUnsent(tx, 'email', row.id, { status: 'suppressed' })
      if (changed) {
        await repo.appendConsent(tx, { subscriptionId: row.id, action: 'unsubscribe', source, consentTextVersion: CONSENT_TEXT_VERSION })
      }
    })
    return { ...row, status: 'unsubscribed' }
  }

  /** Undo of an unsubscribe by the holder of the management token (it was mailed to them). */
  async resubscribe(token: string, source: ConsentSource): Promise<SubscriptionRow> {
    const row = await this.byManagementToken(token)
    if (row.status === 'pending') throw new AppError(409, 'subscription-pending', 'Not confirmed yet', 'Confirm the subscription with the link in the confirmation email first.')
    return withTransaction(this.pool, async (tx) => {
      if (await repo.markResubscribed(tx, row.id)) {
        await repo.appendConsent(tx, { subscriptionId: row.id, action: 'resubscribe', source, consentTextVersion: CONSENT_TEXT_VERSION })
      }
      return (await repo.findById(tx, row.id))!
    })
  }

  async export(token: string): Promise<SubscriptionExport> {
    const row = await this.byManagementToken(token)
    const [consent, deliveries] = await Promise.all([repo.consentHistory(this.pool, row.id), recipientHistory(this.pool, 'email', row.id)])
    return {
      exportedAt: new Date().toISOString(),
      subscription: {
        id: row.id, email: row.email, language: row.language, countries: row.countries, themes: row.themes,
        minUrgency: row.minUrgency, status: row.status, createdAt: row.createdAt, updatedAt: row.updatedAt,
        confirmedAt: row.confirmedAt, unsubscribedAt: row.unsubscribedAt, confirmationSentAt: row.confirmationSentAt,
      },
      suppressed: row.suppressed,
      consent,
      deliveries,
    }
  }

  /** Erasure by the supporter. Returns the language to answer in. */
  async erase(token: string, source: ConsentSource): Promise<string> {
    const row = await this.byManagementToken(token)
    await this.eraseRow(row, source)
    return row.language
  }

  private async eraseRow(row: SubscriptionRow, source: ConsentSource, actor?: Actor): Promise<void> {
    await withTransaction(this.pool, async (tx) => {
      await repo.suppress(tx, row.emailHash, 'erased')
      await closeUnsent(tx, 'email', row.id, { status: 'suppressed' })
      await repo.deleteSubscription(tx, row.id)
      await repo.deleteConfirmationLimit(tx, mailboxHash(this.opts.secretsKey, row.email))
      await repo.appendConsent(tx, { subscriptionId: row.id, action: 'erase', source, consentTextVersion: CONSENT_TEXT_VERSION })
      if (actor) await recordAudit(tx, actor, 'subscriber.erase', 'subscriber', row.id)
    })
  }

  // -------------------------------------------------------------------------
  // Staff

  async list(q: ListSubscribersQuery): Promise<{ items: Subscriber[]; nextCursor: string | null }> {
    const limit = q.limit ?? 20
    const rows = await repo.listSubscribers(this.pool, { ...q, limit }, decodeCursor(q.cursor))
    const page = toPage(rows, limit, (r) => r.seq)
    return { items: page.items.map(toSubscriber), nextCursor: page.nextCursor }
  }

  async stats(): Promise<SubscriberStats> {
    const s = await repo.subscriberStats(this.pool)
    const byStatus = { pending: 0, active: 0, unsubscribed: 0 }
    for (const { status, count } of s.byStatus) byStatus[status as keyof typeof byStatus] = count
    return {
      total: byStatus.pending + byStatus.active + byStatus.unsubscribed,
      byStatus,
      activeByLanguage: Object.fromEntries(s.byLanguage.map((r) => [r.language, r.count])),
      suppressed: Object.fromEntries(s.suppressed.map((r) => [r.reason, r.count])),
    }
  }

  async eraseById(actor: Actor, id: string): Promise<void> {
    const row = await repo.findById(this.pool, id)
    if (!row) throw notFound('This subscriber')
    await this.eraseRow(row, 'staff', actor)
  }
}
