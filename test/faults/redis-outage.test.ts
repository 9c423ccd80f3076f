// Fault: Redis dies before an appeal is published. The API still answers
// 2xx (Postgres is the truth: the event waits in the outbox), nothing goes
// out while Redis is away, and once Redis is back — empty, it kept no data —
// the worker relays the event and every partner and supporter hears once.
import tap from 'tap'
import { buildTestApp, startPrivateRedis } from '../helpers/context.js'
import { anAppeal, approve, createDraft } from '../helpers/liaoning.js'
import { startReceiver } from '../helpers/receiver.js'
import { startSmtpSink } from '../helpers/smtp-sink.js'
import { createEndpoint } from '../helpers/webhooks.js'
import { roleEnv, seedSupporters, startWorkerProcess, tally, until } from './helpers.js'

const SUPPORTERS = 500
const PARTNERS = 5

tap.test('Redis killed before a publish: 2xx, then everything delivered once Redis is back', async (t) => {
  const redis = await startPrivateRedis(t)
  const sink = await startSmtpSink(t)
  const receiver = await startReceiver(t)
  const ctx = await buildTestApp(t, { REDIS_URL: redis.url, SMTP_URL: sink.url })
  const intended = await seedSupporters(ctx.pool, SUPPORTERS)
  for (let i = 0; i < PARTNERS; i++) await createEndpoint(ctx, { url: receiver.url(`/partner/${i}`) })
  await startWorkerProcess(t, roleEnv({ DATABASE_URL: ctx.config.databaseUrl, REDIS_URL: redis.url, SMTP_URL: sink.url }))

  const draft = await createDraft(ctx, anAppeal())
  await approve(ctx, draft.id)
  await redis.stop() // SIGKILL: no save, no goodbye
  const published = await ctx.request('editor', 'POST', `/v1/appeals/${draft.id}/publish`)
  t.equal(published.statusCode, 200, `publish answers 200 while Redis is down: ${published.body.slice(0, 200)}`)

  await new Promise((r) => setTimeout(r, 3000))
  const { rows } = await ctx.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE type = 'appeal.published' AND dispatched_at IS NULL`)
  t.equal(rows[0]!.n, 1, 'the event waits in the outbox, undispatched')
  t.equal(sink.messages.length, 0, 'no mail could go out')
  t.equal(receiver.requests.length, 0, 'no webhook could go out')

  const restarted = Date.now()
  await redis.start()
  const mail = await until(() => {
    const r = tally(sink.messages, intended)
    return r.missing.length === 0 && receiver.requests.length >= PARTNERS ? r : undefined
  }, 60_000, 'every supporter and partner reached', () => ({ mails: sink.messages.length, webhooks: receiver.requests.length }))
  t.comment(`all delivered ${Date.now() - restarted} ms after Redis came back`)
  await new Promise((r) => setTimeout(r, 1000))
  t.equal(tally(sink.messages, intended).duplicates, 0, 'no supporter got it twice (nothing was in flight)')
  t.equal(mail.strays, 0, 'nobody else got mail')
  const perPartner = new Map<string, number>()
  for (const r of receiver.requests) perPartner.set(r.path, (perPartner.get(r.path) ?? 0) + 1)
  t.equal(perPartner.size, PARTNERS, 'every partner got the webhook')
  t.ok([...perPartner.values()].every((n) => n === 1), 'each exactly once')
})
