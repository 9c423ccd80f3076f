// Owns the API key format: `ua_<prefix>_<secret>`. The prefix is stored in
// clear to find the row and shown in listings; the secret only as SHA-256
// (32 random bytes need no slow hash), compared in constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

export type Role = 'admin' | 'editor' | 'partner'
export const ROLES: readonly Role[] = ['admin', 'editor', 'partner']

/**
 * Who is calling: a valid, unrevoked API key, or (contract §9) a person
 * signed in to the console, with the same rights as a key of their role.
 * Exactly one of `keyId` and `personId` is set.
 */
export interface Actor {
  /** The API key of the request; null for a person. */
  keyId: string | null
  /** The person signed in to the console; null for an API key. */
  personId: string | null
  organisationId: string
  role: Role
}

/** Who acted, as one comparable string: `key:<uuid>` or `person:<uuid>` (approvals compare these). */
export const actorRef = (actor: Actor): string => (actor.personId !== null ? `person:${actor.personId}` : `key:${actor.keyId}`)

const KEY_PATTERN = /^ua_([a-z2-7]{10})_([A-Za-z0-9_-]{43})$/
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

export interface NewApiKey {
  key: string
  prefix: string
  secretHash: Buffer
}

export function generateApiKey(): NewApiKey {
  const prefix = [...randomBytes(10)].map((b) => BASE32[b & 31]).join('')
  const secret = randomBytes(32).toString('base64url')
  return { key: `ua_${prefix}_${secret}`, prefix: `ua_${prefix}`, secretHash: hashSecret(secret) }
}

export function parseApiKey(key: string): { prefix: string; secret: string } | null {
  const match = KEY_PATTERN.exec(key)
  return match ? { prefix: `ua_${match[1]}`, secret: match[2]! } : null
}

export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret).digest()
}

export function secretMatches(secret: string, storedHash: Buffer): boolean {
  const candidate = hashSecret(secret)
  return candidate.length === storedHash.length && timingSafeEqual(candidate, storedHash)
}
