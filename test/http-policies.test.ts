import t from 'tap'
import { buildTestApp } from './helpers/context.js'
import { liaoningAppeal } from './helpers/liaoning.js'

t.test('keyless requests share one budget per client address; keys and ops endpoints are not counted', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_RATE_LIMIT: '4' })
  const appeal = (await ctx.request('editor', 'POST', '/v1/appeals', liaoningAppeal())).json()
  await ctx.request('editor', 'POST', `/v1/appeals/${appeal.id}/publish`)

  // Public appeal reads and supporter routes draw from the same budget.
  const statuses = []
  for (const url of ['/v1/appeals', `/v1/appeals/${appeal.id}`, '/v1/appeals?country=CN', '/subscriptions/not-a-token']) {
    statuses.push((await ctx.request(null, 'GET', url, undefined, { accept: 'application/json' })).statusCode)
  }
  t.notOk(statuses.includes(429), `the first four keyless requests pass (${statuses.join(', ')})`)

  const limited = await ctx.request(null, 'GET', '/v1/appeals')
  t.equal(limited.statusCode, 429)
  t.match(limited.headers['content-type'], /application\/problem\+json/)
  t.equal(limited.json().type, '/problems/rate-limited')
  t.ok(Number(limited.headers['retry-after']) >= 1, 'Retry-After tells when to come back')

  const otherClient = await ctx.app.inject({ method: 'GET', url: '/v1/appeals', remoteAddress: '192.0.2.7' })
  t.equal(otherClient.statusCode, 200, 'another address has its own budget')

  t.equal((await ctx.request('partner', 'GET', '/v1/appeals')).statusCode, 200, 'a keyed caller is not limited by the public budget')
  t.equal((await ctx.request(null, 'GET', '/healthz')).statusCode, 200, 'health checks are never limited')
  t.equal((await ctx.request(null, 'GET', '/metrics')).statusCode, 200, 'metrics scrapes are never limited')
})

t.test('a text/plain body is refused with 415 on JSON endpoints', async (t) => {
  const ctx = await buildTestApp(t)
  const res = await ctx.request('admin', 'POST', '/v1/organisations', 'name=x', { 'content-type': 'text/plain' })
  t.equal(res.statusCode, 415)
  t.equal(res.json().type, '/problems/unsupported-media-type')
})

t.test('the router\'s own rejections are problem documents too', async (t) => {
  const ctx = await buildTestApp(t)
  const badEncoding = await ctx.request(null, 'GET', '/v1/appeals/%E0%A4%A')
  t.equal(badEncoding.statusCode, 400)
  t.match(badEncoding.headers['content-type'], /application\/problem\+json/)
  t.equal(badEncoding.json().type, '/problems/malformed-url')

  const tooLong = await ctx.request(null, 'GET', `/v1/appeals/${'a'.repeat(600)}`)
  t.equal(tooLong.statusCode, 414)
  t.equal(tooLong.json().type, '/problems/uri-too-long')
  t.equal(tooLong.json().status, 414)
})
