// Owns what a bounce or complaint report does (contract §10), whichever way
// it arrived (a DSN or ARF report by SMTP, a provider's signed webhook):
// find the delivery or address it is about, store it once, and in the same
// transaction suppress, unsubscribe and write the consent ledger. Callers
// parse and verify their transport; this is the one place with the rules.
// A report over SMTP counts only through a return-path token we made
// (anyone can send us mail); a provider's verified payload may also name
// our Message-ID or the address. Nothing here logs, and no address is kept.
// A stored report about an appeal's mail also checks the appeal's rates
// (services/email-health.ts): the deliverability warning, once, in the
// same transaction.
import { createHash } from 'node:crypto'
import type { Pool } from '../db/pool.js'
import { withTransaction } from '../db/pool.js'
import { CONSENT_TEXT_VERSION } from '../i18n/index.js'
import { closeUnsent } from '../repositories/deliveries.js'
import {
  findReportedDelivery, findSubscriptionByHash, insertReport, lockAddress, recentSoftBounces,
  type ReportedDelivery, type ReportKind, type ReportSource,
} from '../repositories/email-reports.js'
import * as subscriptions from '../repositories/subscriptions.js'
import { deliveryIdFromReturnPath, parseAlertMessageId } from '../email/return-path.js'
import { emailHash, mailboxHash } from '../lib/supporter-tokens.js'
import { warnIfOverThreshold } from './email-health.js'

export type { ReportKind, ReportSource } from '../repositories/email-reports.js'
export { reportCountsForAppeal, type AppealReportCounts } from '../repositories/email-reports.js'

/** Temporary failures of this many distinct alert mails to one address… */
export const SOFT_BOUNCE_LIMIT = 3
/** …within this many days suppress it (`soft-bounce`). */
export const SOFT_BOUNCE_WINDOW_DAYS = 30

export interface EmailReport {
  kind: ReportKind
  source: ReportSource
  /**
   * An address naming our envelope sender: a DSN's RCPT TO, an ARF report's
   * original Return-Path, SES `mail.source`, Mailgun `envelope.sender`.
   * Verified here (email/return-path.ts) against BOUNCE_DOMAIN.
   */
  returnPath?: string
  /** A delivery id the caller has already verified (from a return-path token). */
  deliveryId?: number
  /** Our Message-ID of the reported mail. Provider sources only. */
  messageId?: string
  /** The reported address from a provider payload. Provider sources only; hashed at once. */
  recipient?: string
  /** Enhanced status code, e.g. `5.1.1`; anything else is not kept. */
  status?: string
  /** The provider's id of this notification: a retried webhook is recognised by it when no delivery is known. */
  reportId?: string
  occurredAt?: Date
}

export type ReportResult =
  | { outcome: 'ignored'; reason: 'no-identity' | 'unknown-delivery' }
  | { outcome: 'duplicate' }
  | {
    outcome: 'applied'
    /** suppressed / unsubscribed: the address is no longer mailed; counted: a soft bounce below the limit; recorded: nothing to change (already suppressed, or erased). */
    effect: 'suppressed' | 'unsubscribed' | 'counted' | 'recorded'
    deliveryId: number | null
  }

export interface ReportOptions {
  secretsKey: Buffer
  /** BOUNCE_DOMAIN (config.email.bounce.domain); null: return paths are not ours to verify. */
  bounceDomain: string | null
}

const STATUS = /^[245]\.[0-9]{1,3}\.[0-9]{1,3}$/
const sha256 = (...parts: (string | Buffer)[]) => {
  const h = createHash('sha256')
  for (const p of parts) h.update(p).update('\0')
  return h.digest()
}

/** Who the report is about: a delivery (with its supporter), or only an address. */
interface Subject { delivery: ReportedDelivery | null; emailHash: Buffer | null; email: string | null; subscriptionId: string | null }

/** The delivery a report names, checked; null when it names none we can trust. */
function namedDelivery(report: EmailReport, o: ReportOptions, provider: boolean): { id: number; eventId: string | null } | null {
  if (report.returnPath && o.bounceDomain) {
    const id = deliveryIdFromReturnPath(o.secretsKey, o.bounceDomain, report.returnPath)
    if (id !== null) return { id, eventId: null }
  }
  if (report.deliveryId !== undefined && Number.isSafeInteger(report.deliveryId) && report.deliveryId > 0) {
    return { id: report.deliveryId, eventId: null }
  }
  if (provider && report.messageId) {
    const parsed = parseAlertMessageId(report.messageId)
    if (parsed) return { id: parsed.deliveryId, eventId: parsed.eventId }
  }
  return null
}

/**
 * Applies one report. Idempotent: the same report again (one per delivery
 * and kind; without a delivery, per provider notification id, or per
 * address, kind and time) is `duplicate` and changes nothing.
 */
export async function applyEmailReport(pool: Pool, report: EmailReport, o: ReportOptions): Promise<ReportResult> {
  const provider = !report.source.startsWith('smtp-')
  const named = namedDelivery(report, o, provider)
  const recipient = provider && report.recipient?.includes('@') ? report.recipient : null
  if (named === null && recipient === null) return { outcome: 'ignored', reason: 'no-identity' }
  const now = new Date()
  const occurredAt = report.occurredAt && report.occurredAt.getTime() < now.getTime() ? report.occurredAt : now
  const status = report.status && STATUS.test(report.status) ? report.status : null

  return withTransaction(pool, async (tx): Promise<ReportResult> => {
    let subject: Subject | null = null
    if (named !== null) {
      const delivery = await findReportedDelivery(tx, named.id)
      // A Message-ID is no secret: its delivery must be of the event it names.
      if (delivery && (named.eventId === null || delivery.eventId.toLowerCase() === named.eventId)) {
        subject = { delivery, emailHash: delivery.emailHash, email: delivery.email, subscriptionId: delivery.subscriptionId }
      }
    }
    if (subject === null && recipient !== null) {
      const hash = emailHash(o.secretsKey, recipient)
      subject = { delivery: null, emailHash: hash, email: recipient, subscriptionId: null }
    }
    if (subject === null) return { outcome: 'ignored', reason: 'unknown-delivery' }
    const hash = subject.emailHash
    if (hash) {
      await lockAddress(tx, hash)
      if (subject.delivery === null) {
        const row = await findSubscriptionByHash(tx, hash)
        if (row) subject = { ...subject, subscriptionId: row.id, email: row.email }
      }
    }
    const target: Subject = subject
    const deliveryId = target.delivery?.deliveryId ?? null
    const dedupeKey = deliveryId !== null
      ? sha256('delivery', String(deliveryId), report.kind)
      : report.reportId
        ? sha256('notification', report.source, report.reportId, report.kind, hash ?? '')
        : sha256('address', report.source, report.kind, occurredAt.toISOString(), hash ?? '')
    const stored = await insertReport(tx, {
      kind: report.kind, source: report.source, deliveryId, appealId: target.delivery?.appealId ?? null,
      emailHash: hash, status, occurredAt, dedupeKey,
    })
    if (!stored) return { outcome: 'duplicate' }
    const result: ReportResult = hash
      ? await takeEffect(hash)
      : { outcome: 'applied', effect: 'recorded', deliveryId } // the supporter was erased since
    // Every stored report counts for its appeal's rates, whatever it changed for the supporter.
    const appealId = target.delivery?.appealId ?? null
    if (appealId !== null) await warnIfOverThreshold(tx, appealId, report.kind)
    return result

    /** What the report does to the address and its supporter. */
    async function takeEffect(hash: Buffer): Promise<ReportResult> {
      const mailbox = target.email ? mailboxHash(o.secretsKey, target.email) : null
      const ledger = async (action: ReportKind) => {
        if (target.subscriptionId === null) return
        await subscriptions.appendConsent(tx, {
          subscriptionId: target.subscriptionId, action, source: report.source, consentTextVersion: CONSENT_TEXT_VERSION,
          details: { deliveryId, status },
        })
      }
      const stopMail = async () => {
        if (target.subscriptionId !== null) await closeUnsent(tx, 'email', target.subscriptionId, { status: 'suppressed' })
      }

      switch (report.kind) {
        case 'hard-bounce': {
          if (!await subscriptions.suppress(tx, hash, 'hard-bounce', mailbox)) return { outcome: 'applied', effect: 'recorded', deliveryId }
          await stopMail()
          await ledger('hard-bounce')
          return { outcome: 'applied', effect: 'suppressed', deliveryId }
        }
        case 'soft-bounce': {
          if (await recentSoftBounces(tx, hash, SOFT_BOUNCE_WINDOW_DAYS) < SOFT_BOUNCE_LIMIT) return { outcome: 'applied', effect: 'counted', deliveryId }
          // No mailbox hash: a full mailbox does not block a later double opt-in.
          if (!await subscriptions.suppress(tx, hash, 'soft-bounce')) return { outcome: 'applied', effect: 'recorded', deliveryId }
          await stopMail()
          await ledger('soft-bounce')
          return { outcome: 'applied', effect: 'suppressed', deliveryId }
        }
        case 'complaint': {
          const unsubscribed = target.subscriptionId !== null && await subscriptions.markUnsubscribed(tx, target.subscriptionId)
          const suppressed = await subscriptions.suppress(tx, hash, 'complaint', mailbox)
          if (!unsubscribed && !suppressed) return { outcome: 'applied', effect: 'recorded', deliveryId }
          await stopMail()
          await ledger('complaint')
          return { outcome: 'applied', effect: 'unsubscribed', deliveryId }
        }
      }
    }
  })
}
