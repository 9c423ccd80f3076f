// Owns the MIME of outgoing mail. A message is compiled ONCE into a
// template (headers, multipart/alternative, both parts quoted-printable)
// whose per-recipient slots (address, links, Message-ID, Date) are filled
// by concatenating pre-encoded pieces: no per-recipient MIME composition,
// which is what bounds nodemailer's own rate. Each slot starts and ends on
// a quoted-printable soft line break, so every line stays within 76
// characters whatever a link's length, and decoding joins it back whole.
// A header may be optional: written only when its slots are filled (a
// reply's References), never as an empty line.
import { randomBytes } from 'node:crypto'
import { domainToASCII } from 'node:url'
import { encode as qpEncode, wrap as qpWrap } from 'nodemailer/lib/qp'
import { encodeWords, foldLines } from 'nodemailer/lib/mime-funcs'
import addressparser from 'nodemailer/lib/addressparser'

/** Marks a per-recipient value inside a part's text; NUL cannot occur in Postgres text, so it never collides. */
export const slot = (name: string) => `\u0000${name}\u0000`
const SLOT_PATTERN = /\u0000([a-zA-Z]+)\u0000/

interface SlotPiece { slot: string; encoding: 'qp' | 'raw' }
/** A whole header line, left out when any of its slots is empty. */
interface OptionalHeader { optional: (string | SlotPiece)[]; slots: string[] }
type Piece = string | SlotPiece | OptionalHeader

export interface MessageSpec {
  from: string
  subject: string
  /** BCP 47 tag of the content. */
  language: string
  text: string
  html: string
  /** Extra fixed headers, e.g. List-Id; values must be ASCII. */
  headers?: Record<string, string>
  /** Headers whose value is one slot (e.g. `List-Unsubscribe: <{unsubscribe}>`), written as given with slots filled. */
  slotHeaders?: Record<string, string>
  /** Like `slotHeaders`, but the line is written only when every slot in it has a non-blank value. */
  optionalSlotHeaders?: Record<string, string>
}

export interface Recipient {
  to: string
  messageId: string
  date?: Date
  slots: Record<string, string>
}

export interface MailFrom {
  /** The formatted From header value. */
  header: string
  /** The bare address for the SMTP envelope. */
  address: string
  domain: string
}

export function parseMailFrom(from: string): MailFrom {
  const parsed = addressparser(from, { flatten: true })[0]
  const address = parsed?.address || from.trim()
  const name = parsed?.name ?? ''
  const domain = address.slice(address.lastIndexOf('@') + 1) || 'localhost'
  const header = name
    ? `${/^[\x20-\x7e]*$/.test(name) ? `"${name.replace(/["\\]/g, '\\$&')}"` : encodeWords(name, 'B', 52)} <${address}>`
    : address
  return { header, address, domain }
}

/** The RFC 5322 date nodemailer writes too. */
const mailDate = (date = new Date()) => date.toUTCString().replace(/GMT/, '+0000')

/** An address as it may appear in a header: IDN domains in their ASCII form. */
function headerAddress(address: string): string {
  const at = address.lastIndexOf('@')
  const domain = address.slice(at + 1)
  return /^[\x20-\x7e]*$/.test(domain) ? address : `${address.slice(0, at + 1)}${domainToASCII(domain) || domain}`
}

/** Quoted-printable of a part whose text holds slots: fixed runs encoded now, slots at render time. */
function qpPieces(text: string): Piece[] {
  const crlf = text.replace(/\r?\n/g, '\r\n')
  const pieces: Piece[] = []
  const parts = crlf.split(SLOT_PATTERN) // odd indexes are slot names
  parts.forEach((part, i) => {
    if (i % 2 === 1) {
      pieces.push({ slot: part, encoding: 'qp' })
      return
    }
    if (part === '') return
    let encoded = qpWrap(qpEncode(part), 76)
    // A slot follows: end on a line boundary so the slot starts at column 0.
    if (i < parts.length - 1 && !encoded.endsWith('\r\n')) encoded += '=\r\n'
    pieces.push(encoded)
  })
  return pieces
}

function headerPieces(name: string, value: string): (string | SlotPiece)[] {
  const pieces: (string | SlotPiece)[] = [`${name}: `]
  value.split(SLOT_PATTERN).forEach((part, i) => {
    if (i % 2 === 1) pieces.push({ slot: part, encoding: 'raw' })
    else if (part) pieces.push(part)
  })
  pieces.push('\r\n')
  return pieces
}

function optionalHeader(name: string, value: string): OptionalHeader {
  const optional = headerPieces(name, value)
  return { optional, slots: optional.flatMap((p) => (typeof p === 'string' ? [] : [p.slot])) }
}

/** A slot's value in a header: one line, whatever it was given (no header injection). */
const rawValue = (value: string) => value.replace(/[\r\n]/g, '')

export class MimeTemplate {
  private readonly pieces: Piece[]

  constructor(spec: MessageSpec, from: MailFrom = parseMailFrom(spec.from)) {
    const boundary = `----=_ua_${randomBytes(12).toString('hex')}`
    const subject = foldLines(`Subject: ${encodeWords(spec.subject.replace(/[\r\n]+/g, ' '), 'B', 52)}`, 76)
    const fixed = (name: string, value: string) => `${foldLines(`${name}: ${value}`, 76)}\r\n`
    const p: Piece[] = [
      fixed('From', from.header),
      ...headerPieces('To', slot('to')),
      `${subject}\r\n`,
      ...headerPieces('Date', slot('date')),
      ...headerPieces('Message-ID', slot('messageId')),
      'MIME-Version: 1.0\r\n',
      fixed('Content-Language', spec.language),
    ]
    for (const [name, value] of Object.entries(spec.headers ?? {})) p.push(fixed(name, value))
    for (const [name, value] of Object.entries(spec.slotHeaders ?? {})) p.push(...headerPieces(name, value))
    for (const [name, value] of Object.entries(spec.optionalSlotHeaders ?? {})) p.push(optionalHeader(name, value))
    p.push(
      `Content-Type: multipart/alternative;\r\n boundary="${boundary}"\r\n`,
      '\r\n',
      `--${boundary}\r\n`,
      'Content-Type: text/plain; charset=utf-8\r\n',
      'Content-Transfer-Encoding: quoted-printable\r\n',
      '\r\n',
      ...qpPieces(spec.text),
      `\r\n--${boundary}\r\n`,
      'Content-Type: text/html; charset=utf-8\r\n',
      'Content-Transfer-Encoding: quoted-printable\r\n',
      '\r\n',
      ...qpPieces(spec.html),
      `\r\n--${boundary}--\r\n`,
    )
    // Merge neighbouring fixed strings so a render is a short join.
    this.pieces = p.reduce<Piece[]>((out, piece) => {
      const last = out[out.length - 1]
      if (typeof piece === 'string' && typeof last === 'string') out[out.length - 1] = last + piece
      else out.push(piece)
      return out
    }, [])
  }

  render(r: Recipient): Buffer {
    const values: Record<string, string> = { ...r.slots, to: headerAddress(r.to), messageId: `<${r.messageId}>`, date: mailDate(r.date) }
    const fill = (piece: SlotPiece) => {
      const value = values[piece.slot] ?? ''
      return piece.encoding === 'raw' ? rawValue(value) : `${qpWrap(qpEncode(value), 76)}=\r\n`
    }
    let out = ''
    for (const piece of this.pieces) {
      if (typeof piece === 'string') out += piece
      else if ('slot' in piece) out += fill(piece)
      else if (piece.slots.every((name) => rawValue(values[name] ?? '').trim() !== '')) {
        for (const part of piece.optional) out += typeof part === 'string' ? part : fill(part)
      }
    }
    return Buffer.from(out, 'utf8')
  }
}
