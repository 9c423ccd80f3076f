// Owns Amazon SES notifications delivered by SNS (POST /v1/email-events/ses):
// checking an SNS message before anything in it is used, confirming a
// subscription, and turning SES Bounce and Complaint notifications into
// email reports.
// Verification, as AWS documents it: the topic must be one we were told to
// accept (SES_SNS_TOPIC_ARNS); the signing certificate must come over
// https from `sns.<region>.amazonaws.com` (the host check is the SSRF
// guard: nothing else is ever fetched); the signature (version 1 =
// SHA1withRSA, 2 = SHA256withRSA) must verify over the canonical string of
// the message type with that certificate's key. Certificates are cached;
// a fetch has a deadline and a size cap and follows no redirect.
// Replays of a real message change nothing (reports are idempotent per SNS
// MessageId, as SNS itself may deliver a message twice); messages older than
// SNS's longest retry window are refused.
import { X509Certificate, verify as verifySignature, type KeyObject } from 'node:crypto'
import type { EmailReport, ReportKind } from '../services/email-reports.js'
import { AppError } from '../errors.js'
import { dateOf, enhancedStatus, malformed, refused, text, unverified, type Mapped } from './common.js'

export interface SnsMessage {
  Type: string
  MessageId: string
  TopicArn: string
  Message: string
  Timestamp: string
  SignatureVersion: string
  Signature: string
  SigningCertURL: string
  Subject?: string
  SubscribeURL?: string
  Token?: string
  UnsubscribeURL?: string
}

/** The certificate (and subscription) host AWS names for SNS: `sns.<region>.amazonaws.com`, or `.com.cn` in China. */
export const SNS_HOST = /^sns\.[a-zA-Z0-9-]{3,}\.amazonaws\.com(\.cn)?$/
/** SNS retries an HTTP delivery for at most an hour; older messages are refused (with margin). */
export const SNS_MAX_AGE_MS = 2 * 60 * 60 * 1000
const FUTURE_SKEW_MS = 5 * 60 * 1000
const CERTIFICATE_MAX_BYTES = 64 * 1024
const FETCH_TIMEOUT_MS = 5_000
/** Distinct certificate URLs kept (AWS rotates a handful per region). */
const CACHE_SIZE = 32
/** A certificate that could not be fetched is not asked for again this soon (forged URLs on AWS's host cost us nothing more). */
const FAILURE_TTL_MS = 60_000

const SIGNED_FIELDS: Record<string, readonly (keyof SnsMessage)[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
}

/** The canonical string SNS signs for this message type (`Key\nValue\n` per field, in this order; a Notification's Subject only when present); null for an unknown type. */
export function snsStringToSign(message: SnsMessage): string | null {
  const fields = SIGNED_FIELDS[message.Type]
  if (!fields) return null
  let out = ''
  for (const field of fields) {
    const value = message[field]
    if (value === undefined && field === 'Subject') continue
    if (typeof value !== 'string') return null
    out += `${field}\n${value}\n`
  }
  return out
}

/**
 * The URL when SNS may name it (a certificate or SubscribeURL): https on
 * `sns.<region>.amazonaws.com`, default port, no credentials. `trustedOrigins`
 * is for tests only (an app option, never configuration): a local server
 * standing in for AWS.
 */
export function snsUrl(value: string | undefined, trustedOrigins: readonly string[] = []): URL | null {
  if (typeof value !== 'string' || !URL.canParse(value)) return null
  const url = new URL(value)
  if (url.username !== '' || url.password !== '') return null
  if (trustedOrigins.includes(url.origin)) return url
  return url.protocol === 'https:' && url.port === '' && SNS_HOST.test(url.hostname) ? url : null
}

/** Whether `signature` (base64) is SNS's signature of `message` under `key`. */
export function snsSignatureValid(message: SnsMessage, key: KeyObject): boolean {
  const digest = message.SignatureVersion === '1' ? 'sha1' : message.SignatureVersion === '2' ? 'sha256' : null
  const data = snsStringToSign(message)
  if (digest === null || data === null || !/^[A-Za-z0-9+/]+={0,2}$/.test(message.Signature)) return false
  try {
    return verifySignature(digest, Buffer.from(data, 'utf8'), key, Buffer.from(message.Signature, 'base64'))
  } catch {
    return false
  }
}

/** GET with a deadline and a size cap, no redirects; the body as text, or an error. */
async function getLimited(url: URL, maxBytes: number, timeoutMs: number): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(timeoutMs) })
  const chunks: Buffer[] = []
  let size = 0
  if (response.body) {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength
      if (size > maxBytes) throw new Error(`more than ${maxBytes} bytes`)
      chunks.push(Buffer.from(chunk))
    }
  }
  return { status: response.status, body: Buffer.concat(chunks).toString('utf8') }
}

export interface SnsVerifierOptions {
  /** SES_SNS_TOPIC_ARNS. */
  topicArns: readonly string[]
  /** Tests only: origins (`http://127.0.0.1:1234`) accepted besides AWS's for certificates and SubscribeURL. */
  trustedOrigins?: readonly string[]
  fetchTimeoutMs?: number
}

/** Checks SNS messages (one per process: its certificate cache is shared by every request). */
export class SnsVerifier {
  private readonly certificates = new Map<string, Promise<KeyObject>>()
  private readonly topics: Set<string>
  private readonly trusted: readonly string[]
  private readonly timeoutMs: number

  constructor(options: SnsVerifierOptions) {
    this.topics = new Set(options.topicArns)
    this.trusted = options.trustedOrigins ?? []
    this.timeoutMs = options.fetchTimeoutMs ?? FETCH_TIMEOUT_MS
  }

  /**
   * Throws a 400/401/403/503 problem unless the message is SNS's, of an
   * accepted topic, recent, and signed. The cheap checks come first: a
   * message naming a topic we do not accept never makes us fetch anything.
   */
  async verify(message: SnsMessage, now = new Date()): Promise<void> {
    if (!SIGNED_FIELDS[message.Type]) throw malformed(`Unknown SNS message type '${message.Type.slice(0, 40)}'.`)
    if (!this.topics.has(message.TopicArn)) throw refused('The SNS topic is not one this service accepts (SES_SNS_TOPIC_ARNS).')
    if (message.SignatureVersion !== '1' && message.SignatureVersion !== '2') throw unverified('Unknown SNS SignatureVersion.')
    const certificateUrl = snsUrl(message.SigningCertURL, this.trusted)
    if (certificateUrl === null || !certificateUrl.pathname.endsWith('.pem')) {
      throw refused('SigningCertURL is not an https .pem URL on sns.<region>.amazonaws.com.')
    }
    const sent = dateOf(message.Timestamp)
    if (!sent || now.getTime() - sent.getTime() > SNS_MAX_AGE_MS || sent.getTime() - now.getTime() > FUTURE_SKEW_MS) {
      throw unverified('The SNS message is too old (or from the future).')
    }
    const key = await this.publicKey(certificateUrl)
    if (!snsSignatureValid(message, key)) throw unverified('The SNS signature does not verify.')
  }

  /** Confirms a verified SubscriptionConfirmation: GET its SubscribeURL (the same host rule as certificates). */
  async confirmSubscription(message: SnsMessage): Promise<void> {
    const url = snsUrl(message.SubscribeURL, this.trusted)
    if (url === null) throw refused('SubscribeURL is not an https URL on sns.<region>.amazonaws.com.')
    let status: number
    try {
      status = (await getLimited(url, CERTIFICATE_MAX_BYTES, this.timeoutMs)).status
    } catch {
      status = 0
    }
    if (status < 200 || status > 299) {
      throw new AppError(502, 'subscription-not-confirmed', 'Subscription not confirmed',
        `SNS did not accept the confirmation (${status === 0 ? 'no answer' : `HTTP ${status}`}); SNS sends the confirmation again, or confirm it in the AWS console.`)
    }
  }

  private publicKey(url: URL): Promise<KeyObject> {
    const href = url.href
    const cached = this.certificates.get(href)
    if (cached) return cached
    const loading = (async () => {
      let certificate: X509Certificate
      try {
        const { status, body } = await getLimited(url, CERTIFICATE_MAX_BYTES, this.timeoutMs)
        if (status !== 200) throw new Error(`HTTP ${status}`)
        certificate = new X509Certificate(body)
      } catch {
        throw new AppError(503, 'certificate-unavailable', 'Signing certificate unavailable',
          'The SNS signing certificate could not be fetched; retry later.', undefined, { 'retry-after': '60' })
      }
      const now = Date.now()
      if (Date.parse(certificate.validFrom) > now || Date.parse(certificate.validTo) < now) {
        throw unverified('The SNS signing certificate is not valid now.')
      }
      return certificate.publicKey
    })()
    if (this.certificates.size >= CACHE_SIZE) this.certificates.delete(this.certificates.keys().next().value!)
    this.certificates.set(href, loading)
    loading.catch(() => { setTimeout(() => { if (this.certificates.get(href) === loading) this.certificates.delete(href) }, FAILURE_TTL_MS).unref() })
    return loading
  }
}

const BOUNCE_KINDS: Record<string, ReportKind> = { Permanent: 'hard-bounce', Transient: 'soft-bounce', Undetermined: 'soft-bounce' }

type Json = Record<string, unknown>
const object = (value: unknown): Json | undefined =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Json : undefined
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : [])

/** Our Message-ID as SES saw it: the original header (SES may set its own id in commonHeaders). */
function originalMessageId(mail: Json | undefined): string | undefined {
  for (const header of list(mail?.headers)) {
    const h = object(header)
    if (typeof h?.name === 'string' && h.name.toLowerCase() === 'message-id') return text(h.value)
  }
  return text(object(mail?.commonHeaders)?.messageId)
}

/**
 * The reports in a verified SNS Notification carrying an SES notification
 * (`notificationType`) or SES event (`eventType`): one per bounced or
 * complaining recipient. Bounce Permanent → hard-bounce; Transient and
 * Undetermined → soft-bounce; Complaint → complaint, except a
 * `not-spam` feedback. Anything else (Delivery, Send, Open…) is skipped.
 */
export function sesReports(message: SnsMessage): Mapped {
  let ses: Json | undefined
  try {
    ses = object(JSON.parse(message.Message))
  } catch {
    ses = undefined
  }
  if (!ses) return { reports: [], skipped: 1 }
  const type = ses.notificationType ?? ses.eventType
  const mail = object(ses.mail)
  const common = {
    source: 'ses' as const,
    ...(text(mail?.source) ? { returnPath: text(mail?.source) } : {}),
    ...(originalMessageId(mail) ? { messageId: originalMessageId(mail) } : {}),
    reportId: message.MessageId,
  }
  const reports: EmailReport[] = []
  if (type === 'Bounce') {
    const bounce = object(ses.bounce)
    const kind = BOUNCE_KINDS[String(bounce?.bounceType)]
    if (!kind) return { reports: [], skipped: 1 }
    const occurredAt = dateOf(bounce?.timestamp)
    for (const entry of list(bounce?.bouncedRecipients)) {
      const recipient = object(entry)
      const status = enhancedStatus(recipient?.status, recipient?.diagnosticCode)
      reports.push({
        ...common, kind, ...(text(recipient?.emailAddress) ? { recipient: text(recipient?.emailAddress) } : {}),
        ...(status ? { status } : {}), ...(occurredAt ? { occurredAt } : {}),
      })
    }
  } else if (type === 'Complaint') {
    const complaint = object(ses.complaint)
    if (complaint?.complaintFeedbackType === 'not-spam') return { reports: [], skipped: 1 }
    const occurredAt = dateOf(complaint?.timestamp)
    for (const entry of list(complaint?.complainedRecipients)) {
      const recipient = object(entry)
      reports.push({ ...common, kind: 'complaint', ...(text(recipient?.emailAddress) ? { recipient: text(recipient?.emailAddress) } : {}), ...(occurredAt ? { occurredAt } : {}) })
    }
  } else {
    return { reports: [], skipped: 1 }
  }
  return { reports, skipped: 0 }
}
