// A fan-out of 10 000 supporters, seeded with one INSERT … SELECT
// generate_series (not through the API), completes with exactly one mail
// each through the real pipeline and SMTP sink. The rate is reported, not
// asserted: `npm run bench -- --scenario email-fanout` measures it against raw nodemailer.
import t from 'tap'
import { createPublished } from './helpers/liaoning.js'
import { emailProgress, eventually, startSupporterStack } from './helpers/supporters.js'

const N = 10_000

t.test(`a fan-out to ${N} supporters sends exactly one mail each`, async (t) => {
  const stack = await startSupporterStack(t)
  // Tokens are never looked up here, so the nonces and hashes only need to be unique.
  await stack.pool.query(
    `INSERT INTO subscriptions (email, email_hash, language, countries, status, manage_nonce, manage_token_hash, confirmed_at)
     SELECT 'supporter' || i || '@example.org', sha256(convert_to('e' || i, 'UTF8')),
            (ARRAY['en', 'fr', 'es', 'ko', 'zh-Hans'])[1 + i % 5], CASE WHEN i % 3 = 0 THEN '{CN}'::text[] ELSE '{}' END,
            'active', sha256(convert_to('n' || i, 'UTF8')), sha256(convert_to('m' || i, 'UTF8')), now()
       FROM generate_series(1, $1) AS i`, [N])
  const started = Date.now()
  const appeal = await createPublished(stack)
  await stack.sink.waitForCount(N, 150_000)
  const seconds = (Date.now() - started) / 1000
  t.comment(`${N} mails in ${seconds.toFixed(1)} s: ${Math.round(N / seconds)} mails/s (publish to last mail accepted)`)

  const perRecipient = new Map<string, number>()
  for (const m of stack.sink.messages) for (const to of m.to) perRecipient.set(to, (perRecipient.get(to) ?? 0) + 1)
  t.equal(perRecipient.size, N, 'every supporter got a mail')
  t.ok([...perRecipient.values()].every((n) => n === 1), 'nobody got two')
  t.ok(stack.sink.messages.every((m) => m.to.length === 1), 'one recipient per message')
  const counts = await eventually(async () => {
    const c = await emailProgress(stack, appeal.id)
    return c.sent === N ? c : undefined
  }, 15_000, 'all deliveries recorded as sent')
  t.same(counts, { sent: N })
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(stack.sink.messages.length, N, 'nothing more arrives afterwards')
})
