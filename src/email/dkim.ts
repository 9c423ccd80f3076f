// Owns the DKIM signature of outgoing mail (RFC 6376: rsa-sha256,
// relaxed/relaxed). We sign ourselves rather than through nodemailer's
// `dkim` option because nodemailer cannot over-sign: it keeps each name of
// its field list once (a Set) and signs only the bottom-most instance, so
// a second `From:` or `List-Unsubscribe:` prepended by anyone on the way
// leaves its signature valid, and receivers show or act on the forged one.
// Here every header that must occur at most once is listed in `h=` once
// more than it occurs (RFC 6376 §5.4.2, §8.15): the extra entry signs "no
// such header above", so a copy added anywhere breaks the signature, and a
// header we did not write (Reply-To, Cc, References…) cannot be added.
// Signing works on a stream (the sender may hand nodemailer a body that is
// still being held back): the message is read whole, as nodemailer's
// signer also does, then written out signed.
import { createHash, createPrivateKey, sign, type KeyObject } from 'node:crypto'
import { PassThrough, type Readable } from 'node:stream'

export interface DkimOptions { domain: string; selector: string; privateKey: string }

/** Headers the signature covers, in `h=` order, when present. */
const SIGNED = [
  'From', 'Sender', 'Reply-To', 'To', 'Cc', 'Subject', 'Date', 'Message-ID', 'In-Reply-To', 'References',
  'MIME-Version', 'Content-Type', 'Content-Transfer-Encoding', 'Content-Language',
  'List-Id', 'List-Unsubscribe', 'List-Unsubscribe-Post', 'Feedback-ID', 'Auto-Submitted',
] as const

/** Headers a message has at most once (RFC 5322 §3.6, RFC 2369, RFC 8058): signed once more than they occur. */
const OVERSIGNED: ReadonlySet<string> = new Set([
  'from', 'sender', 'reply-to', 'to', 'cc', 'subject', 'date', 'message-id', 'in-reply-to', 'references',
  'mime-version', 'content-type', 'content-transfer-encoding',
  'list-id', 'list-unsubscribe', 'list-unsubscribe-post',
])

interface Field { name: string; line: string }

/** Relaxed header canonicalization (RFC 6376 §3.4.2). */
function relaxedHeader(field: Field): string {
  const value = field.line.slice(field.line.indexOf(':') + 1).replace(/\r\n/g, '').replace(/[ \t]+/g, ' ').trim()
  return `${field.name}:${value}`
}

/** Relaxed body canonicalization (RFC 6376 §3.4.4). */
function relaxedBody(body: string): string {
  const lines = body.replace(/[ \t]+(?=\r\n|$)/g, '').replace(/[ \t]+/g, ' ').replace(/(\r\n)+$/, '')
  return lines === '' ? '' : `${lines}\r\n`
}

/** `h=`, folded after colons so no line of the signature passes 76 characters. */
function foldList(names: string[]): string {
  const lines: string[] = []
  let line = ' h='
  names.forEach((name, i) => {
    const piece = i < names.length - 1 ? `${name}:` : name
    if (line.length + piece.length > 76) { lines.push(line); line = '  ' }
    line += piece
  })
  lines.push(line)
  return lines.join('\r\n')
}

export class DkimSigner {
  private readonly key: KeyObject

  constructor(private readonly options: DkimOptions) {
    this.key = createPrivateKey(options.privateKey)
    if (this.key.asymmetricKeyType !== 'rsa') throw new Error('DKIM_PRIVATE_KEY must be an RSA private key')
  }

  /** The message with a DKIM-Signature on top; line ends are normalised to CRLF first, as SMTP will send them. */
  sign(message: Buffer, now = new Date()): Buffer {
    // latin1 keeps every byte as one char: what is hashed is the bytes sent.
    const text = message.toString('latin1').replace(/\r?\n|\r/g, '\r\n')
    const split = text.indexOf('\r\n\r\n')
    const head = split === -1 ? `${text.replace(/(\r\n)?$/, '')}\r\n` : text.slice(0, split + 2)
    const body = split === -1 ? '' : text.slice(split + 4)
    const fields: Field[] = head.slice(0, -2).split(/\r\n(?![ \t])/).filter(Boolean)
      .map((line) => ({ name: line.slice(0, line.indexOf(':')).trim().toLowerCase(), line }))

    const names: string[] = []
    for (const name of SIGNED.map((n) => n.toLowerCase())) {
      const count = fields.filter((f) => f.name === name).length
      for (let i = 0; i < count + (OVERSIGNED.has(name) ? 1 : 0); i++) names.push(name)
    }
    // Each entry of h= takes the next instance from the bottom; past the last, the null string.
    const unused = [...fields]
    let signedHeaders = ''
    for (const name of names) {
      const at = unused.findLastIndex((f) => f.name === name)
      if (at === -1) continue
      signedHeaders += `${relaxedHeader(unused[at]!)}\r\n`
      unused.splice(at, 1)
    }

    const bodyHash = createHash('sha256').update(relaxedBody(body), 'latin1').digest('base64')
    const unsigned = [
      `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=${this.options.domain};`,
      ` s=${this.options.selector}; t=${Math.floor(now.getTime() / 1000)};`,
      `${foldList(names)};`,
      ` bh=${bodyHash};`,
      ' b=',
    ].join('\r\n')
    const data = signedHeaders + relaxedHeader({ name: 'dkim-signature', line: unsigned })
    const signature = sign('sha256', Buffer.from(data, 'latin1'), this.key).toString('base64')
    const folded = signature.match(/.{1,72}/g)!.join('\r\n  ')
    return Buffer.from(`${unsigned}${folded}\r\n${text}`, 'latin1')
  }

  /** A nodemailer `processFunc`: reads the message whole, writes it signed; an input error fails the output (no partial mail). */
  stream = (input: Readable): Readable => {
    const output = new PassThrough()
    const chunks: Buffer[] = []
    input.on('data', (chunk: Buffer | string) => chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk))
    input.once('error', (error) => output.destroy(error))
    input.once('end', () => {
      try {
        output.end(this.sign(Buffer.concat(chunks)))
      } catch (error) {
        output.destroy(error as Error)
      }
    })
    return output
  }
}
