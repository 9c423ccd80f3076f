// Whom the public rate limit counts (issue 9): behind a reverse proxy the
// client, not the proxy — but only when TRUST_PROXY names that proxy, so a
// client can never forge its way out of the limit with X-Forwarded-For; and
// every request to the supporter endpoints, with an API key or without,
// while keyed reads of public appeals stay uncounted.
import tap from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { buildTestApp, type TestApp } from './helpers/context.js'
import { expectProblem } from './helpers/liaoning.js'

const PROXY = '10.0.0.5'

/** A keyless public read as it arrives from `peer`, optionally with X-Forwarded-For. */
const read = (ctx: TestApp, peer: string, forwardedFor?: string): Promise<LightMyRequestResponse> => ctx.app.inject({
  method: 'GET', url: '/v1/appeals', remoteAddress: peer, ...(forwardedFor ? { headers: { 'x-forwarded-for': forwardedFor } } : {}),
})
const statuses = async (requests: (() => Promise<LightMyRequestResponse>)[]) => {
  const out: number[] = []
  for (const request of requests) out.push((await request()).statusCode)
  return out
}

tap.test('by default X-Forwarded-For is ignored: everyone behind one proxy shares its budget, and forging the header does not help', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_RATE_LIMIT: '2' })
  t.same(await statuses([
    () => read(ctx, PROXY, '203.0.113.1'), () => read(ctx, PROXY, '203.0.113.2'), () => read(ctx, PROXY, '203.0.113.3'),
  ]), [200, 200, 429], 'three "clients" through one proxy: the third is refused')
  t.same(await statuses([() => read(ctx, '198.51.100.9'), () => read(ctx, '198.51.100.9', '192.0.2.1'), () => read(ctx, '198.51.100.9', '192.0.2.2')]),
    [200, 200, 429], 'a direct client that makes up a new X-Forwarded-For each time is still counted as itself')
})

tap.test('TRUST_PROXY set to the proxy: the limit is per client address from X-Forwarded-For', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_RATE_LIMIT: '2', TRUST_PROXY: PROXY })
  t.same(await statuses([() => read(ctx, PROXY, '203.0.113.1'), () => read(ctx, PROXY, '203.0.113.1'), () => read(ctx, PROXY, '203.0.113.1')]),
    [200, 200, 429], 'one client through the proxy: its own budget of two')
  const limited = await read(ctx, PROXY, '203.0.113.1')
  expectProblem(t, limited, 429, 'rate-limited')
  t.ok(Number(limited.headers['retry-after']) >= 1, 'with Retry-After')
  t.same(await statuses([() => read(ctx, PROXY, '203.0.113.2'), () => read(ctx, PROXY, '203.0.113.2')]), [200, 200],
    'another client through the same proxy is not affected')

  // The proxy appends the address it saw; whatever the client wrote before it is not believed.
  t.same(await statuses([() => read(ctx, PROXY, '192.0.2.50, 203.0.113.1'), () => read(ctx, PROXY, '192.0.2.51, 203.0.113.1')]), [429, 429],
    'a limited client cannot escape by prepending forged addresses')

  // A peer that is not the trusted proxy is counted by its socket address, whatever it claims.
  t.same(await statuses([
    () => read(ctx, '198.51.100.9', '203.0.113.77'), () => read(ctx, '198.51.100.9', '203.0.113.78'), () => read(ctx, '198.51.100.9', '203.0.113.79'),
  ]), [200, 200, 429], 'an untrusted peer carrying X-Forwarded-For: its own address is counted')
  t.equal((await read(ctx, PROXY, '203.0.113.77')).statusCode, 200, 'and the address it named was never charged')
})

tap.test('an API key does not lift the supporter endpoints\' limit; it still lifts the public appeal reads\'', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_RATE_LIMIT: '3' })
  const keyed = (method: 'GET' | 'POST', url: string, payload?: object) => ctx.app.inject({
    method, url, remoteAddress: '203.0.113.20', headers: { authorization: `Bearer ${ctx.keys.partner}`, accept: 'application/json' },
    ...(payload ? { payload } : {}),
  })
  t.same(await statuses([
    () => keyed('POST', '/v1/subscriptions', { email: 'someone@example.org' }),
    () => keyed('GET', '/v1/subscriptions/not-a-token'),
    () => keyed('POST', '/subscriptions/not-a-token/unsubscribe'),
  ]).then((s) => s.map((status) => status === 429)), [false, false, false], 'three keyed supporter requests pass')
  for (const [method, url, payload] of [
    ['POST', '/v1/subscriptions', { email: 'someone@example.org' }], ['GET', '/v1/subscriptions/not-a-token'],
    ['GET', '/subscriptions/not-a-token'], ['POST', '/subscriptions/not-a-token/unsubscribe'],
  ] as const) {
    expectProblem(t, await keyed(method, url, payload), 429, 'rate-limited')
  }
  t.equal((await keyed('GET', '/v1/appeals')).statusCode, 200, 'a keyed public read is not counted')
  t.equal((await read(ctx, '203.0.113.20')).statusCode, 429, 'a keyless read from that address shares the exhausted budget')
  t.equal((await ctx.request(null, 'POST', '/v1/subscriptions', { email: 'other@example.org' })).statusCode, 202,
    'another address is not affected')
})
