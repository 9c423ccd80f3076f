// Owns the opaque tokens of the console (contract §9): enrolment links and
// session cookies. 32 random bytes, base64url; the database keeps only
// their SHA-256 (256 random bits need no slow hash), so a copy of the
// database opens no session and enrols no passkey.
// An enrolment link that is mailed is not random but derived: an HMAC
// under SECRETS_KEY of its row's random id, so the email worker can rebuild
// it from the id alone (the job, Redis and Postgres never hold the token,
// and the id yields nothing without the key) — as supporter tokens are.
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { hashSecret } from './api-keys.js'

/** 43 base64url characters. Anything else is not one of ours (no database round trip). */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/

export function newConsoleToken(): { token: string; hash: Buffer } {
  const token = randomBytes(32).toString('base64url')
  return { token, hash: hashSecret(token) }
}

/** The token of enrolment link `enrolmentId` (a random uuid, the row's id) under SECRETS_KEY, and its hash. */
export function deriveEnrolmentToken(key: Buffer, enrolmentId: string): { token: string; hash: Buffer } {
  const token = createHmac('sha256', key).update(`ua-enrolment\0${enrolmentId}`).digest('base64url')
  return { token, hash: hashSecret(token) }
}

/** A new mailable enrolment link: its row id (chosen here) and the token derived from it. */
export function newEnrolmentToken(key: Buffer): { id: string; token: string; hash: Buffer } {
  const id = randomUUID()
  return { id, ...deriveEnrolmentToken(key, id) }
}

/** The hash to look a token up by, or null when the text cannot be a token. */
export const consoleTokenHash = (token: string | undefined): Buffer | null =>
  token !== undefined && TOKEN_PATTERN.test(token) ? hashSecret(token) : null

/**
 * Constant-time comparison of two secrets (CSRF tokens, the metrics token,
 * webhook credentials): hashed first, so even their lengths leak nothing.
 */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(hashSecret(a), hashSecret(b))
}
