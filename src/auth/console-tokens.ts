// Owns the opaque tokens of the console (contract §9): enrolment links and
// session cookies. 32 random bytes, base64url; the database keeps only
// their SHA-256 (256 random bits need no slow hash), so a copy of the
// database opens no session and enrols no passkey.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { hashSecret } from './api-keys.js'

/** 43 base64url characters. Anything else is not one of ours (no database round trip). */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/

export function newConsoleToken(): { token: string; hash: Buffer } {
  const token = randomBytes(32).toString('base64url')
  return { token, hash: hashSecret(token) }
}

/** The hash to look a token up by, or null when the text cannot be a token. */
export const consoleTokenHash = (token: string | undefined): Buffer | null =>
  token !== undefined && TOKEN_PATTERN.test(token) ? hashSecret(token) : null

/** Constant-time comparison of two short secrets (CSRF tokens). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
