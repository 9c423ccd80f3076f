// Owns SendGrid's signed event webhook (POST /v1/email-events/sendgrid):
// `X-Twilio-Email-Event-Webhook-Signature` is a base64 DER ECDSA P-256
// signature (SHA-256) of `X-Twilio-Email-Event-Webhook-Timestamp` followed
// by the raw body, checked with SENDGRID_WEBHOOK_PUBLIC_KEY; a timestamp more
// than 5 minutes away is refused (the route also refuses the same signed
// request twice). Then each event of the batch as a report.
import { createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto'
import type { EmailReport, ReportKind } from '../services/email-reports.js'
import { dateOf, enhancedStatus, isFresh, text, unverified, type Mapped } from './common.js'

export const SENDGRID_SIGNATURE_HEADER = 'x-twilio-email-event-webhook-signature'
export const SENDGRID_TIMESTAMP_HEADER = 'x-twilio-email-event-webhook-timestamp'

/** The verification key as SendGrid shows it (base64 DER, SubjectPublicKeyInfo). */
export const sendgridPublicKey = (base64: string): KeyObject =>
  createPublicKey({ key: Buffer.from(base64, 'base64'), format: 'der', type: 'spki' })

/** Throws 401 unless the batch is signed by `key` at a fresh timestamp. */
export function verifySendgrid(headers: { signature?: string; timestamp?: string }, rawBody: Buffer, key: KeyObject, now = new Date()): void {
  const { signature, timestamp } = headers
  if (!signature || !timestamp) throw unverified(`${SENDGRID_SIGNATURE_HEADER} and ${SENDGRID_TIMESTAMP_HEADER} are required.`)
  if (!isFresh(timestamp, now)) throw unverified('The SendGrid signature timestamp is more than 5 minutes away from now.')
  let ok = false
  try {
    ok = /^[A-Za-z0-9+/]+={0,2}$/.test(signature)
      && verifySignature('sha256', Buffer.concat([Buffer.from(timestamp, 'utf8'), rawBody]), { key, dsaEncoding: 'der' }, Buffer.from(signature, 'base64'))
  } catch {
    ok = false
  }
  if (!ok) throw unverified('The SendGrid signature does not verify.')
}

/**
 * `dropped` reasons that say what the address is: SendGrid refused to send
 * because it bounced or reported spam before (its suppression lists), or is
 * not an address. Other drops (our own unsubscribe lists there, content)
 * say nothing about the supporter.
 */
const DROPPED_KINDS: Readonly<Record<string, ReportKind>> = {
  'Bounced Address': 'hard-bounce',
  Invalid: 'hard-bounce',
  'Spam Reporting Address': 'complaint',
}

function kindOf(event: Record<string, unknown>): ReportKind | undefined {
  switch (event.event) {
    case 'bounce': return event.type === 'blocked' ? 'soft-bounce' : 'hard-bounce'
    case 'spamreport': return 'complaint'
    case 'dropped': return typeof event.reason === 'string' ? DROPPED_KINDS[event.reason] : undefined
    default: return undefined // processed, deferred (SendGrid retries itself), delivered, open, click, unsubscribe…
  }
}

/** The reports of a verified batch: bounce (type bounce → hard, blocked → soft), spamreport → complaint, some drops; the rest skipped. */
export function sendgridReports(events: readonly Record<string, unknown>[]): Mapped {
  const reports: EmailReport[] = []
  let skipped = 0
  for (const event of events) {
    const kind = kindOf(event)
    const recipient = text(event.email)
    if (!kind || !recipient) { skipped++; continue }
    const messageId = text(event['smtp-id'])
    const status = enhancedStatus(event.status, event.reason)
    const reportId = text(event.sg_event_id)
    const occurredAt = dateOf(event.timestamp)
    reports.push({
      kind, source: 'sendgrid', recipient,
      ...(messageId ? { messageId } : {}), ...(status ? { status } : {}), ...(reportId ? { reportId } : {}), ...(occurredAt ? { occurredAt } : {}),
    })
  }
  return { reports, skipped }
}
