// Helpers shared by the supporter test files: the API plus the worker
// pieces that move mail (outbox relay, fan-out, email queue) pointed at a
// real SMTP sink, and the supporter's own steps (subscribe, read the
// confirmation mail, confirm) done the way a person would.
import { createHash, createVerify } from 'node:crypto'
import { pino } from 'pino'
import type { Env } from '../../src/config.js'
import { createPool } from '../../src/db/pool.js'
import { startDeliveryWorkers, type RunningDelivery } from '../../src/delivery/workers.js'
import { deriveToken, emailHash, newNonce, tokenHash } from '../../src/lib/supporter-tokens.js'
import { buildTestApp, startTestSweeper, type TestApp, type TestSweeper } from './context.js'
import { startSmtpSink, type SinkMessage, type SmtpSink, type SmtpSinkOptions } from './smtp-sink.js'
import type { Tap } from './liaoning.js'
import { eventually as poll } from './eventually.js'

export interface SupporterStack extends TestApp {
  sink: SmtpSink
  relay: TestSweeper
  delivery: RunningDelivery
}

/** Public requests in these tests far exceed 60 a minute; the rate-limit test sets its own. */
export const GENEROUS_RATE_LIMIT = { PUBLIC_RATE_LIMIT: '100000' }

export async function startSupporterStack(t: Tap, overrides: Partial<Env> = {}, sinkOptions: SmtpSinkOptions = {}): Promise<SupporterStack> {
  const sink = await startSmtpSink(t, sinkOptions)
  const ctx = await buildTestApp(t, { ...GENEROUS_RATE_LIMIT, EMAIL_RETRY_SCHEDULE: '1,1', ...overrides, SMTP_URL: sink.url })
  const relay = await startTestSweeper(t, ctx.config)
  const pool = createPool(ctx.config.databaseUrl, { max: 6, applicationName: 'urgent-appeals-test-delivery' })
  const delivery = await startDeliveryWorkers({ config: ctx.config, pool, logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) })
  t.teardown(async () => {
    await delivery.close()
    await pool.end()
  })
  return { ...ctx, sink, relay, delivery }
}

/** The links of a mail's text part, in order. */
export async function linksIn(message: SinkMessage): Promise<string[]> {
  const parsed = await message.parsed()
  return [...(parsed.text ?? '').matchAll(/https?:\/\/[^\s<>]+/g)].map((m) => m[0])
}

/** `http://localhost:3000/subscriptions/confirm/abc` → `/subscriptions/confirm/abc`. */
export const pathOf = (url: string) => new URL(url).pathname

export async function confirmationLink(sink: SmtpSink, email: string): Promise<string> {
  const mail = await sink.waitFor(email)
  const link = (await linksIn(mail)).find((l) => l.includes('/subscriptions/confirm/'))
  if (!link) throw new Error('no confirmation link in the mail')
  return pathOf(link.replace(/#.*$/, ''))
}

export interface Subscribed { email: string; confirmPath: string; manageToken: string }

/** Subscribes, confirms through the mailed link, returns the management token. */
export async function subscribeAndConfirm(stack: SupporterStack, email: string, preferences: Record<string, unknown> = {}): Promise<Subscribed> {
  const res = await stack.request(null, 'POST', '/v1/subscriptions', { email, ...preferences })
  if (res.statusCode !== 202) throw new Error(`subscribe: ${res.statusCode} ${res.body}`)
  const confirmPath = await confirmationLink(stack.sink, email)
  const confirmed = await stack.request(null, 'POST', confirmPath, undefined, { accept: 'application/json' })
  if (confirmed.statusCode !== 200) throw new Error(`confirm: ${confirmed.statusCode} ${confirmed.body}`)
  const manageToken = pathOf(confirmed.json().preferencesUrl).split('/').pop()!
  return { email, confirmPath, manageToken }
}

/** Waits until `check` holds (polling the database or the sink), at most `timeoutMs`. */
export const eventually = <T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 15_000, what = 'condition') =>
  poll(check, timeoutMs, what, { intervalMs: 100 })

/** Email delivery counts of one appeal by status, from the progress endpoint. */
export async function emailProgress(stack: SupporterStack, appealId: string): Promise<Record<string, number>> {
  const res = await stack.request('editor', 'GET', `/v1/appeals/${appealId}/deliveries`)
  if (res.statusCode !== 200) throw new Error(`progress: ${res.statusCode} ${res.body}`)
  return res.json().channels.email
}

/**
 * Active supporters written straight into the database (one INSERT … SELECT
 * over arrays), each with a real management token, for fan-out tests that
 * need hundreds of recipients without hundreds of opt-in round trips.
 */
export async function seedActiveSubscribers(
  stack: Pick<SupporterStack, 'pool' | 'config'>, emails: string[], filters: { language?: string; countries?: string[] } = {},
): Promise<Map<string, string>> {
  const key = stack.config.secretsKey
  const tokens = new Map<string, string>()
  const nonces: Buffer[] = []
  const hashes: Buffer[] = []
  const emailHashes: Buffer[] = []
  for (const email of emails) {
    const nonce = newNonce()
    const token = deriveToken(key, 'manage', nonce)
    tokens.set(email, token)
    nonces.push(nonce)
    hashes.push(tokenHash(key, 'manage', token))
    emailHashes.push(emailHash(key, email))
  }
  await stack.pool.query(
    `INSERT INTO subscriptions (email, email_hash, language, countries, status, manage_nonce, manage_token_hash, confirmed_at)
     SELECT e, h, $5, $6, 'active', n, m, now() FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::bytea[]) WITH ORDINALITY AS u(e, h, n, m, i)
      ORDER BY i`,
    [emails, emailHashes, nonces, hashes, filters.language ?? 'en', filters.countries ?? []])
  return tokens
}

/**
 * Verifies the DKIM-Signature of a raw message (rsa-sha256, relaxed/relaxed,
 * as src/email/dkim.ts signs) against a public key: body hash and signature.
 */
export function verifyDkim(raw: Buffer, publicKey: string): { ok: boolean; tags: Record<string, string>; reason?: string } {
  const text = raw.toString('binary')
  const split = text.indexOf('\r\n\r\n')
  const headerLines = text.slice(0, split + 2).split(/\r\n(?![ \t])/).filter(Boolean)
  const body = text.slice(split + 4)
  const signatureLine = headerLines.find((h) => /^dkim-signature:/i.test(h))
  if (!signatureLine) return { ok: false, tags: {}, reason: 'no DKIM-Signature' }
  const tags = Object.fromEntries(signatureLine.slice(signatureLine.indexOf(':') + 1).replace(/\s+/g, '').split(';').filter(Boolean)
    .map((tag) => [tag.slice(0, tag.indexOf('=')), tag.slice(tag.indexOf('=') + 1)]))
  const relaxedBody = body.split('\r\n').map((l) => l.replace(/[ \t]+/g, ' ').replace(/ $/, '')).join('\r\n').replace(/(\r\n)*$/, '') + '\r\n'
  const bh = createHash('sha256').update(Buffer.from(relaxedBody, 'binary')).digest('base64')
  if (bh !== tags.bh) return { ok: false, tags, reason: 'body hash mismatch' }
  const relaxedHeader = (line: string) => {
    const colon = line.indexOf(':')
    return `${line.slice(0, colon).trim().toLowerCase()}:${line.slice(colon + 1).replace(/\r\n/g, '').replace(/[ \t]+/g, ' ').trim()}`
  }
  // Each name in h= takes the next instance from the bottom; a name listed once more than it occurs (over-signing) adds nothing.
  const unused = [...headerLines]
  const signed = (tags.h ?? '').split(':').map((name) => {
    const at = unused.findLastIndex((h) => h.toLowerCase().startsWith(`${name.toLowerCase()}:`))
    return at === -1 ? undefined : unused.splice(at, 1)[0]
  }).filter((h): h is string => h !== undefined).map((h) => `${relaxedHeader(h)}\r\n`).join('')
  const ownHeader = relaxedHeader(signatureLine).replace(/([;:]\s*b=)[^;]*/, '$1')
  const data = signed + ownHeader
  const ok = createVerify('RSA-SHA256').update(Buffer.from(data, 'binary')).verify(publicKey, tags.b ?? '', 'base64')
  return { ok, tags, ...(ok ? {} : { reason: 'signature mismatch' }) }
}
