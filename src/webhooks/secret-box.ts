// Owns webhook secrets at rest: AES-256-GCM under SECRETS_KEY, stored as
// iv (12) | tag (16) | ciphertext, with the endpoint id as associated data
// so a ciphertext copied onto another endpoint fails to open.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

const IV_BYTES = 12
const TAG_BYTES = 16

export function sealSecret(key: Buffer, endpointId: string, secret: string): Buffer {
  if (key.length !== 32) throw new Error('SECRETS_KEY must be 32 bytes')
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from(endpointId))
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()])
  return Buffer.concat([iv, cipher.getAuthTag(), ciphertext])
}

export function openSecret(key: Buffer, endpointId: string, sealed: Buffer): string {
  const iv = sealed.subarray(0, IV_BYTES)
  const tag = sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES)
  const decipher = createDecipheriv('aes-256-gcm', key, iv)
  decipher.setAAD(Buffer.from(endpointId))
  decipher.setAuthTag(tag)
  return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8')
}
