// Owns Standard Webhooks signing (contract §5): secrets `whsec_` + standard
// base64 of 32 random bytes; `webhook-signature` holds one `v1,<base64
// HMAC-SHA256 of "id.timestamp.body">` per active secret, space-separated.
// The bytes signed are exactly the bytes sent.
import { createHmac, createSecretKey, randomBytes, type KeyObject } from 'node:crypto'

const SECRET_PREFIX = 'whsec_'

/**
 * HMAC keys by secret, so a fan-out does not decode and import the same
 * key once per event. Bounded (a KeyObject holds about 1 KB): past this
 * many active secrets the oldest entries go, and a miss costs what every
 * signature cost before. Process memory only; a secret is never logged.
 */
export const SIGNING_KEY_CACHE_SIZE = 4096
const keys = new Map<string, KeyObject>()

export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64')
}

/** The HMAC key of a `whsec_…` secret. */
function signingKey(secret: string): KeyObject {
  let key = keys.get(secret)
  if (key === undefined) {
    if (!secret.startsWith(SECRET_PREFIX)) throw new Error('not a whsec_ secret')
    key = createSecretKey(Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64'))
    if (keys.size >= SIGNING_KEY_CACHE_SIZE) keys.delete(keys.keys().next().value!)
    keys.set(secret, key)
  }
  return key
}

/** How many signing keys are held (tests check the bound). */
export function cachedSigningKeys(): number {
  return keys.size
}

/** One `v1,<sig>` entry per secret, in the order given (current first). */
export function signatureHeader(id: string, timestampSeconds: number, body: Buffer, secrets: readonly string[]): string {
  const prefix = `${id}.${timestampSeconds}.`
  let header = ''
  for (const secret of secrets) {
    const mac = createHmac('sha256', signingKey(secret)).update(prefix).update(body).digest('base64')
    header += header === '' ? `v1,${mac}` : ` v1,${mac}`
  }
  return header
}

/** The three Standard Webhooks headers of one attempt. */
export function webhookHeaders(id: string, body: Buffer, secrets: readonly string[], now = Date.now()): Record<string, string> {
  const timestamp = Math.floor(now / 1000)
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader(id, timestamp, body, secrets),
  }
}
