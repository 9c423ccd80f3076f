// Owns the API key format: `ua_<prefix>_<secret>`. The prefix is stored in
// clear to find the row and shown in listings; the secret only as SHA-256
// (32 random bytes need no slow hash), compared in constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

export type Role = 'admin' | 'editor' | 'partner'
export const ROLES: readonly Role[] = ['admin', 'editor', 'partner']

/** Who is calling, resolved from a valid, unrevoked key. */
export interface Actor {
  keyId: string
  organisationId: string
  role: Role
}

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
