// Standard Webhooks signing with HMAC keys cached per secret: signatures
// stay byte-identical to the specification's vector and to the
// standardwebhooks reference implementation — on a first use, on a cached
// key, and after the bounded cache has let a key go.
import tap from 'tap'
import { Webhook } from 'standardwebhooks'
import { cachedSigningKeys, generateSecret, signatureHeader, SIGNING_KEY_CACHE_SIZE, webhookHeaders } from '../src/webhooks/signing.js'

const VECTOR = {
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek', timestamp: 1614265330, body: '{"test": 2432232314}',
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
}

tap.test('the specification\'s vector, on a fresh key and on the cached one', async (t) => {
  const body = Buffer.from(VECTOR.body)
  t.equal(signatureHeader(VECTOR.id, VECTOR.timestamp, body, [VECTOR.secret]), VECTOR.signature, 'first use')
  t.equal(signatureHeader(VECTOR.id, VECTOR.timestamp, body, [VECTOR.secret]), VECTOR.signature, 'cached key')
  t.equal(signatureHeader(VECTOR.id, VECTOR.timestamp, Buffer.from(`${VECTOR.body} `), [VECTOR.secret]) === VECTOR.signature, false,
    'another body, another signature')
})

tap.test('byte-identical to the standardwebhooks reference for many secrets, two per header, before and after eviction', async (t) => {
  const body = Buffer.from(JSON.stringify({ type: 'appeal.published', data: { title: 'Défenseurs détenus — 人权', n: 1 } }))
  const at = new Date('2026-12-06T10:00:00Z')
  const secrets = Array.from({ length: SIGNING_KEY_CACHE_SIZE + 500 }, () => generateSecret())
  const reference = (secret: string) => new Webhook(secret).sign('msg_01J0000000000000000000000A', at, body)
  const ours = (current: string, previous: string) => webhookHeaders('msg_01J0000000000000000000000A', body, [current, previous], at.getTime())
  let mismatches = 0
  const check = (i: number) => {
    const current = secrets[i]!
    const previous = secrets[(i + 1) % secrets.length]!
    const headers = ours(current, previous)
    if (headers['webhook-signature'] !== `${reference(current)} ${reference(previous)}`) mismatches++
  }
  for (let i = 0; i < secrets.length; i++) check(i) // every key new, then the first ones evicted
  for (let i = 0; i < 200; i++) check(i) // keys evicted earlier, made again
  for (let i = secrets.length - 200; i < secrets.length; i++) check(i) // keys still cached
  t.equal(mismatches, 0, `${secrets.length + 400} headers with two signatures each, all identical to the reference`)
  t.ok(cachedSigningKeys() <= SIGNING_KEY_CACHE_SIZE, `the key cache stays bounded (${cachedSigningKeys()} ≤ ${SIGNING_KEY_CACHE_SIZE})`)
  t.throws(() => signatureHeader('msg_x', 1, body, ['not-a-secret']), /not a whsec_ secret/)
})
