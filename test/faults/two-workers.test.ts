// Two `worker` processes at once on the same Postgres and Redis: one fan-out
// per event (job ids and the unique key make a second a no-op), and every
// delivery is claimed by one of them only — no supporter or partner hears twice.
import tap from 'tap'
import { buildTestApp, startPrivateRedis } from '../helpers/context.js'
import { createPublished } from '../helpers/liaoning.js'
import { startReceiver } from '../helpers/receiver.js'
import { startSmtpSink } from '../helpers/smtp-sink.js'
import { createEndpoint } from '../helpers/webhooks.js'
import { roleEnv, seedSupporters, startWorkerProcess, tally, until } from './helpers.js'

const SUPPORTERS = 3000
const PARTNERS = 20

tap.test('two workers at once: no double fan-out, no double delivery', async (t) => {
  const redis = await startPrivateRedis(t)
  const sink = await startSmtpSink(t)
  const receiver = await startReceiver(t)
  const ctx = await buildTestApp(t, { REDIS_URL: redis.url, SMTP_URL: sink.url })
  const intended = await seedSupporters(ctx.pool, SUPPORTERS)
  for (let i = 0; i < PARTNERS; i++) await createEndpoint(ctx, { url: receiver.url(`/partner/${i}`) })
  const env = roleEnv({ DATABASE_URL: ctx.config.databaseUrl, REDIS_URL: redis.url, SMTP_URL: sink.url })
  await Promise.all([startWorkerProcess(t, env), startWorkerProcess(t, env)])

  const started = Date.now()
  const appeals = [await createPublished(ctx), await createPublished(ctx)]
  const expectedMails = SUPPORTERS * appeals.length
  await until(() => sink.messages.length >= expectedMails && receiver.requests.length >= PARTNERS * appeals.length,
    90_000, 'both appeals delivered', () => ({ mails: sink.messages.length, webhooks: receiver.requests.length }))
  t.comment(`${expectedMails} mails and ${receiver.requests.length} webhooks in ${Date.now() - started} ms`)
  await new Promise((r) => setTimeout(r, 1500)) // anything doubled would arrive now

  const perMail = new Map<string, number>()
  for (const m of sink.messages) {
    const id = m.raw.toString('latin1').match(/^Message-ID:\s*(\S+)/im)?.[1] ?? ''
    perMail.set(id, (perMail.get(id) ?? 0) + 1)
  }
  t.equal(sink.messages.length, expectedMails, 'exactly one mail per supporter per appeal')
  t.equal(perMail.size, expectedMails, 'no Message-ID twice')
  t.equal(tally(sink.messages, intended).missing.length, 0, 'every supporter reached')
  const perWebhook = new Map<string, number>()
  for (const r of receiver.requests) perWebhook.set(`${r.path} ${String(r.headers['webhook-id'])}`, (perWebhook.get(`${r.path} ${String(r.headers['webhook-id'])}`) ?? 0) + 1)
  t.equal(perWebhook.size, PARTNERS * appeals.length, 'every partner got both appeals')
  t.ok([...perWebhook.values()].every((n) => n === 1), 'each exactly once')
  const { rows } = await ctx.pool.query<{ channel: string; n: number; attempts: number; not_done: number }>(
    `SELECT channel, count(*)::int AS n, max(attempts)::int AS attempts,
            count(*) FILTER (WHERE status NOT IN ('sent', 'delivered'))::int AS not_done
       FROM deliveries GROUP BY channel ORDER BY channel`)
  t.same(rows, [
    { channel: 'email', n: expectedMails, attempts: 1, not_done: 0 },
    { channel: 'webhook', n: PARTNERS * appeals.length, attempts: 1, not_done: 0 },
  ], 'one delivery row per recipient and event, each attempted once')
})
