// Owns Mailgun's event webhooks (POST /v1/email-events/mailgun): the
// signature in the body (`signature.signature` = hex HMAC-SHA256 under
// MAILGUN_WEBHOOK_SIGNING_KEY of `timestamp` + `token`), compared in
// constant time; timestamps more than 5 minutes away are refused, and a
// token is accepted once (the route remembers tokens in Redis for longer
// than the window). Then `event-data` as a report: failed (permanent →
// hard-bounce, temporary → soft-bounce) and complained → complaint.
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { EmailReport, ReportKind } from '../services/email-reports.js'
import { dateOf, enhancedStatus, isFresh, text, unverified, type Mapped } from './common.js'

export interface MailgunSignature { timestamp: string; token: string; signature: string }

/** Throws 401 unless the signature is Mailgun's under `signingKey` and its timestamp fresh. The token's one-time use is the caller's. */
export function verifyMailgun(signature: MailgunSignature, signingKey: string, now = new Date()): void {
  if (!isFresh(signature.timestamp, now)) throw unverified('The Mailgun signature timestamp is more than 5 minutes away from now.')
  if (!/^[0-9a-f]{64}$/i.test(signature.signature)) throw unverified('The Mailgun signature does not verify.')
  const expected = createHmac('sha256', signingKey).update(signature.timestamp + signature.token).digest()
  if (!timingSafeEqual(expected, Buffer.from(signature.signature, 'hex'))) throw unverified('The Mailgun signature does not verify.')
}

type Json = Record<string, unknown>
const object = (value: unknown): Json | undefined =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Json : undefined

/** The report of one verified Mailgun `event-data`; other events (delivered, opened, unsubscribed…) are skipped. */
export function mailgunReports(eventData: Json): Mapped {
  const event = eventData.event
  const kind: ReportKind | undefined = event === 'complained' ? 'complaint'
    : event === 'failed' ? (eventData.severity === 'permanent' ? 'hard-bounce' : eventData.severity === 'temporary' ? 'soft-bounce' : undefined)
      : undefined
  if (!kind) return { reports: [], skipped: 1 }
  const message = object(eventData.message)
  const messageId = text(object(message?.headers)?.['message-id'])
  const returnPath = text(object(eventData.envelope)?.sender)
  const recipient = text(eventData.recipient)
  const delivery = object(eventData['delivery-status'])
  const status = enhancedStatus(delivery?.['enhanced-code'], delivery?.message, delivery?.description)
  const occurredAt = dateOf(eventData.timestamp)
  // Mailgun reports each failed retry of one message as its own event: per message, a temporary failure counts once.
  const reportId = messageId ?? text(eventData.id)
  const report: EmailReport = {
    kind, source: 'mailgun',
    ...(returnPath ? { returnPath } : {}), ...(messageId ? { messageId } : {}), ...(recipient ? { recipient } : {}),
    ...(status ? { status } : {}), ...(reportId ? { reportId } : {}), ...(occurredAt ? { occurredAt } : {}),
  }
  return { reports: [report], skipped: 0 }
}
