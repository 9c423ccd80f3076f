// Fault: the worker is killed with SIGKILL at about 30 % of a 5 000-supporter
// fan-out, then a new worker starts. Every supporter still gets the alert;
// duplicates come only from what the dead worker had claimed and not yet
// recorded (BullMQ hands its stalled chunks to the new worker, which makes
// their `sending` rows due again).
import tap from 'tap'
import { buildTestApp, startPrivateRedis } from '../helpers/context.js'
import { createPublished } from '../helpers/liaoning.js'
import { startSmtpSink } from '../helpers/smtp-sink.js'
import { EMAIL_IN_FLIGHT_PER_WORKER, emailStatus, killHard, roleEnv, seedSupporters, startWorkerProcess, tally, until } from './helpers.js'

const N = 5000

tap.test(`kill -9 of the worker at ~30 % of a ${N}-supporter fan-out loses nobody`, async (t) => {
  const redis = await startPrivateRedis(t)
  const sink = await startSmtpSink(t)
  const ctx = await buildTestApp(t, { REDIS_URL: redis.url, SMTP_URL: sink.url })
  const intended = await seedSupporters(ctx.pool, N)
  const env = roleEnv({ DATABASE_URL: ctx.config.databaseUrl, REDIS_URL: redis.url, SMTP_URL: sink.url })
  const first = await startWorkerProcess(t, env)

  const started = Date.now()
  await createPublished(ctx)
  await sink.waitForCount(Math.round(N * 0.3), 60_000)
  await killHard(first)
  const atKill = sink.messages.length
  const rows = await emailStatus(ctx.pool)
  t.comment(`killed at ${atKill} mails (${Date.now() - started} ms after publishing); rows then: ${JSON.stringify(rows)}`)
  t.ok(atKill < N, 'the fan-out was still running when the worker died')

  const second = await startWorkerProcess(t, env)
  const result = await until(() => {
    const r = tally(sink.messages, intended)
    return r.missing.length === 0 ? r : undefined
  }, 120_000, 'every supporter reached', () => ({ ...tally(sink.messages, intended), missing: tally(sink.messages, intended).missing.length }))
  const final = await until(async () => {
    const s = await emailStatus(ctx.pool)
    return s.sent === N ? s : undefined
  }, 30_000, 'every row recorded as sent', () => null)
  t.comment(`all ${N} reached ${Date.now() - started} ms after publishing; ${result.duplicates} duplicate copies to ${result.duplicated} supporters`)
  t.equal(result.missing.length, 0, 'every intended supporter got the alert at least once')
  t.equal(result.strays, 0, 'nobody else got it')
  t.ok(result.duplicates <= EMAIL_IN_FLIGHT_PER_WORKER,
    `duplicates (${result.duplicates}) bounded by what one worker holds in flight (${EMAIL_IN_FLIGHT_PER_WORKER})`)
  t.same(final, { sent: N }, 'every delivery row ends sent')
  await killHard(second)
})
