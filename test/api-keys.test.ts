// The API key format (src/auth/api-keys.ts): `ua_<prefix>_<secret>`, the
// prefix findable in clear, the secret only as a hash compared in constant time.
import t from 'tap'
import { generateApiKey, hashSecret, parseApiKey, ROLES, secretMatches } from '../src/auth/api-keys.js'

t.test('a generated key parses back to its prefix and a secret that matches its stored hash', async (t) => {
  const generated = generateApiKey()
  t.match(generated.key, /^ua_[a-z2-7]{10}_[A-Za-z0-9_-]{43}$/)
  t.match(generated.prefix, /^ua_[a-z2-7]{10}$/)
  t.ok(generated.key.startsWith(`${generated.prefix}_`), 'the prefix is the visible start of the key')
  t.equal(generated.secretHash.length, 32, 'SHA-256')
  const parsed = parseApiKey(generated.key)
  t.ok(parsed)
  t.equal(parsed!.prefix, generated.prefix)
  t.equal(`${parsed!.prefix}_${parsed!.secret}`, generated.key)
  t.ok(secretMatches(parsed!.secret, generated.secretHash))
  t.notOk(generated.secretHash.toString('hex').includes(Buffer.from(parsed!.secret).toString('hex')), 'the hash is not the secret')
  t.same(hashSecret(parsed!.secret), generated.secretHash, 'hashing is deterministic')
})

t.test('a wrong secret does not match', async (t) => {
  const { key, secretHash } = generateApiKey()
  const { secret } = parseApiKey(key)!
  const flipped = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A')
  t.notOk(secretMatches(flipped, secretHash), 'one character changed')
  t.notOk(secretMatches(parseApiKey(generateApiKey().key)!.secret, secretHash), 'another key\'s secret')
  t.notOk(secretMatches('', secretHash), 'empty')
  t.notOk(secretMatches(secret.toUpperCase() === secret ? secret.toLowerCase() : secret.toUpperCase(), secretHash), 'case matters')
  t.notOk(secretMatches(secret, secretHash.subarray(0, 16)), 'a truncated stored hash never matches (and does not throw)')
  t.notOk(secretMatches(secret, Buffer.alloc(0)), 'an empty stored hash never matches')
})

t.test('malformed keys are rejected', async (t) => {
  const { key } = generateApiKey()
  const secret = key.slice(14)
  const malformed = [
    '', 'ua_', 'ua__', key.slice(0, -1), `${key}A`, `${key} `, ` ${key}`, `${key}\n`, `Bearer ${key}`,
    key.replace(/^ua_/, 'UA_'), key.replace(/^ua_/, 'xx_'), key.slice(3),
    `ua_ABCDEFGHIJ_${secret}`, // the prefix is lower-case base32
    `ua_abcdefgh01_${secret}`, // 0, 1, 8 and 9 are not base32
    `ua_abcdefghi_${secret}`, `ua_abcdefghijk_${secret}`,
    `ua_abcdefghij_${secret.slice(0, 42)}+`, `ua_abcdefghij_${secret.slice(0, 42)}/`, `ua_abcdefghij_${secret.slice(0, 42)}=`,
    `ua_abcdefghij-${secret}`, `ua_abcdefghij_${secret}_extra`,
    'ua_abcdefghij_' + 'é'.repeat(43),
  ]
  for (const candidate of malformed) t.equal(parseApiKey(candidate), null, `rejects ${JSON.stringify(candidate)}`)
  t.ok(parseApiKey(`ua_abcdefghij_${'-'.repeat(21)}_${'_'.repeat(21)}`), 'base64url `-` and `_` are secret characters')
})

t.test('every key is different', async (t) => {
  const a = generateApiKey()
  const b = generateApiKey()
  t.not(a.key, b.key)
  t.not(a.prefix, b.prefix)
  t.notSame(a.secretHash, b.secretHash)
  const many = Array.from({ length: 2000 }, () => generateApiKey())
  t.equal(new Set(many.map((k) => k.prefix)).size, many.length, '2000 keys, 2000 prefixes')
  t.equal(new Set(many.map((k) => k.key.slice(14))).size, many.length, '2000 keys, 2000 secrets')
  const letters = new Set(many.flatMap((k) => [...k.prefix.slice(3)]))
  t.equal(letters.size, 32, 'prefixes use the whole base32 alphabet')
})

t.test('the roles are admin, editor and partner', async (t) => {
  t.same([...ROLES].sort(), ['admin', 'editor', 'partner'])
})
