// Measures supporter email throughput on this machine, same run, same sink:
//   1. raw nodemailer: a pooled transport (5 connections) composing every
//      message from html + text + headers, as an application would;
//   2. our fan-out: publish an appeal to N seeded supporters and time it
//      until the sink has accepted N mails (outbox relay, fan-out, chunk
//      jobs, claims, one render per language, outcomes written in batches).
// The SMTP sink runs in a child process. Postgres and Redis are started
// here (or taken from TEST_DATABASE_URL / TEST_REDIS_URL).
//   npx tsx bench/email-fanout.ts [N=10000]
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import nodemailer from 'nodemailer'
import { buildTestApp, startTestWorker } from '../test/helpers/context.js'
import { createPublished } from '../test/helpers/liaoning.js'
import { createPool } from '../src/db/pool.js'
import { startDeliveryWorkers } from '../src/delivery/workers.js'
import { pino } from 'pino'
import { renderAlert } from '../src/email/alert-message.js'

const N = Number(process.argv[2] ?? 10_000)
const teardowns: (() => unknown)[] = []
const t = { teardown: (fn: () => unknown) => { teardowns.push(fn) } }

function ask(child: ChildProcess, type: string): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (m: { count: number }) => resolve(m.count))
    child.send({ type })
  })
}

async function waitForCount(child: ChildProcess, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await ask(child, 'count') >= n) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`sink did not reach ${n} within ${timeoutMs} ms`)
}

async function main() {
  const sink = fork(fileURLToPath(new URL('./smtp-counter.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'] })
  const port = await new Promise<number>((resolve) => sink.once('message', (m: { port: number }) => resolve(m.port)))
  teardowns.push(() => new Promise((resolve) => { sink.once('exit', resolve); sink.send({ type: 'close' }) }))
  const smtpUrl = `smtp://127.0.0.1:${port}`

  const ctx = await buildTestApp(t, { SMTP_URL: smtpUrl, PUBLIC_RATE_LIMIT: '100000' })

  // 1. Raw nodemailer, composing each message (same content as an alert).
  const sample = renderAlert({ type: 'appeal.published', data: { appeal: (await createPublished(ctx)) } }, 'en', { listId: 'alerts.localhost' })
  const transport = nodemailer.createTransport({ url: smtpUrl, pool: true, maxConnections: 5, maxMessages: Infinity })
  const rawStarted = Date.now()
  let next = 0
  await Promise.all(Array.from({ length: 50 }, async () => {
    while (next < N) {
      const i = next++
      const link = `http://localhost:3000/subscriptions/token${i}`
      await transport.sendMail({
        from: ctx.config.mailFrom, to: `raw${i}@example.org`, subject: sample.subject,
        text: sample.spec.text.replace(/\u0000\w+\u0000/g, link), html: sample.spec.html.replace(/\u0000\w+\u0000/g, link),
        headers: { ...sample.spec.headers, 'List-Unsubscribe': `<${link}/unsubscribe>` },
      })
    }
  }))
  const rawSeconds = (Date.now() - rawStarted) / 1000
  transport.close()
  await waitForCount(sink, N + 0, 10_000)
  await ask(sink, 'reset')

  // 2. The real fan-out.
  await ctx.pool.query(
    `INSERT INTO subscriptions (email, email_hash, language, countries, status, manage_nonce, manage_token_hash, confirmed_at)
     SELECT 'supporter' || i || '@example.org', sha256(convert_to('e' || i, 'UTF8')),
            (ARRAY['en', 'fr', 'es', 'ko', 'zh-Hans'])[1 + i % 5], '{}', 'active',
            sha256(convert_to('n' || i, 'UTF8')), sha256(convert_to('m' || i, 'UTF8')), now()
       FROM generate_series(1, $1) AS i`, [N])
  await startTestWorker(t, ctx.config)
  const pool = createPool(ctx.config.databaseUrl, { max: 6 })
  const delivery = await startDeliveryWorkers({ config: ctx.config, pool, logger: pino({ level: 'warn' }) })
  teardowns.push(async () => { await delivery.close(); await pool.end() })
  const memoryBefore = process.memoryUsage().rss
  const started = Date.now()
  await createPublished(ctx)
  await waitForCount(sink, N, 300_000)
  const fanoutSeconds = (Date.now() - started) / 1000
  const memoryAfter = process.memoryUsage().rss

  console.log(JSON.stringify({
    recipients: N,
    rawNodemailer: { seconds: rawSeconds, perSecond: Math.round(N / rawSeconds) },
    fanout: { seconds: fanoutSeconds, perSecond: Math.round(N / fanoutSeconds), rssGrowthMB: Math.round((memoryAfter - memoryBefore) / 1e6) },
  }, null, 2))
}

main().then(async () => {
  for (const fn of teardowns.reverse()) await fn()
  process.exit(0)
}, async (error) => {
  console.error(error)
  for (const fn of teardowns.reverse()) await Promise.resolve(fn()).catch(() => {})
  process.exit(1)
})
