// The SSRF guard with WEBHOOK_ALLOW_PRIVATE_NETWORKS=false, as in
// production: every loopback form is refused at registration (400) and,
// for endpoints registered before (or whose DNS changed since), at each
// delivery (`blocked`) — and the loopback receiver never sees a connection.
import tap from 'tap'
import { pino } from 'pino'
import { buildApp } from '../src/app.js'
import type { Config } from '../src/config.js'
import { WebhookHttpClient } from '../src/webhooks/http-client.js'
import { buildTestApp } from './helpers/context.js'
import { createPublished, expectInvalid, expectStatus } from './helpers/liaoning.js'
import { startReceiver } from './helpers/receiver.js'
import { createEndpoint, deliveriesOf, eventually, startDelivery } from './helpers/webhooks.js'

const loopbackForms = (port: number) => [
  `https://127.0.0.1:${port}/x`, `https://localhost:${port}/x`, `https://2130706433:${port}/x`, `https://0x7f.0.0.1:${port}/x`,
  `https://0177.0.0.1:${port}/x`, `https://127.1:${port}/x`, `https://[::1]:${port}/x`, `https://[::ffff:127.0.0.1]:${port}/x`,
  `https://[::ffff:7f00:1]:${port}/x`, `https://[64:ff9b::7f00:1]:${port}/x`, `https://[2002:7f00:1::]:${port}/x`,
  `https://[::127.0.0.1]:${port}/x`, `https://0.0.0.0:${port}/x`,
]

const guarded = (config: Readonly<Config>): Readonly<Config> =>
  Object.freeze({ ...config, webhook: { ...config.webhook, allowPrivateNetworks: false } })

tap.test('registration refuses every loopback form, plain http and credentials, without connecting', async (t) => {
  const ctx = await buildTestApp(t, { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false' })
  const receiver = await startReceiver(t)
  for (const url of [...loopbackForms(receiver.port), `http://8.8.8.8/x`, `https://u:p@8.8.8.8/x`]) {
    const problem = expectInvalid(t, await ctx.request('partner', 'POST', '/v1/webhooks', { url, eventTypes: ['appeal.published'] }), '/url')
    t.comment(`${url}: ${problem.errors[0].message}`)
  }
  t.equal(receiver.connections(), 0, 'the receiver saw no connection')
})

tap.test('delivery refuses every loopback form at connect time: attempts are `blocked`, nothing connects', async (t) => {
  // Registered while private networks were allowed (on-prem), then the guard is switched on.
  const ctx = await buildTestApp(t)
  const receiver = await startReceiver(t)
  const forms = loopbackForms(receiver.port)
  const endpoints = []
  for (const url of forms) endpoints.push(await createEndpoint(ctx, { url }))
  await startDelivery(t, guarded(ctx.config))
  await createPublished(ctx)
  for (const [i, endpoint] of endpoints.entries()) {
    const d = await eventually(async () => {
      const [x] = await deliveriesOf(ctx, endpoint.id)
      return x?.attempts.length ? x : null
    }, 10_000, `an attempt to ${forms[i]!}`)
    t.match(d.attempts[0], { errorClass: 'blocked', statusCode: null, address: null }, forms[i]!)
    t.match(d.attempts[0].error, /refused to connect to .* \((loopback|unspecified|reserved) address\)/)
  }

  // The test ping takes the same path from the API.
  const api = await buildApp({ config: guarded(ctx.config), pool: ctx.pool, redis: ctx.redis, logger: pino({ level: 'silent' }) })
  t.teardown(() => api.close())
  const ping = await api.inject({ method: 'POST', url: `/v1/webhooks/${endpoints[1].id}/test`, headers: { authorization: `Bearer ${ctx.keys.partner}` } })
  t.match(expectStatus(t, ping, 200), { trigger: 'test', errorClass: 'blocked', statusCode: null })
  t.equal(receiver.connections(), 0, 'the receiver saw no connection at all')
})

tap.test('the HTTP client itself: guard on refuses before connecting; guard off reaches the same receiver', async (t) => {
  const receiver = await startReceiver(t)
  const on = new WebhookHttpClient({ allowPrivateNetworks: false, timeoutMs: 2000 })
  const off = new WebhookHttpClient({ allowPrivateNetworks: true, timeoutMs: 2000 })
  t.teardown(async () => { await on.close(); await off.close() })
  const body = Buffer.from('{}')
  for (const url of loopbackForms(receiver.port).map((u) => u.replace('https:', 'http:'))) {
    const result = await on.post(url, { 'webhook-signature': `v1,${url}` }, body)
    t.match(result, { ok: false, errorClass: 'blocked', statusCode: null }, url)
  }
  t.equal(receiver.connections(), 0, 'no connection while the guard is on')
  const reached = await off.post(receiver.url('/control'), {}, body)
  t.match(reached, { ok: true, statusCode: 204, address: '127.0.0.1' }, 'the peer is recorded for any request that connected')
  t.equal(receiver.connections(), 1, 'the control request did connect: the receiver was reachable all along')
})
