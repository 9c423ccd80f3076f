// Fault: the SMTP relay goes away for 30 s in the middle of a fan-out
// (connections refused), then comes back on the same address. Temporary
// failures are retried on EMAIL_RETRY_SCHEDULE (here every 3 s, 15 times:
// longer than the outage) and every supporter gets the alert.
import tap from 'tap'
import { buildTestApp, startPrivateRedis } from '../helpers/context.js'
import { createPublished } from '../helpers/liaoning.js'
import { startSmtpSink, type SinkMessage } from '../helpers/smtp-sink.js'
import { EMAIL_IN_FLIGHT_PER_WORKER, emailStatus, roleEnv, seedSupporters, startWorkerProcess, tally, until } from './helpers.js'

const SUPPORTERS = 1000
const OUTAGE_MS = 30_000
const SCHEDULE = Array(15).fill('3').join(',') // 45 s of retries > the outage

tap.test(`SMTP relay down for ${OUTAGE_MS / 1000} s mid-fan-out: every supporter reached once it is back`, async (t) => {
  const redis = await startPrivateRedis(t)
  const first = await startSmtpSink(t, { delayMs: 5 })
  const ctx = await buildTestApp(t, { REDIS_URL: redis.url, SMTP_URL: first.url })
  const intended = await seedSupporters(ctx.pool, SUPPORTERS)
  const worker = await startWorkerProcess(t, roleEnv({
    DATABASE_URL: ctx.config.databaseUrl, REDIS_URL: redis.url, SMTP_URL: first.url, EMAIL_RETRY_SCHEDULE: SCHEDULE,
  }))

  await createPublished(ctx)
  await first.waitForCount(Math.round(SUPPORTERS * 0.2), 30_000)
  await first.close() // refused from now on
  const down = Date.now()
  const atOutage = first.messages.length
  await until(async () => ((await emailStatus(ctx.pool)).retrying ?? 0) > 0, 20_000, 'temporary failures recorded')
  const during = await emailStatus(ctx.pool)
  t.comment(`relay down after ${atOutage} mails; rows soon after: ${JSON.stringify(during)}`)
  t.notOk(during.failed, 'no delivery given up on during the outage')

  await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - down))))
  const second = await startSmtpSink(t, { port: first.port })
  const back = Date.now()
  const all = (): SinkMessage[] => [...first.messages, ...second.messages]
  const result = await until(() => {
    const r = tally(all(), intended)
    return r.missing.length === 0 ? r : undefined
  }, 60_000, 'every supporter reached', () => ({ first: first.messages.length, second: second.messages.length }))
  const final = await until(async () => {
    const s = await emailStatus(ctx.pool)
    return s.sent === SUPPORTERS ? s : undefined
  }, 20_000, 'every row recorded as sent')
  t.comment(`relay down ${back - down} ms; everyone reached ${Date.now() - back} ms after it came back; ${result.duplicates} duplicates`)
  t.equal(result.missing.length, 0, 'every supporter got the alert')
  t.equal(result.strays, 0, 'nobody else')
  // Only a message whose data the relay took just as it went down can go twice.
  t.ok(result.duplicates <= EMAIL_IN_FLIGHT_PER_WORKER, `duplicates (${result.duplicates}) no more than one worker has in flight (${EMAIL_IN_FLIGHT_PER_WORKER}: the SMTP pool)`)
  t.same(final, { sent: SUPPORTERS }, 'every row ends sent, none failed')
  t.equal(worker.child.exitCode, null, 'the worker kept running')
})
