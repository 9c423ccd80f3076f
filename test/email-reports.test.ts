// What a bounce or complaint report does (contract §10, issue 13), against
// the real Postgres and real alert mail from the SMTP sink: a hard bounce
// suppresses and the next alert skips the supporter; soft bounces suppress
// only at the documented count; a complaint unsubscribes; each is in the
// consent ledger; a forged token or an unverifiable Message-ID does
// nothing; a repeated report changes nothing; no address is stored.
import t from 'tap'
import { applyEmailReport, reportCountsForAppeal, SOFT_BOUNCE_LIMIT, type EmailReport } from '../src/services/email-reports.js'
import { alertOf, assertNextAlertReachesOnly, BOUNCE_DOMAIN, publishAndSettle } from './helpers/bounces.js'
import { startSupporterStack, subscribeAndConfirm, type SupporterStack } from './helpers/supporters.js'

const DOMAIN = BOUNCE_DOMAIN
const PEOPLE = ['hard@example.org', 'soft@example.org', 'complain@example.org', 'ses@example.org', 'keep@example.org'] as const



async function state(stack: SupporterStack, email: string) {
  const { rows } = await stack.pool.query<{ status: string; suppressed: string | null; ledger: { action: string; source: string; details: Record<string, unknown> }[] }>(
    `SELECT s.status, (SELECT x.reason FROM email_suppressions x WHERE x.email_hash = s.email_hash) AS suppressed,
            (SELECT coalesce(json_agg(json_build_object('action', c.action, 'source', c.source, 'details', c.details) ORDER BY c.id), '[]')
               FROM consent_ledger c WHERE c.subscription_id = s.id) AS ledger
       FROM subscriptions s WHERE s.email = $1`, [email])
  return rows[0]!
}

t.test('bounce and complaint reports suppress, unsubscribe, stay idempotent, and the next alert skips those supporters', async (t) => {
  const stack = await startSupporterStack(t, { BOUNCE_DOMAIN: DOMAIN, MAIL_FROM: 'Urgent Appeals <alerts@ngo.example>' })
  const options = { secretsKey: stack.config.secretsKey, bounceDomain: stack.config.email.bounce.domain }
  const apply = (report: EmailReport) => applyEmailReport(stack.pool, report, options)
  for (const email of PEOPLE) await subscribeAndConfirm(stack, email)
  const appeals: string[] = []
  for (let i = 1; i <= SOFT_BOUNCE_LIMIT; i++) appeals.push(await publishAndSettle(stack, PEOPLE.length, `UA 20${i}/26`))
  const [first, second, third] = appeals as [string, string, string]
  const ledgerSize = async (email: string) => (await state(stack, email)).ledger.length

  await t.test('forged or unverifiable reports do nothing', async (t) => {
    const real = await alertOf(stack, 'hard@example.org', first)
    const [local, domain] = real.returnPath.split('@') as [string, string]
    const forged = `${local.slice(0, -1)}${local.endsWith('a') ? 'b' : 'a'}@${domain}`
    t.same(await apply({ kind: 'hard-bounce', source: 'smtp-dsn', returnPath: forged, status: '5.1.1' }), { outcome: 'ignored', reason: 'no-identity' }, 'a forged token')
    t.same(await apply({ kind: 'hard-bounce', source: 'smtp-dsn', returnPath: real.returnPath.replace(DOMAIN, 'other.example') }),
      { outcome: 'ignored', reason: 'no-identity' }, 'a real token at another domain')
    t.same(await apply({ kind: 'complaint', source: 'smtp-arf', messageId: real.messageId, recipient: 'hard@example.org' }),
      { outcome: 'ignored', reason: 'no-identity' }, 'by SMTP, a Message-ID or an address is no proof')
    const otherEvent = await alertOf(stack, 'soft@example.org', second)
    const spliced = real.messageId.replace(/\.msg_[0-9a-z]+@/, `${otherEvent.messageId.slice(otherEvent.messageId.indexOf('.msg_'), otherEvent.messageId.indexOf('@'))}@`)
    t.not(spliced, real.messageId)
    t.same(await apply({ kind: 'complaint', source: 'postmark', messageId: spliced }), { outcome: 'ignored', reason: 'unknown-delivery' },
      'a Message-ID naming a delivery with another event')
    t.same(await apply({ kind: 'hard-bounce', source: 'smtp-dsn', deliveryId: 99_999_999 }), { outcome: 'ignored', reason: 'unknown-delivery' }, 'no such delivery')
    const hard = await state(stack, 'hard@example.org')
    t.equal(hard.status, 'active')
    t.equal(hard.suppressed, null, 'still mailed')
    t.equal((await stack.pool.query('SELECT count(*)::int AS n FROM email_reports')).rows[0].n, 0, 'nothing stored')
  })

  await t.test('a permanent failure (DSN to the return path) suppresses at once, once', async (t) => {
    const { returnPath, deliveryId } = await alertOf(stack, 'hard@example.org', first)
    const report: EmailReport = { kind: 'hard-bounce', source: 'smtp-dsn', returnPath: returnPath.toUpperCase(), status: '5.1.1' }
    t.same(await apply(report), { outcome: 'applied', effect: 'suppressed', deliveryId }, 'an upper-cased return path still names the delivery')
    const after = await state(stack, 'hard@example.org')
    t.equal(after.suppressed, 'hard-bounce')
    t.same(after.ledger.at(-1), { action: 'hard-bounce', source: 'smtp-dsn', details: { deliveryId, status: '5.1.1' } }, 'in the consent ledger')
    const size = after.ledger.length
    t.same(await apply(report), { outcome: 'duplicate' }, 'the same DSN again')
    t.equal(await ledgerSize('hard@example.org'), size, 'no second ledger row')
  })

  await t.test(`temporary failures suppress at the ${SOFT_BOUNCE_LIMIT}rd mail that bounced`, async (t) => {
    const soft = async (appealId: string) => apply({ kind: 'soft-bounce', source: 'smtp-dsn', returnPath: (await alertOf(stack, 'soft@example.org', appealId)).returnPath, status: '4.2.2' })
    t.match(await soft(first), { outcome: 'applied', effect: 'counted' })
    t.same(await soft(first), { outcome: 'duplicate' }, 'the same mail delayed twice counts once')
    t.match(await soft(second), { outcome: 'applied', effect: 'counted' })
    const before = await state(stack, 'soft@example.org')
    t.equal(before.suppressed, null, `below ${SOFT_BOUNCE_LIMIT}: still mailed`)
    t.notOk(before.ledger.some((e) => e.action === 'soft-bounce'), 'and nothing in the ledger')
    t.match(await soft(third), { outcome: 'applied', effect: 'suppressed' })
    const after = await state(stack, 'soft@example.org')
    t.equal(after.suppressed, 'soft-bounce')
    t.equal(after.status, 'active', 'the subscription stays (a new opt-in lifts the suppression)')
    t.match(after.ledger.at(-1), { action: 'soft-bounce', source: 'smtp-dsn', details: { status: '4.2.2' } })
  })

  await t.test('a complaint unsubscribes and suppresses', async (t) => {
    const { messageId, deliveryId } = await alertOf(stack, 'complain@example.org', first)
    const report: EmailReport = { kind: 'complaint', source: 'postmark', messageId, reportId: 'pm-1' }
    t.same(await apply(report), { outcome: 'applied', effect: 'unsubscribed', deliveryId }, 'found by our Message-ID (a verified provider payload)')
    const after = await state(stack, 'complain@example.org')
    t.equal(after.status, 'unsubscribed')
    t.equal(after.suppressed, 'complaint')
    t.same(after.ledger.at(-1), { action: 'complaint', source: 'postmark', details: { deliveryId, status: null } })
    t.same(await apply(report), { outcome: 'duplicate' }, 'a retried webhook')

    // A provider that names only the address (in another case): hashed, matched, never stored.
    const bySes: EmailReport = { kind: 'complaint', source: 'ses', recipient: 'SES@Example.org', reportId: 'sns-message-1' }
    t.same(await apply(bySes), { outcome: 'applied', effect: 'unsubscribed', deliveryId: null })
    t.same(await apply(bySes), { outcome: 'duplicate' })
    const ses = await state(stack, 'ses@example.org')
    t.equal(ses.status, 'unsubscribed')
    t.equal(ses.suppressed, 'complaint')
    t.match(ses.ledger.at(-1), { action: 'complaint', source: 'ses' })
  })

  await t.test('the next alert reaches only the supporter nothing was reported about', async (t) => {
    await assertNextAlertReachesOnly(t, stack, PEOPLE, 'keep@example.org', 'UA 299/26')
  })

  await t.test('counts per appeal, and no address stored', async (t) => {
    t.same(await reportCountsForAppeal(stack.pool, first), { sent: PEOPLE.length, hardBounces: 1, softBounces: 1, complaints: 1 })
    t.same(await reportCountsForAppeal(stack.pool, third), { sent: PEOPLE.length, hardBounces: 0, softBounces: 1, complaints: 0 })
    const { rows } = await stack.pool.query(
      `SELECT (SELECT count(*)::int FROM email_reports) AS reports,
              (SELECT count(*)::int FROM email_reports r WHERE r::text ILIKE '%example.org%') AS "withAddress",
              (SELECT count(*)::int FROM consent_ledger c WHERE c.details::text ILIKE '%example.org%') AS "ledgerWithAddress"`)
    t.same(rows[0], { reports: 6, withAddress: 0, ledgerWithAddress: 0 })
  })
})
