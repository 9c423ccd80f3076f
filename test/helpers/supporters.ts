// Helpers shared by the supporter test files: the API plus the worker
// pieces that move mail (outbox relay, fan-out, email queue) pointed at a
// real SMTP sink, and the supporter's own steps (subscribe, read the
// confirmation mail, confirm) done the way a person would.
import { pino } from 'pino'
import type { Env } from '../../src/config.js'
import { createPool } from '../../src/db/pool.js'
import { startDeliveryWorkers, type RunningDelivery } from '../../src/delivery/workers.js'
import { buildTestApp, startTestWorker, type TestApp, type TestWorker } from './context.js'
import { startSmtpSink, type SinkMessage, type SmtpSink, type SmtpSinkOptions } from './smtp-sink.js'
import type { Tap } from './liaoning.js'

export interface SupporterStack extends TestApp {
  sink: SmtpSink
  relay: TestWorker
  delivery: RunningDelivery
}

/** Public requests in these tests far exceed 60 a minute; the rate-limit test sets its own. */
export const GENEROUS_RATE_LIMIT = { PUBLIC_RATE_LIMIT: '100000' }

export async function startSupporterStack(t: Tap, overrides: Partial<Env> = {}, sinkOptions: SmtpSinkOptions = {}): Promise<SupporterStack> {
  const sink = await startSmtpSink(t, sinkOptions)
  const ctx = await buildTestApp(t, { ...GENEROUS_RATE_LIMIT, EMAIL_RETRY_SCHEDULE: '1,1', ...overrides, SMTP_URL: sink.url })
  const relay = await startTestWorker(t, ctx.config)
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
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Email delivery counts of one appeal by status, from the progress endpoint. */
export async function emailProgress(stack: SupporterStack, appealId: string): Promise<Record<string, number>> {
  const res = await stack.request('editor', 'GET', `/v1/appeals/${appealId}/deliveries`)
  if (res.statusCode !== 200) throw new Error(`progress: ${res.statusCode} ${res.body}`)
  return res.json().channels.email
}
