// Owns the SMTP connection: one pooled nodemailer transport per process,
// signing every message with DKIM (dkim.ts, over-signed) when DKIM_DOMAIN,
// DKIM_SELECTOR and DKIM_PRIVATE_KEY are set.
import nodemailer, { type Transporter, type TransportOptions } from 'nodemailer'
import type { Config } from '../config.js'
import { DkimSigner } from './dkim.js'

export type MailTransport = Transporter

/** SMTP connections per process for alerts (the sender sends one mail per connection at a time). */
export const SMTP_POOL_SIZE = 5

export function createMailTransport(config: Readonly<Config>, options: { maxConnections?: number } = {}): MailTransport {
  const dkim = config.email.dkim
  const transport = nodemailer.createTransport({
    url: config.smtpUrl,
    pool: true,
    maxConnections: options.maxConnections ?? SMTP_POOL_SIZE,
    maxMessages: Infinity,
    // A relay that stops answering must not hold a chunk (and its claimed
    // rows) for nodemailer's 10-minute default; the failure is retried.
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 120_000,
  } as TransportOptions)
  if (dkim) {
    // Not nodemailer's `dkim` option: it cannot over-sign (see dkim.ts). The
    // same hook nodemailer uses for it, so raw messages and streams are signed alike.
    const signer = new DkimSigner(dkim)
    transport.use('stream', (mail, done) => {
      mail.message.processFunc(signer.stream)
      done()
    })
  }
  return transport
}
