// Owns what the four provider webhooks (routes/email-events.ts) share: the
// problems a refused event gets, the freshness window of signed timestamps
// and reading an enhanced status code out of a provider's text. Each provider's verifier and mapper is its own module
// beside this one (sns.ts, postmark.ts, mailgun.ts, sendgrid.ts).
import { AppError } from '../errors.js'
import type { EmailReport } from '../services/email-reports.js'

export type Provider = 'ses' | 'postmark' | 'mailgun' | 'sendgrid'
export const PROVIDERS: readonly Provider[] = ['ses', 'postmark', 'mailgun', 'sendgrid']

/** A signed timestamp older (or further ahead) than this is refused: a captured request cannot be replayed later. */
export const MAX_SIGNATURE_AGE_SECONDS = 300
/** How long a request's one-time value (Mailgun's token, SendGrid's signed bytes) is remembered: longer than any timestamp still accepted. */
export const REPLAY_MEMORY_SECONDS = 3 * MAX_SIGNATURE_AGE_SECONDS

/** The signature, credentials or certificate did not check out: 401, nothing done. */
export const unverified = (detail: string, headers?: Record<string, string>) =>
  new AppError(401, 'email-event-unverified', 'Event not verified', detail, undefined, headers)

/** Verifiable, but not from a sender this deployment accepts (an SNS topic not listed, a certificate host not AWS's): 403. */
export const refused = (detail: string) => new AppError(403, 'email-event-refused', 'Event refused', detail)

export const malformed = (detail: string) => new AppError(400, 'malformed-body', 'Malformed request body', detail)

/** Unix seconds `timestamp` lies within MAX_SIGNATURE_AGE_SECONDS of `now`. */
export function isFresh(timestamp: string, now: Date): boolean {
  if (!/^[0-9]{1,12}$/.test(timestamp)) return false
  return Math.abs(now.getTime() / 1000 - Number(timestamp)) <= MAX_SIGNATURE_AGE_SECONDS
}

const ENHANCED_STATUS = /\b([245]\.[0-9]{1,3}\.[0-9]{1,3})\b/

/** The first RFC 3463 enhanced status code (`5.1.1`) in a provider's status or diagnostic text. */
export function enhancedStatus(...texts: unknown[]): string | undefined {
  for (const text of texts) {
    if (typeof text !== 'string') continue
    const found = ENHANCED_STATUS.exec(text)
    if (found) return found[1]
  }
  return undefined
}

/** A timestamp (ISO string, or Unix seconds as number or string) as a Date; undefined when it is not one. */
export function dateOf(value: unknown): Date | undefined {
  const date = typeof value === 'number' ? new Date(value * 1000)
    : typeof value === 'string' ? (/^[0-9]+(\.[0-9]+)?$/.test(value) ? new Date(Number(value) * 1000) : new Date(value))
      : undefined
  return date && Number.isFinite(date.getTime()) ? date : undefined
}

/** A non-empty string or undefined. */
export const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined)

/** What one provider request asks for: reports to apply, and how many of its events were not ours to act on. */
export interface Mapped { reports: EmailReport[]; skipped: number }
