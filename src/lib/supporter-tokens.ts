// Owns supporter secrets: address normalisation and keyed hashing, and the
// two single-purpose tokens (confirmation, management). A token is derived
// from SECRETS_KEY, its purpose and a random per-subscription nonce, so the
// worker can rebuild it for each mail while the database holds only the
// nonce and an HMAC of the token (neither yields a token without the key).
import { createHmac, randomBytes } from 'node:crypto'

export type TokenPurpose = 'confirm' | 'manage'

/** 43 base64url characters: 256 bits. Anything else is not one of ours. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/

export const newNonce = (): Buffer => randomBytes(16)

export function deriveToken(key: Buffer, purpose: TokenPurpose, nonce: Buffer): string {
  return createHmac('sha256', key).update(`ua-token\0${purpose}\0`).update(nonce).digest('base64url')
}

/** A fresh token of one purpose: the nonce to store, the hash to look it up by, and the token itself. */
export function newToken(key: Buffer, purpose: TokenPurpose): { nonce: Buffer; hash: Buffer; token: string } {
  const nonce = newNonce()
  const token = deriveToken(key, purpose, nonce)
  return { nonce, hash: tokenHash(key, purpose, token), token }
}

/** What is stored and looked up; the purpose is part of the hash, so a token opens one door only. */
export function tokenHash(key: Buffer, purpose: TokenPurpose, token: string): Buffer {
  return createHmac('sha256', key).update(`ua-token-lookup\0${purpose}\0${token}`).digest()
}

/** A token from a URL, or null when it cannot be one of ours (no database round trip). */
export function parseToken(token: string): string | null {
  return TOKEN_PATTERN.test(token) ? token : null
}

/** Addresses compare case-insensitively in practice; the hash follows that. */
const normaliseEmail = (email: string): string => email.trim().toLowerCase()

export function emailHash(key: Buffer, email: string): Buffer {
  return createHmac('sha256', key).update(`ua-email\0${normaliseEmail(email)}`).digest()
}

/** Providers that ignore dots in the local part and know one mailbox by two domains. */
const DOMAIN_ALIASES: Record<string, string> = { 'googlemail.com': 'gmail.com' }

/**
 * The mailbox behind an address, for limits only (the address is stored as
 * typed): `A.B+news@Example.org` → `ab@example.org`. Sub-addressing (`+tag`)
 * and dots are dropped for every domain: two people whose addresses differ
 * only by a dot share a confirmation limit, which costs them little, while
 * anything finer lets one victim be mailed once per spelling.
 */
function canonicalMailbox(email: string): string {
  const normalised = normaliseEmail(email)
  const at = normalised.lastIndexOf('@')
  if (at < 1) return normalised
  const domain = normalised.slice(at + 1)
  const local = normalised.slice(0, at).split('+')[0]!.replace(/\./g, '')
  return `${local || normalised.slice(0, at)}@${DOMAIN_ALIASES[domain] ?? domain}`
}

export function mailboxHash(key: Buffer, email: string): Buffer {
  return createHmac('sha256', key).update(`ua-mailbox\0${canonicalMailbox(email)}`).digest()
}

/** `jane.doe@example.org` → `j•••@e•••.org`: enough to recognise, not to read. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@')
  if (at < 1) return '•••'
  const local = email.slice(0, at)
  const domain = email.slice(at + 1)
  const dot = domain.lastIndexOf('.')
  const host = dot > 0 ? domain.slice(0, dot) : domain
  const tld = dot > 0 ? domain.slice(dot) : ''
  return `${[...local][0]}•••@${[...host][0] ?? ''}•••${tld}`
}

/**
 * A pragmatic address check: one @, no spaces or control characters, a
 * dotted domain, RFC 5321 lengths. Quoted local parts are refused on purpose.
 */
export function isPlausibleEmail(email: string): boolean {
  if (email.length > 254 || email !== email.trim()) return false
  const match = /^([A-Za-z0-9.!#$%&'*+/=?^_`{|}~\u0080-\uFFFF-]{1,64})@((?:[A-Za-z0-9\u0080-\uFFFF](?:[A-Za-z0-9\u0080-\uFFFF-]{0,61}[A-Za-z0-9\u0080-\uFFFF])?\.)+[A-Za-z\u0080-\uFFFF]{2,63})$/u.exec(email)
  if (!match) return false
  const local = match[1]!
  return !local.startsWith('.') && !local.endsWith('.') && !local.includes('..')
}
