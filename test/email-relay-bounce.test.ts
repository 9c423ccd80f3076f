// A synchronous 5xx from the relay (contract §10, issue 13) has the same
// effect as a hard bounce reported later: the address is suppressed AND
// the supporter's consent ledger records `hard-bounce`, written with the
// suppression in the outcome batch's transaction; a weaker suppression
// (soft-bounce) is raised; an address already suppressed gets no second row.
import t from 'tap'
import { anAppeal, createPublished } from './helpers/liaoning.js'
import { emailProgress, eventually, startSupporterStack, subscribeAndConfirm, type SupporterStack } from './helpers/supporters.js'

async function settled(stack: SupporterStack, appealId: string, total: number): Promise<Record<string, number>> {
  return eventually(async () => {
    const counts = await emailProgress(stack, appealId)
    const done = (counts.sent ?? 0) + (counts.failed ?? 0)
    return done === total && Object.keys(counts).every((s) => s === 'sent' || s === 'failed') ? counts : undefined
  }, 20_000, `${total} alerts settled`)
}

async function ledgerOf(stack: SupporterStack, email: string) {
  const { rows } = await stack.pool.query<{ action: string; source: string; details: Record<string, unknown> }>(
    `SELECT c.action, c.source, c.details FROM consent_ledger c JOIN subscriptions s ON s.id = c.subscription_id
      WHERE s.email = $1 ORDER BY c.id`, [email])
  return rows
}

const suppression = async (stack: SupporterStack, email: string) => (await stack.pool.query<{ reason: string }>(
  `SELECT x.reason FROM email_suppressions x JOIN subscriptions s ON s.email_hash = x.email_hash WHERE s.email = $1`, [email])).rows[0]?.reason ?? null

t.test('a 550 from the relay suppresses the address and writes the consent ledger row hard-bounce', async (t) => {
  const stack = await startSupporterStack(t)
  for (const email of ['gone@example.org', 'full@example.org', 'fine@example.org']) await subscribeAndConfirm(stack, email)
  stack.sink.fail('gone@example.org', 550)
  stack.sink.fail('full@example.org', 550)
  const appeal = await createPublished(stack, anAppeal({ reference: 'UA 501/26' }))
  t.same(await settled(stack, appeal.id, 3), { sent: 1, failed: 2 })

  for (const email of ['gone@example.org', 'full@example.org']) {
    t.equal(await suppression(stack, email), 'hard-bounce', `${email}: suppressed`)
    const { rows: [d] } = await stack.pool.query<{ id: string }>(
      `SELECT d.id FROM deliveries d JOIN subscriptions s ON s.id = d.recipient_id JOIN events e ON e.id = d.event_id
        WHERE s.email = $1 AND e.appeal_id = $2`, [email, appeal.id])
    const ledger = await ledgerOf(stack, email)
    t.same(ledger.at(-1), { action: 'hard-bounce', source: 'smtp-relay', details: { deliveryId: Number(d!.id), status: '5.1.1' } },
      `${email}: the consent ledger says why it is no longer mailed`)
    t.equal(ledger.filter((e) => e.action === 'hard-bounce').length, 1, `${email}: one row`)
  }
  t.notOk((await ledgerOf(stack, 'fine@example.org')).some((e) => e.action === 'hard-bounce'), 'nothing for the delivered address')
  const { rows: [leak] } = await stack.pool.query(`SELECT count(*)::int AS n FROM consent_ledger WHERE details::text ILIKE '%example.org%'`)
  t.equal(leak!.n, 0, 'no address in the ledger details')
})

t.test('suppression strength: a 5xx raises a soft-bounce suppression (with a ledger row), never weakens a complaint', async (t) => {
  const stack = await startSupporterStack(t)
  await subscribeAndConfirm(stack, 'again@example.org')
  const appeal = await createPublished(stack, anAppeal({ reference: 'UA 511/26' }))
  t.same(await settled(stack, appeal.id, 1), { sent: 1 })
  const { rows: [d] } = await stack.pool.query<{ id: string }>(`SELECT id FROM deliveries WHERE channel = 'email'`)
  const id = Number(d!.id)
  // The outcome batch as the worker writes it, for a reply that came while the address was being suppressed.
  const { recordOutcomes } = await import('../src/repositories/email-deliveries.js')
  const replay = async () => {
    const client = await stack.pool.connect()
    try {
      await client.query('BEGIN')
      await recordOutcomes(client, [{ id, status: 'failed', error: 'SMTP 550 5.1.1 Mailbox does not exist', retryInSeconds: null }], [id])
      await client.query('COMMIT')
    } finally {
      client.release()
    }
  }
  const rowsOf = async () => (await ledgerOf(stack, 'again@example.org')).filter((e) => e.action === 'hard-bounce').length

  await stack.pool.query(`INSERT INTO email_suppressions (email_hash, reason) SELECT email_hash, 'soft-bounce' FROM subscriptions`)
  await replay()
  t.equal(await suppression(stack, 'again@example.org'), 'hard-bounce', 'soft-bounce raised to hard-bounce')
  t.equal(await rowsOf(), 1, 'with its ledger row')
  await replay()
  t.equal(await rowsOf(), 1, 'already hard-bounce: no second row')
  await stack.pool.query(`UPDATE email_suppressions SET reason = 'complaint'`)
  await replay()
  t.equal(await suppression(stack, 'again@example.org'), 'complaint', 'a complaint is not weakened')
  t.equal(await rowsOf(), 1, 'and no row')
})
