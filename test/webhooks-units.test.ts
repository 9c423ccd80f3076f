// Unit tests of the pure webhook parts: the SSRF address classifier,
// Standard Webhooks signing (checked by the standardwebhooks package),
// secrets at rest, the retry schedule and the registration URL policy.
import { randomBytes } from 'node:crypto'
import tap from 'tap'
import { Webhook } from 'standardwebhooks'
import { classifyAddress, parseIPv4Loose } from '../src/webhooks/address.js'
import { generateSecret, signatureHeader, webhookHeaders } from '../src/webhooks/signing.js'
import { openSecret, sealSecret } from '../src/webhooks/secret-box.js'
import { deadlineEnd, nextAttempt } from '../src/webhooks/schedule.js'
import { parseRetryAfter } from '../src/webhooks/http-client.js'
import { urlProblem } from '../src/webhooks/url-policy.js'

tap.test('address classifier refuses every special-purpose form and allows public unicast', async (t) => {
  const blocked: [string, string][] = [
    ['127.0.0.1', 'loopback'], ['127.255.255.254', 'loopback'], ['2130706433', 'loopback'], ['0x7f000001', 'loopback'],
    ['0177.0.0.1', 'loopback'], ['127.1', 'loopback'], ['0x7f.1', 'loopback'], ['017700000001', 'loopback'],
    ['0.0.0.0', 'unspecified'], ['0', 'unspecified'], ['::', 'unspecified'], ['::1', 'loopback'], ['[::1]', 'loopback'],
    ['10.0.0.1', 'private'], ['172.16.5.4', 'private'], ['172.31.255.255', 'private'], ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'], ['fe80::1', 'link-local'], ['fe80::1%eth0', 'link-local'],
    ['100.64.0.1', 'cgnat'], ['100.127.255.255', 'cgnat'],
    ['224.0.0.1', 'multicast'], ['239.255.255.250', 'multicast'], ['ff02::1', 'multicast'],
    ['240.0.0.1', 'reserved'], ['255.255.255.255', 'reserved'], ['198.18.0.1', 'reserved'], ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'documentation'], ['198.51.100.7', 'documentation'], ['203.0.113.9', 'documentation'],
    ['2001:db8::1', 'documentation'], ['3fff::1', 'documentation'],
    ['fc00::1', 'private'], ['fd12:3456::1', 'private'], ['fec0::1', 'private'],
    // IPv4 inside IPv6: mapped, translated, NAT64, 6to4, compatible.
    ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['::ffff:10.1.2.3', 'private'],
    ['::ffff:169.254.169.254', 'link-local'], ['::ffff:0:192.168.0.1', 'private'],
    ['64:ff9b::127.0.0.1', 'loopback'], ['64:ff9b::a00:1', 'private'], ['64:ff9b:1::1', 'private'],
    ['2002:7f00:1::1', 'loopback'], ['2002:c0a8:101::', 'private'], ['::127.0.0.1', 'reserved'],
    ['2001::1', 'reserved'], ['100::1', 'reserved'], ['not-an-ip', 'reserved'],
  ]
  for (const [address, reason] of blocked) t.equal(classifyAddress(address), reason, `${address} is ${reason}`)
  for (const address of ['8.8.8.8', '1.1.1.1', '93.184.216.34', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111',
    '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1']) {
    t.equal(classifyAddress(address), null, `${address} is public`)
  }
  t.equal(parseIPv4Loose('1.2.3.256'), null, 'a dotted part above 255 is no address')
  t.equal(parseIPv4Loose('4294967296'), null, 'a number above 2^32-1 is no address')
  t.equal(parseIPv4Loose('08.1.1.1'), null, '08 is not octal')
})

tap.test('signatures verify with standardwebhooks, one entry per secret, over the exact bytes', async (t) => {
  const current = generateSecret()
  const previous = generateSecret()
  t.match(current, /^whsec_[A-Za-z0-9+/]{43}=$/, 'whsec_ + base64 of 32 bytes')
  t.equal(Buffer.from(current.slice(6), 'base64').length, 32)
  const body = Buffer.from(JSON.stringify({ type: 'appeal.published', timestamp: '2026-01-01T00:00:00.000Z', data: { ü: 'ñ' } }))
  const headers = webhookHeaders('msg_01J0000000000000000000000A', body, [current, previous])
  t.equal(headers['webhook-id'], 'msg_01J0000000000000000000000A')
  t.match(headers['webhook-timestamp'], /^\d{10}$/)
  const entries = headers['webhook-signature']!.split(' ')
  t.equal(entries.length, 2, 'two active secrets → two entries')
  for (const e of entries) t.match(e, /^v1,[A-Za-z0-9+/]+=*$/)
  t.same(new Webhook(current).verify(body.toString(), headers), JSON.parse(body.toString()), 'the current secret verifies')
  t.same(new Webhook(previous).verify(body.toString(), headers), JSON.parse(body.toString()), 'the previous secret verifies')
  t.throws(() => new Webhook(generateSecret()).verify(body.toString(), headers), 'another secret does not')
  t.throws(() => new Webhook(current).verify(body.toString() + ' ', headers), 'a changed body does not')
  // Known vector from the Standard Webhooks specification.
  t.equal(signatureHeader('msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, Buffer.from('{"test": 2432232314}'), ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw']),
    'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=', 'matches the specification\'s example')
})

tap.test('secrets at rest: AES-256-GCM bound to the endpoint id', async (t) => {
  const key = randomBytes(32)
  const secret = generateSecret()
  const sealed = sealSecret(key, 'a1', secret)
  t.notOk(sealed.includes(Buffer.from(secret)), 'the secret is not stored in clear')
  t.equal(openSecret(key, 'a1', sealed), secret)
  t.throws(() => openSecret(key, 'b2', sealed), 'another endpoint cannot open it')
  t.throws(() => openSecret(randomBytes(32), 'a1', sealed), 'another key cannot open it')
  t.not(sealSecret(key, 'a1', secret).toString('hex'), sealed.toString('hex'), 'a fresh IV each time')
})

tap.test('retry schedule: jitter within ±20 %, Retry-After bounded, deadline stops retries', async (t) => {
  const schedule = [10, 60, 300]
  const now = Date.parse('2026-03-01T00:00:00Z')
  const low = nextAttempt({ attemptsMade: 1, scheduleSeconds: schedule, retryAfterSeconds: null, deadline: null, now, random: () => 0 })
  const high = nextAttempt({ attemptsMade: 1, scheduleSeconds: schedule, retryAfterSeconds: null, deadline: null, now, random: () => 0.999999 })
  t.equal(low.status, 'retrying')
  t.equal(low.nextAttemptAt!.getTime() - now, 8000, '-20 %')
  t.ok(Math.abs(high.nextAttemptAt!.getTime() - now - 12000) < 5, '+20 %')
  const second = nextAttempt({ attemptsMade: 2, scheduleSeconds: schedule, retryAfterSeconds: null, deadline: null, now, random: () => 0.5 })
  t.equal(second.nextAttemptAt!.getTime() - now, 60_000, 'the second retry uses the second step')
  const longer = nextAttempt({ attemptsMade: 1, scheduleSeconds: schedule, retryAfterSeconds: 120, deadline: null, now, random: () => 0.5 })
  t.equal(longer.nextAttemptAt!.getTime() - now, 120_000, 'Retry-After lengthens the wait')
  const capped = nextAttempt({ attemptsMade: 1, scheduleSeconds: schedule, retryAfterSeconds: 999_999, deadline: null, now, random: () => 0.5 })
  t.equal(capped.nextAttemptAt!.getTime() - now, 86_400_000, 'but at most one day')
  const shorter = nextAttempt({ attemptsMade: 1, scheduleSeconds: schedule, retryAfterSeconds: 1, deadline: null, now, random: () => 0.5 })
  t.equal(shorter.nextAttemptAt!.getTime() - now, 10_000, 'and never shortens it')
  t.same(nextAttempt({ attemptsMade: 4, scheduleSeconds: schedule, retryAfterSeconds: null, deadline: null, now }), { status: 'failed', nextAttemptAt: null }, 'schedule exhausted → failed')
  t.same(nextAttempt({ attemptsMade: 1, scheduleSeconds: schedule, retryAfterSeconds: null, deadline: new Date(now + 5000), now }),
    { status: 'expired', nextAttemptAt: null }, 'past the deadline → expired')
  t.equal(deadlineEnd('2026-03-01')!.toISOString(), '2026-03-02T00:00:00.000Z', 'a deadline date lasts the whole UTC day')
  t.equal(deadlineEnd(null), null)
  t.equal(parseRetryAfter('120'), 120)
  t.equal(parseRetryAfter(new Date(Date.now() + 60_000).toUTCString())! >= 59, true, 'HTTP-date form')
  t.equal(parseRetryAfter('soon'), null)
})

tap.test('registration URL policy', async (t) => {
  const cases: [string, boolean, RegExp | null][] = [
    ['https://partner.example.org/hook', false, /resolve/], // .example.org has no public address record
    ['http://8.8.8.8/hook', false, /must use https/],
    ['https://user:pw@8.8.8.8/hook', false, /credentials/],
    ['https://8.8.8.8/hook#frag', false, /fragment/],
    ['not a url', false, /valid absolute URL/],
    ['ftp://8.8.8.8/x', false, /https/],
    ['https://8.8.8.8/hook', false, null],
    ['https://[2606:4700:4700::1111]/hook', false, null],
    ['https://127.0.0.1/hook', false, /loopback/],
    ['https://2130706433/hook', false, /loopback/],
    ['https://0x7f.1/hook', false, /loopback/],
    ['https://0177.0.0.1/hook', false, /loopback/],
    ['https://[::ffff:127.0.0.1]/hook', false, /loopback/],
    ['https://[64:ff9b::a9fe:a9fe]/hook', false, /link-local/],
    ['https://169.254.169.254/latest', false, /link-local/],
    ['https://localhost/hook', false, /loopback/],
    ['http://127.0.0.1:9/hook', true, null],
    ['https://user@127.0.0.1/hook', true, /credentials/],
  ]
  for (const [url, allow, expected] of cases) {
    const problem = await urlProblem(url, allow)
    if (expected === null) t.equal(problem, null, `${url} accepted (allowPrivate=${allow})`)
    else t.match(problem ?? '', expected, `${url} refused: ${problem}`)
  }
})
