// Owns Standard Webhooks signing (contract §5): secrets `whsec_` + standard
// base64 of 32 random bytes; `webhook-signature` holds one `v1,<base64
// HMAC-SHA256 of "id.timestamp.body">` per active secret, space-separated.
// The bytes signed are exactly the bytes sent.
import { createHmac, randomBytes } from 'node:crypto'

export const SECRET_PREFIX = 'whsec_'

export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64')
}

/** The key bytes of a `whsec_…` secret. */
export function secretKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error('not a whsec_ secret')
  return Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64')
}

/** One `v1,<sig>` entry per secret, in the order given (current first). */
export function signatureHeader(id: string, timestampSeconds: number, body: Buffer, secrets: readonly string[]): string {
  const prefix = Buffer.from(`${id}.${timestampSeconds}.`)
  return secrets.map((secret) => {
    const mac = createHmac('sha256', secretKey(secret)).update(prefix).update(body).digest('base64')
    return `v1,${mac}`
  }).join(' ')
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
