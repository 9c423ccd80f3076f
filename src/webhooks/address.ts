// Owns the SSRF address policy: which IP addresses a webhook may never
// reach (unless WEBHOOK_ALLOW_PRIVATE_NETWORKS=true). Pure functions over
// bytes, so every textual form — IPv4-mapped, NAT64, 6to4, IPv4-compatible,
// and the decimal/octal/hex forms inet_aton accepts — lands on one check.
import { isIPv4, isIPv6 } from 'node:net'

export type BlockReason =
  | 'unspecified' | 'loopback' | 'private' | 'link-local' | 'cgnat' | 'multicast' | 'reserved' | 'documentation'

interface Range4 { base: number; bits: number; reason: BlockReason }

const v4 = (a: number, b: number, c: number, d: number) => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0

// IANA IPv4 special-purpose registry, minus nothing: a partner URL has no
// business on any of these.
const BLOCKED_V4: Range4[] = [
  { base: v4(0, 0, 0, 0), bits: 8, reason: 'unspecified' },
  { base: v4(10, 0, 0, 0), bits: 8, reason: 'private' },
  { base: v4(100, 64, 0, 0), bits: 10, reason: 'cgnat' },
  { base: v4(127, 0, 0, 0), bits: 8, reason: 'loopback' },
  { base: v4(169, 254, 0, 0), bits: 16, reason: 'link-local' },
  { base: v4(172, 16, 0, 0), bits: 12, reason: 'private' },
  { base: v4(192, 0, 0, 0), bits: 24, reason: 'reserved' },
  { base: v4(192, 0, 2, 0), bits: 24, reason: 'documentation' },
  { base: v4(192, 88, 99, 0), bits: 24, reason: 'reserved' },
  { base: v4(192, 168, 0, 0), bits: 16, reason: 'private' },
  { base: v4(198, 18, 0, 0), bits: 15, reason: 'reserved' },
  { base: v4(198, 51, 100, 0), bits: 24, reason: 'documentation' },
  { base: v4(203, 0, 113, 0), bits: 24, reason: 'documentation' },
  { base: v4(224, 0, 0, 0), bits: 4, reason: 'multicast' },
  { base: v4(240, 0, 0, 0), bits: 4, reason: 'reserved' },
]

function classifyV4(n: number): BlockReason | null {
  for (const r of BLOCKED_V4) {
    const mask = r.bits === 0 ? 0 : (~0 << (32 - r.bits)) >>> 0
    if (((n & mask) >>> 0) === r.base) return r.reason
  }
  return null
}

/**
 * Parses IPv4 the way inet_aton (and so getaddrinfo) does: 1–4 parts, each
 * decimal, octal (leading 0) or hex (0x); the last part fills the rest.
 * `2130706433`, `0x7f.1` and `0177.0.0.1` are all 127.0.0.1.
 */
export function parseIPv4Loose(text: string): number | null {
  const parts = text.split('.')
  if (parts.length === 0 || parts.length > 4) return null
  const values: number[] = []
  for (const part of parts) {
    let value: number
    if (/^0x[0-9a-f]*$/i.test(part)) value = part.length === 2 ? 0 : parseInt(part.slice(2), 16)
    else if (/^0[0-7]*$/.test(part)) value = part.length === 1 ? 0 : parseInt(part.slice(1), 8)
    else if (/^[1-9][0-9]*$/.test(part)) value = parseInt(part, 10)
    else return null
    if (!Number.isSafeInteger(value)) return null
    values.push(value)
  }
  const last = values.pop()!
  if (values.some((v) => v > 255)) return null
  if (last >= 2 ** (8 * (4 - values.length))) return null
  let n = 0
  values.forEach((v, i) => { n += v * 2 ** (8 * (3 - i)) })
  return (n + last) >>> 0
}

/** 16 bytes of an IPv6 address (with or without an embedded dotted quad). */
export function parseIPv6(text: string): Uint8Array | null {
  let s = text.replace(/^\[|\]$/g, '')
  const zone = s.indexOf('%')
  if (zone >= 0) s = s.slice(0, zone)
  if (!isIPv6(s)) return null
  if (s.includes('.')) {
    // "::ffff:1.2.3.4" → "::ffff:102:304": one notation to parse below.
    const lastColon = s.lastIndexOf(':')
    const quad = s.slice(lastColon + 1)
    if (!isIPv4(quad)) return null
    const n = parseIPv4Loose(quad)!
    s = `${s.slice(0, lastColon + 1)}${((n >>> 16) & 0xffff).toString(16)}:${(n & 0xffff).toString(16)}`
  }
  const halves = s.split('::')
  if (halves.length > 2) return null
  const groupsOf = (part: string | undefined) => (part ? part.split(':').map((x) => parseInt(x, 16)) : [])
  const head = groupsOf(halves[0])
  const tail = groupsOf(halves[1])
  const groups = halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head
  if (groups.length !== 8 || groups.some((g) => Number.isNaN(g) || g < 0 || g > 0xffff)) return null
  const bytes = new Uint8Array(16)
  groups.forEach((g, i) => { bytes[2 * i] = g >> 8; bytes[2 * i + 1] = g & 0xff })
  return bytes
}

const startsWith = (b: Uint8Array, prefix: number[], bits: number) => {
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3
    const bit = 7 - (i & 7)
    if (((b[byte]! >> bit) & 1) !== ((prefix[byte] ?? 0) >> bit & 1)) return false
  }
  return true
}
const embeddedV4 = (b: Uint8Array, offset: number) =>
  ((b[offset]! << 24) | (b[offset + 1]! << 16) | (b[offset + 2]! << 8) | b[offset + 3]!) >>> 0

function classifyV6(b: Uint8Array): BlockReason | null {
  const zeroUpTo = (n: number) => b.subarray(0, n).every((x) => x === 0)
  if (zeroUpTo(16)) return 'unspecified'
  if (zeroUpTo(15) && b[15] === 1) return 'loopback'
  // ::ffff:a.b.c.d (IPv4-mapped) and ::ffff:0:a.b.c.d (IPv4-translated): the IPv4 rules apply.
  if (zeroUpTo(10) && b[10] === 0xff && b[11] === 0xff) return classifyV4(embeddedV4(b, 12))
  if (zeroUpTo(8) && b[8] === 0xff && b[9] === 0xff && b[10] === 0 && b[11] === 0) return classifyV4(embeddedV4(b, 12))
  // ::a.b.c.d (deprecated IPv4-compatible): never a real destination.
  if (zeroUpTo(12)) return 'reserved'
  // 64:ff9b::/96 well-known NAT64 prefix: the embedded IPv4 decides.
  if (startsWith(b, [0x00, 0x64, 0xff, 0x9b], 96)) return classifyV4(embeddedV4(b, 12))
  // 64:ff9b:1::/48 local-use NAT64: a private translator.
  if (startsWith(b, [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01], 48)) return 'private'
  // 2002::/16 6to4: the IPv4 in bits 16–47 decides.
  if (b[0] === 0x20 && b[1] === 0x02) return classifyV4(embeddedV4(b, 2)) ?? null
  if (startsWith(b, [0x20, 0x01, 0x0d, 0xb8], 32)) return 'documentation'
  if (startsWith(b, [0x3f, 0xff], 20)) return 'documentation'
  // 2001::/23 IETF protocol assignments (Teredo and friends).
  if (startsWith(b, [0x20, 0x01, 0x00], 23)) return 'reserved'
  if (b[0] === 0xff) return 'multicast'
  if ((b[0]! & 0xfe) === 0xfc) return 'private' // fc00::/7 unique local
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 'link-local' // fe80::/10
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return 'private' // fec0::/10 site-local (deprecated)
  // Everything outside 2000::/3 global unicast is unassigned or special.
  if ((b[0]! & 0xe0) !== 0x20) return 'reserved'
  return null
}

/**
 * Why an address may not be reached, or null when it is a public unicast
 * address. Accepts IPv4 (any inet_aton form) and IPv6 (brackets and zone
 * ids allowed). Text that is no IP address at all returns 'reserved':
 * callers only pass what they believe is an address, so refuse.
 */
export function classifyAddress(address: string): BlockReason | null {
  const v4n = parseIPv4Loose(address)
  if (v4n !== null) return classifyV4(v4n)
  const v6 = parseIPv6(address)
  if (v6) return classifyV6(v6)
  return 'reserved'
}

/** True when `host` (a URL hostname) is an IP address in any form getaddrinfo would read as one. */
export function isIpLiteral(host: string): boolean {
  return parseIPv4Loose(host) !== null || parseIPv6(host) !== null
}
