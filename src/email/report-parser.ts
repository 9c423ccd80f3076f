// Owns reading one inbound report message (contract §10): a delivery status
// notification (RFC 3464, multipart/report; report-type=delivery-status, or
// its RFC 6533 global form) or an abuse report (ARF, RFC 5965,
// report-type=feedback-report), reduced to what email-reports needs — the
// kind, the enhanced status, the report's own Message-ID and what names our
// original mail (its envelope sender and Message-ID). No I/O and no
// database; the addresses of the reported recipient are never returned.
import { simpleParser, type Attachment } from 'mailparser'
import type { ReportKind } from '../services/email-reports.js'

export interface ParsedReport {
  kind: ReportKind
  source: 'smtp-dsn' | 'smtp-arf'
  /** Enhanced status code (`5.1.1`) of the failed or delayed recipient; null for complaints or when missing. */
  status: string | null
  /** The report's own Message-ID. */
  reportId: string | null
  /**
   * The envelope sender of the reported mail, as the report states it (ARF
   * `Original-Mail-From`, else the `Return-Path` of the attached original).
   * A claim, not proof: email-reports verifies the token in it.
   */
  originalReturnPath: string | null
  /** The Message-ID of the attached original (or its headers). */
  originalMessageId: string | null
}

/**
 * ARF Feedback-Types that mean "the recipient does not want this mail"
 * (RFC 5965 §7.3): `abuse` (the spam button) and `fraud` (reported as
 * phishing). `not-spam`, `virus`, `auth-failure` (RFC 6591) and `other`
 * say nothing about consent and are ignored.
 */
export const COMPLAINT_FEEDBACK_TYPES: readonly string[] = ['abuse', 'fraud']

const DSN_PARTS = ['message/delivery-status', 'message/global-delivery-status']
const ARF_PART = 'message/feedback-report'
const ORIGINAL_PARTS = ['message/rfc822', 'message/global', 'text/rfc822-headers', 'message/global-headers']
const STATUS = /^([245])\.[0-9]{1,3}\.[0-9]{1,3}$/

/** Header-style fields (`Name: value`, folded lines joined) of one block; names lower-cased, the first of each kept. */
function fields(block: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of block.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    if (!out.has(name)) out.set(name, line.slice(colon + 1).trim())
  }
  return out
}

/** Blocks separated by blank lines (a delivery-status body: per-message fields, then one block per recipient). */
const blocks = (text: string) => text.split(/\r?\n[ \t]*\r?\n/).map((b) => b.trim()).filter(Boolean)

/** The header block of an attached message (everything before its first blank line). */
const headerBlock = (text: string) => text.split(/\r?\n\r?\n/, 1)[0] ?? ''

/** `<a@b>` → `a@b`; empty → null. */
const angle = (v: string | undefined) => v?.trim().replace(/^<(.*)>$/, '$1').trim() || null
const firstWord = (v: string | undefined) => v?.trim().split(/[\s(;]/, 1)[0]?.toLowerCase() ?? ''

type Outcome = { kind: ReportKind; status: string } | null

/**
 * One per-recipient block of a DSN: `failed` with 5.x.x → hard bounce;
 * `failed` with 4.x.x or `delayed` → soft bounce; `delivered`, `relayed`,
 * `expanded` (and anything malformed) → nothing.
 */
export function classifyRecipient(action: string, status: string): Outcome {
  const code = STATUS.exec(status)
  if (!code) return null
  if (action === 'failed') return code[1] === '5' ? { kind: 'hard-bounce', status } : code[1] === '4' ? { kind: 'soft-bounce', status } : null
  if (action === 'delayed') return code[1] === '2' ? null : { kind: 'soft-bounce', status }
  return null
}

/** The strongest outcome over the recipient blocks (our alerts have one recipient; a report may list more). */
function dsnOutcome(statusText: string): Outcome {
  let best: Outcome = null
  // The first block holds per-message fields; recipient blocks are those with an Action.
  for (const block of blocks(statusText)) {
    const f = fields(block)
    if (!f.has('action')) continue
    const outcome = classifyRecipient(firstWord(f.get('action')), firstWord(f.get('status')))
    if (outcome && (best === null || (best.kind === 'soft-bounce' && outcome.kind === 'hard-bounce'))) best = outcome
  }
  return best
}

const partText = (a: Attachment) => a.content.toString('utf8')

/**
 * The header block of an original attached as `message/rfc822` with
 * `Content-Disposition: inline` (RFC 5965's own example): mailparser reads
 * such a part as nested content, not as a part, so it is found in the raw
 * text — the part's headers, a blank line, then the original's headers.
 * RFC 2046 allows message/rfc822 only in 7bit/8bit/binary: no decoding.
 */
function inlineOriginalHeaders(raw: Buffer): string {
  const text = raw.subarray(0, 256 * 1024).toString('utf8')
  const part = /^content-type:[ \t]*(?:message\/(?:rfc822|global)|text\/rfc822-headers)\b[^\n]*\n(?:[^\r\n][^\n]*\n)*\r?\n/im.exec(text)
  return part ? headerBlock(text.slice(part.index + part[0].length)) : ''
}

/**
 * Parses one raw message. Null when it is not a report we act on: not a
 * DSN or ARF report, a DSN saying only delivered/relayed/expanded, an ARF
 * report whose Feedback-Type is not a complaint. Never throws on bad input.
 */
export async function parseReport(raw: Buffer): Promise<ParsedReport | null> {
  let mail
  try {
    mail = await simpleParser(raw, {
      keepDeliveryStatus: true, // the delivery-status part as a part of its own, not merged into the text
      skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true, skipImageLinks: true,
    })
  } catch {
    return null
  }
  const parts = mail.attachments
  const original = parts.find((a) => ORIGINAL_PARTS.includes(a.contentType.toLowerCase()))
  const originalHeaders = fields(original ? headerBlock(partText(original)) : inlineOriginalHeaders(raw))
  const reportId = angle(mail.messageId)
  const originalMessageId = angle(originalHeaders.get('message-id'))

  const arf = parts.find((a) => a.contentType.toLowerCase() === ARF_PART)
  if (arf) {
    const f = fields(partText(arf))
    if (!COMPLAINT_FEEDBACK_TYPES.includes(firstWord(f.get('feedback-type')))) return null
    return {
      kind: 'complaint', source: 'smtp-arf', status: null, reportId, originalMessageId,
      originalReturnPath: angle(f.get('original-mail-from')) ?? angle(originalHeaders.get('return-path')),
    }
  }
  const dsn = parts.find((a) => DSN_PARTS.includes(a.contentType.toLowerCase()))
  if (dsn) {
    const outcome = dsnOutcome(partText(dsn))
    if (!outcome) return null
    return {
      kind: outcome.kind, source: 'smtp-dsn', status: outcome.status, reportId, originalMessageId,
      originalReturnPath: angle(originalHeaders.get('return-path')),
    }
  }
  return null
}
