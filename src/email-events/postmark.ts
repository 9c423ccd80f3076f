// Owns Postmark's bounce and spam-complaint webhooks (POST
// /v1/email-events/postmark): HTTP basic auth checked in constant time
// against POSTMARK_WEBHOOK_USER / _PASSWORD (Postmark signs nothing; the
// credentials in the webhook URL settings are the proof, so the endpoint
// must be served over https), and the mapping of its records to reports.
// Postmark's MessageID is its own; the address (Email) identifies the
// supporter, or our Message-ID when the record carries the message's
// headers (Headers, Metadata, or the Content of "include message content").
import type { EmailReport, ReportKind } from '../services/email-reports.js'
import { sameSecret } from '../auth/console-tokens.js'
import { dateOf, enhancedStatus, text, unverified, type Mapped } from './common.js'

const CHALLENGE = { 'www-authenticate': 'Basic realm="email-events", charset="UTF-8"' }

/** Throws 401 unless `authorization` is Basic with exactly these credentials. */
export function verifyPostmark(authorization: string | undefined, credentials: { user: string; password: string }): void {
  const match = /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(authorization?.trim() ?? '')
  const given = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : ''
  // Both compared in constant time, always (no early exit on the user name).
  const ok = sameSecret(given, `${credentials.user}:${credentials.password}`)
  if (!ok) throw unverified('Missing or wrong basic-auth credentials.', CHALLENGE)
}

/**
 * Bounce record `Type`s and what they mean for the address. Hard: the
 * mailbox does not exist. Soft (counted, suppressed at the documented
 * count): temporary or receiving-side refusals, including a content block
 * (SpamNotification, Blocked) — not a person's complaint. The rest
 * (auto-replies, address-change notices, challenge mails, Postmark's own
 * manual deactivation, DMARC or template errors of ours) say nothing about
 * whether the supporter can or wants to receive mail.
 */
export const POSTMARK_BOUNCE_KINDS: Readonly<Record<string, ReportKind>> = {
  HardBounce: 'hard-bounce',
  BadEmailAddress: 'hard-bounce',
  Transient: 'soft-bounce',
  SoftBounce: 'soft-bounce',
  DnsError: 'soft-bounce',
  SpamNotification: 'soft-bounce',
  Blocked: 'soft-bounce',
  SpamComplaint: 'complaint',
}

type Json = Record<string, unknown>

/** Our Message-ID, if the record carries the original's headers. */
function messageIdOf(record: Json): string | undefined {
  if (Array.isArray(record.Headers)) {
    for (const header of record.Headers as Json[]) {
      if (typeof header?.Name === 'string' && header.Name.toLowerCase() === 'message-id') return text(header.Value)
    }
  }
  const metadata = record.Metadata as Json | undefined
  const fromMetadata = metadata && typeof metadata === 'object' ? text(metadata['message-id'] ?? metadata.messageId) : undefined
  if (fromMetadata) return fromMetadata
  if (typeof record.Content === 'string') {
    const headers = record.Content.slice(0, 64 * 1024).split(/\r?\n\r?\n/, 1)[0]!
    return /^Message-ID:[ \t]*(<[^>\r\n]+>)/im.exec(headers)?.[1]
  }
  return undefined
}

/** The report in one verified Postmark webhook record (RecordType Bounce or SpamComplaint); anything else is skipped. */
export function postmarkReports(record: Json): Mapped {
  const type = text(record.Type)
  const kind = record.RecordType === 'SpamComplaint' ? 'complaint'
    : record.RecordType === 'Bounce' && type ? POSTMARK_BOUNCE_KINDS[type] : undefined
  const recipient = text(record.Email)
  if (!kind || !recipient) return { reports: [], skipped: 1 }
  const occurredAt = dateOf(record.BouncedAt)
  const messageId = messageIdOf(record)
  const status = enhancedStatus(record.Details, record.Description)
  // Postmark's ID is a 64-bit number (JSON numbers lose its low digits): with the time it is unique.
  const id = typeof record.ID === 'number' || typeof record.ID === 'string' ? `${String(record.ID)}@${String(record.BouncedAt ?? '')}` : undefined
  const report: EmailReport = {
    kind, source: 'postmark', recipient,
    ...(messageId ? { messageId } : {}), ...(status ? { status } : {}), ...(id ? { reportId: id } : {}), ...(occurredAt ? { occurredAt } : {}),
  }
  return { reports: [report], skipped: 0 }
}
