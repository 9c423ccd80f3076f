// Owns the per-message return path of alert mail (contract §10):
// `bounces+<token>@BOUNCE_DOMAIN`, where the token names one delivery
// (deliveries.id) and nothing else, keyed by SECRETS_KEY so that a report
// naming a token we did not make has no effect. Also reads our alert
// Message-ID back (provider reports quote it). No database here.
import { createHmac, timingSafeEqual } from 'node:crypto'

export const RETURN_PATH_LOCAL_PREFIX = 'bounces+'

/** RFC 4648 base32, lower case: survives MTAs that lower-case local parts. */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'
const ID_BYTES = 8
const MAC_BYTES = 12
/** (8 + 12) bytes = 160 bits = exactly 32 base32 characters, no padding. */
const TOKEN_LENGTH = ((ID_BYTES + MAC_BYTES) * 8) / 5
const TOKEN_PATTERN = new RegExp(`^[a-z2-7]{${TOKEN_LENGTH}}$`)

function base32(bytes: Buffer): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
    value &= (1 << bits) - 1
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31]
  return out
}

/** Only for strings that passed TOKEN_PATTERN (a multiple of 8 characters). */
function unbase32(text: string): Buffer {
  const out: number[] = []
  let bits = 0
  let value = 0
  for (const char of text) {
    value = (value << 5) | ALPHABET.indexOf(char)
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255)
      bits -= 8
    }
    value &= (1 << bits) - 1
  }
  return Buffer.from(out)
}

/** The same prefix-separated HMAC derivation as the supporter tokens (lib/supporter-tokens.ts), its own purpose. */
const mac = (secretsKey: Buffer, id: Buffer) =>
  createHmac('sha256', secretsKey).update('ua-return-path\0').update(id).digest().subarray(0, MAC_BYTES)

/** 32 characters [a-z2-7]: base32 of the delivery id (8 bytes, big-endian) and a 96-bit MAC of it. */
export function returnPathToken(secretsKey: Buffer, deliveryId: number): string {
  if (!Number.isSafeInteger(deliveryId) || deliveryId < 1) throw new RangeError('a delivery id is a positive integer')
  const id = Buffer.alloc(ID_BYTES)
  id.writeBigUInt64BE(BigInt(deliveryId))
  return base32(Buffer.concat([id, mac(secretsKey, id)]))
}

/** The delivery id a token names, or null when it is not one we made (any case accepted). */
export function parseReturnPathToken(secretsKey: Buffer, token: string): number | null {
  const lower = token.toLowerCase()
  if (secretsKey.length === 0 || !TOKEN_PATTERN.test(lower)) return null
  const bytes = unbase32(lower)
  const id = bytes.subarray(0, ID_BYTES)
  if (!timingSafeEqual(bytes.subarray(ID_BYTES), mac(secretsKey, id))) return null
  const value = id.readBigUInt64BE()
  return value >= 1n && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : null
}

/** `bounces+<token>@<bounceDomain>`: the envelope sender of one alert mail. */
export function returnPathAddress(secretsKey: Buffer, bounceDomain: string, deliveryId: number): string {
  return `${RETURN_PATH_LOCAL_PREFIX}${returnPathToken(secretsKey, deliveryId)}@${bounceDomain.toLowerCase()}`
}

/**
 * The delivery named by an address such as a DSN's RCPT TO or the envelope
 * sender a provider echoes back (`bounces+<token>@<bounceDomain>`, any
 * case, angle brackets allowed), or null for any other address, domain or
 * a token that does not verify.
 */
export function deliveryIdFromReturnPath(secretsKey: Buffer, bounceDomain: string, address: string): number | null {
  const bare = address.trim().replace(/^<(.*)>$/, '$1').toLowerCase()
  const at = bare.lastIndexOf('@')
  if (at < 0 || bare.slice(at + 1) !== bounceDomain.toLowerCase()) return null
  const local = bare.slice(0, at)
  if (!local.startsWith(RETURN_PATH_LOCAL_PREFIX)) return null
  return parseReturnPathToken(secretsKey, local.slice(RETURN_PATH_LOCAL_PREFIX.length))
}

/** The Message-ID of an alert mail (without <>): `d<deliveryId>.<event id, lower case>@<domain>`. */
export const alertMessageId = (deliveryId: number, eventId: string, domain: string): string =>
  `d${deliveryId}.${eventId.toLowerCase()}@${domain}`

/**
 * An alert Message-ID (alertMessageId) read back; null for any other id. Not
 * a secret: whoever uses it must check the event id against the delivery.
 */
export function parseAlertMessageId(messageId: string): { deliveryId: number; eventId: string } | null {
  const match = /^<?d([1-9][0-9]{0,15})\.(msg_[0-9a-z]{26})@[^\s<>@]+>?$/i.exec(messageId.trim())
  if (!match) return null
  const deliveryId = Number(match[1])
  return Number.isSafeInteger(deliveryId) ? { deliveryId, eventId: match[2]!.toLowerCase() } : null
}

/** The envelope sender of one alert mail: its own return path when BOUNCE_DOMAIN is set, else MAIL_FROM's address. */
export function alertEnvelopeSender(config: { secretsKey: Buffer; email: { bounce: { domain: string | null } } }, mailFromAddress: string, deliveryId: number): string {
  const domain = config.email.bounce.domain
  return domain ? returnPathAddress(config.secretsKey, domain, deliveryId) : mailFromAddress
}
