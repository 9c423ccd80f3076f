// The mail to a partner's contact when an endpoint is disabled or recovers
// goes through the email queue: in the organisation's language, with no
// row held locked while SMTP talks, a refused address kept out of the
// logs, and an owed notice whose job was lost sent by the reconciler.
import t from 'tap'
import { pino } from 'pino'
import { Writable } from 'node:stream'
import { createPool } from '../src/db/pool.js'
import { createEmailQueue } from '../src/email/queue.js'
import { WebhookChannel } from '../src/webhooks/channel.js'
import { queueOwedNotices } from '../src/webhooks/notices.js'
import { createWebhookQueue } from '../src/webhooks/queue.js'
import { startDeliveryWorkers } from '../src/delivery/workers.js'
import { buildTestApp, startTestSweeper, type TestApp } from './helpers/context.js'
import { createPublished, expectInvalid, expectStatus, requestWithKey } from './helpers/liaoning.js'
import { startReceiver } from './helpers/receiver.js'
import { startSmtpSink, type SmtpSinkOptions } from './helpers/smtp-sink.js'
import { eventually } from './helpers/webhooks.js'

type Tap = Parameters<Parameters<typeof t.test>[0]>[0]

/** The API, a partner organisation with a contact, its key, an SMTP sink and the worker role, logs captured. */
async function setUp(t: Tap, org: Record<string, unknown>, sinkOptions: SmtpSinkOptions = {}) {
  const sink = await startSmtpSink(t, sinkOptions)
  const ctx = await buildTestApp(t, { SMTP_URL: sink.url, EMAIL_RETRY_SCHEDULE: '1' })
  const created = expectStatus(t, await ctx.request('admin', 'POST', '/v1/organisations', { kind: 'partner', ...org }), 201)
  const { key } = expectStatus(t, await ctx.request('admin', 'POST', '/v1/api-keys', { organisationId: created.id, role: 'partner', name: 'hooks' }), 201)
  const logs: string[] = []
  const logger = pino({ level: 'info' }, new Writable({ write(chunk, _encoding, done) { logs.push(String(chunk)); done() } }))
  await startTestSweeper(t, ctx.config)
  const pool = createPool(ctx.config.databaseUrl, { max: 6 })
  const delivery = await startDeliveryWorkers({ config: ctx.config, pool, logger })
  t.teardown(async () => { await delivery.close(); await pool.end() })
  return { ctx, sink, key, logs }
}

async function goneEndpoint(t: Tap, ctx: TestApp, key: string) {
  const receiver = await startReceiver(t)
  receiver.answer('/gone', { status: 410 })
  return expectStatus(t, await requestWithKey(ctx, key, 'POST', '/v1/webhooks',
    { url: receiver.url('/gone'), eventTypes: ['appeal.published'], description: 'Bureau de Séoul' }), 201)
}

t.test('a disabled endpoint\'s notice: in the organisation\'s language, sent with no row locked', async (t) => {
  // The relay takes 3 s to accept each mail: long enough to look at the endpoint's row while the notice is on the wire.
  const { ctx, sink, key } = await setUp(t, { name: 'Veille Séoul', contactEmail: 'veille@seoul.example', language: 'fr' }, { delayMs: 3000 })
  const endpoint = await goneEndpoint(t, ctx, key)
  await createPublished(ctx)
  await eventually(async () => (await ctx.pool.query(`SELECT 1 FROM webhook_endpoints WHERE id = $1 AND status = 'disabled'`, [endpoint.id])).rowCount === 1,
    10_000, 'the endpoint disabled by its 410')
  await eventually(async () => (await ctx.pool.query(`SELECT notice_pending FROM webhook_endpoints WHERE id = $1`, [endpoint.id])).rows[0]?.notice_pending === 'disabled',
    5000, 'the notice owed')
  await new Promise((resolve) => setTimeout(resolve, 300)) // the notice is on the wire by now (the relay holds it 3 s)
  // While SMTP talks, the endpoint's row is free: a partner can still change it.
  const client = await ctx.pool.connect()
  try {
    await client.query('BEGIN')
    await client.query(`SET LOCAL lock_timeout = '200ms'`)
    const locked = await client.query('SELECT id FROM webhook_endpoints WHERE id = $1 FOR UPDATE', [endpoint.id])
    t.equal(locked.rowCount, 1, 'the endpoint row is not locked while the notice is being sent')
  } finally {
    await client.query('ROLLBACK')
    client.release()
  }
  t.equal(sink.to('veille@seoul.example').length, 0, 'the notice was still on its way at that moment')

  const mail = await (await sink.waitFor('veille@seoul.example', 15_000)).parsed()
  t.equal(mail.subject, `Point de terminaison webhook désactivé : ${endpoint.url}`)
  t.match(mail.text, /Bonjour Veille Séoul,/)
  t.match(mail.text, /Bureau de Séoul/)
  t.match(mail.text, /car il a répondu 410 Gone/)
  t.match(mail.text, new RegExp(`POST /v1/webhooks/${endpoint.id}/recover`))
  t.equal(mail.headers.get('content-language'), 'fr')
  await eventually(async () => (await ctx.pool.query(`SELECT notice_pending FROM webhook_endpoints WHERE id = $1`, [endpoint.id])).rows[0]?.notice_pending === null,
    5000, 'no notice owed any more')
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.equal(sink.to('veille@seoul.example').length, 1, 'sent once')
})

t.test('a contact address the relay refuses is given up, and never written to the logs', async (t) => {
  const { ctx, sink, key, logs } = await setUp(t, { name: 'Gone Desk', contactEmail: 'nobody.here@refused.example' })
  sink.fail('nobody.here@refused.example', 550)
  const endpoint = await goneEndpoint(t, ctx, key)
  await createPublished(ctx)
  await eventually(async () => logs.some((l) => l.includes('webhook notice could not be delivered')), 15_000, 'the refusal logged')
  const line = logs.find((l) => l.includes('webhook notice could not be delivered'))!
  t.match(line, /SMTP 550/, 'the reply code is logged')
  t.notMatch(logs.join('\n'), /nobody\.here|refused\.example/, 'the address is in no log line')
  await eventually(async () => (await ctx.pool.query(`SELECT notice_pending FROM webhook_endpoints WHERE id = $1`, [endpoint.id])).rows[0]?.notice_pending === null,
    5000, 'the notice given up, not retried forever')
  t.equal(sink.rejections.filter((r) => r.address === 'nobody.here@refused.example').length, 1, 'the relay was asked once')
})

t.test('an owed notice whose job was lost is sent by the reconciler', async (t) => {
  const { ctx, sink, key } = await setUp(t, { name: 'Reconciled Desk', contactEmail: 'old@reconciled.example' })
  // An admin changes the organisation's contact and language.
  const { rows: [org] } = await ctx.pool.query<{ id: string }>(`SELECT id FROM organisations WHERE name = 'Reconciled Desk'`)
  expectInvalid(t, await ctx.request('admin', 'PATCH', `/v1/organisations/${org!.id}`, { language: 'xx-nonsense' }), '/language')
  t.equal((await ctx.request('editor', 'PATCH', `/v1/organisations/${org!.id}`, { language: 'ko' })).statusCode, 403, 'admins only')
  const patched = expectStatus(t, await ctx.request('admin', 'PATCH', `/v1/organisations/${org!.id}`, { contactEmail: 'ops@reconciled.example', language: 'ko-kr' }), 200)
  t.match(patched, { contactEmail: 'ops@reconciled.example', language: 'ko-KR' })
  const receiver = await startReceiver(t)
  const endpoint = expectStatus(t, await requestWithKey(ctx, key, 'POST', '/v1/webhooks', { url: receiver.url('/fine'), eventTypes: ['appeal.published'] }), 201)
  // As if the worker had set the flag and then lost the job (Redis flushed).
  await ctx.pool.query(`UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = 'failing', disabled_at = now(), notice_pending = 'disabled' WHERE id = $1`, [endpoint.id])
  // The reconciler's webhook sweep, run now rather than at its next tick (every 10 s); either way it is this code that runs.
  const emailQueue = createEmailQueue(ctx.redis, ctx.config.queuePrefix)
  const webhookQueue = createWebhookQueue(ctx.redis, ctx.config.queuePrefix)
  t.teardown(async () => { await emailQueue.close(); await webhookQueue.close() })
  const channel = new WebhookChannel({
    pool: ctx.pool, config: ctx.config, queue: webhookQueue,
    queueNotices: () => queueOwedNotices(ctx.pool, emailQueue, ctx.config.email.retryScheduleSeconds),
  })
  await channel.reconcile()
  const mail = await (await sink.waitFor('ops@reconciled.example', 20_000)).parsed()
  t.equal(mail.subject, `웹훅 엔드포인트 비활성화됨: ${endpoint.url}`)
  t.match(mail.text, /너무 오랫동안 모두 실패했기 때문에/)
  t.equal(sink.to('old@reconciled.example').length, 0, 'the new contact, not the old one')
})
