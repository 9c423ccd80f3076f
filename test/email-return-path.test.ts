// The per-message return path and Feedback-ID of alert mail (contract §10,
// issue 13): the token names one delivery and verifies only under our key,
// in any letter case; BOUNCE_DOMAIN is checked at start; and the real mail
// caught by the SMTP sink carries `bounces+<token>@BOUNCE_DOMAIN` as its
// envelope sender (confirmations keep MAIL_FROM) and the Feedback-ID.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { ConfigError, loadConfig } from '../src/config.js'
import {
  alertEnvelopeSender, deliveryIdFromReturnPath, parseAlertMessageId, parseReturnPathToken, returnPathAddress, returnPathToken,
} from '../src/email/return-path.js'
import { feedbackId } from '../src/email/feedback-id.js'
import { anAppeal, createPublished } from './helpers/liaoning.js'
import { emailProgress, eventually, startSupporterStack, subscribeAndConfirm } from './helpers/supporters.js'

const KEY = randomBytes(32)
const DOMAIN = 'bounces.ngo.example'

t.test('a token names one delivery, verifies only under our key, and survives lower- and upper-casing', async (t) => {
  for (const id of [1, 42, 1_000_000_007, Number.MAX_SAFE_INTEGER]) {
    const token = returnPathToken(KEY, id)
    t.match(token, /^[a-z2-7]{32}$/, `${id}: 32 base32 characters, lower case`)
    t.equal(parseReturnPathToken(KEY, token), id, `${id}: read back`)
    t.equal(parseReturnPathToken(KEY, token.toUpperCase()), id, `${id}: an MTA that upper-cases it changes nothing`)
    const address = returnPathAddress(KEY, DOMAIN, id)
    t.ok(address.split('@')[0]!.length <= 64, 'the local part fits RFC 5321 (64)')
    t.equal(deliveryIdFromReturnPath(KEY, DOMAIN, address.toUpperCase()), id, 'the whole address in any case')
    t.equal(deliveryIdFromReturnPath(KEY, DOMAIN, `<${address}>`), id, 'in angle brackets')
  }
  t.not(returnPathToken(KEY, 1), returnPathToken(KEY, 2), 'each delivery its own token')
  t.equal(returnPathToken(KEY, 7), returnPathToken(KEY, 7), 'derived, not stored: the same token every time')

  const token = returnPathToken(KEY, 42)
  const flipped = token.slice(0, 31) + (token[31] === 'a' ? 'b' : 'a')
  t.equal(parseReturnPathToken(KEY, flipped), null, 'one character changed: not ours')
  t.equal(parseReturnPathToken(randomBytes(32), token), null, 'made under another key: not ours')
  t.equal(parseReturnPathToken(Buffer.alloc(0), token), null, 'no key: nothing verifies')
  // Another id with the MAC of 42 (the id is readable; the MAC is what cannot be made).
  const other = returnPathToken(KEY, 43)
  t.equal(parseReturnPathToken(KEY, other.slice(0, 13) + token.slice(13)), null, 'an id spliced onto another MAC: not ours')
  for (const bad of ['', token.slice(1), `${token}a`, token.replace(/^./, '0'), token.replace(/^./, '=')]) {
    t.equal(parseReturnPathToken(KEY, bad), null, `malformed ${JSON.stringify(bad.slice(0, 6))}… refused`)
  }
  const address = returnPathAddress(KEY, DOMAIN, 42)
  t.equal(deliveryIdFromReturnPath(KEY, 'other.example', address), null, 'another domain: not ours')
  t.equal(deliveryIdFromReturnPath(KEY, DOMAIN, address.replace('bounces+', 'bounce+')), null, 'another local prefix: not ours')
  t.equal(deliveryIdFromReturnPath(KEY, DOMAIN, `alerts@${DOMAIN}`), null, 'a plain address: not ours')
  t.throws(() => returnPathToken(KEY, 0), RangeError)

  t.same(parseAlertMessageId('<d17.msg_01hzzzzzzzzzzzzzzzzzzzzzzz@alerts.example.org>'), { deliveryId: 17, eventId: 'msg_01hzzzzzzzzzzzzzzzzzzzzzzz' })
  t.equal(parseAlertMessageId('<c17.1234@alerts.example.org>'), null, 'a confirmation mail is no delivery')

  const config = { secretsKey: KEY, email: { bounce: { domain: DOMAIN as string | null } } }
  t.equal(alertEnvelopeSender(config, 'alerts@ngo.example', 42), address)
  t.equal(alertEnvelopeSender({ ...config, email: { bounce: { domain: null } } }, 'alerts@ngo.example', 42), 'alerts@ngo.example',
    'no BOUNCE_DOMAIN: MAIL_FROM is the return path')
})

t.test('Feedback-ID: four colon-separated identifiers, nothing else', async (t) => {
  t.equal(feedbackId({ reference: 'UA 001/19', eventType: 'appeal.published', organisationId: 'f0e1d2c3-0000-4000-8000-000000000001', senderId: 'alerts.ngo.example' }),
    'UA-001/19:published:f0e1d2c3-0000-4000-8000-000000000001:alerts.ngo.example')
  t.equal(feedbackId({ reference: 'AI: 12\r\nBcc: x', eventType: 'appeal.closed', organisationId: 'o', senderId: 's' }), 'AI-12-Bcc-x:closed:o:s',
    'no colon, line break or space from a reference reaches the header')
})

t.test('BOUNCE_DOMAIN and BOUNCE_SMTP_PORT are checked at start', async (t) => {
  t.same(loadConfig({ BOUNCE_DOMAIN: 'Bounces.NGO.example', BOUNCE_SMTP_PORT: '2526' }).email.bounce, { domain: 'bounces.ngo.example', smtpPort: 2526 })
  t.same(loadConfig({}).email.bounce, { domain: null, smtpPort: null })
  for (const [name, value] of [['BOUNCE_DOMAIN', 'bounces@ngo.example'], ['BOUNCE_DOMAIN', 'localhost'], ['BOUNCE_SMTP_PORT', '70000'], ['BOUNCE_SMTP_PORT', 'smtp']]) {
    t.throws(() => loadConfig({ [name!]: value! }), ConfigError, `${name}=${value} refused`)
  }
})

t.test('alert mail leaves with its own return path and a Feedback-ID; confirmations keep MAIL_FROM', async (t) => {
  const stack = await startSupporterStack(t, { BOUNCE_DOMAIN: DOMAIN, MAIL_FROM: 'Urgent Appeals <alerts@ngo.example>' })
  const key = stack.config.secretsKey
  await subscribeAndConfirm(stack, 'one@example.org')
  await subscribeAndConfirm(stack, 'two@example.org')
  for (const m of stack.sink.messages) t.equal(m.from, 'alerts@ngo.example', 'a confirmation mail: MAIL_FROM as envelope sender')
  const appeal = await createPublished(stack, anAppeal({ reference: 'UA 101/26' }))
  await eventually(async () => ((await emailProgress(stack, appeal.id)).sent === 2 ? true : undefined), 20_000, 'two alerts sent')

  const { rows } = await stack.pool.query<{ id: number; email: string }>(
    `SELECT d.id, s.email FROM deliveries d JOIN subscriptions s ON s.id = d.recipient_id
       JOIN events e ON e.id = d.event_id WHERE e.appeal_id = $1 AND d.channel = 'email' ORDER BY d.id`, [appeal.id])
  t.equal(rows.length, 2)
  const senders = new Set<string>()
  for (const row of rows) {
    const mail = stack.sink.to(row.email).find((m) => m.from.startsWith('bounces+'))
    t.ok(mail, `${row.email}: an alert with a bounces+ envelope sender`)
    if (!mail) continue
    senders.add(mail.from)
    t.match(mail.from, /^bounces\+[a-z2-7]{32}@bounces\.ngo\.example$/, 'bounces+<token>@BOUNCE_DOMAIN')
    t.notOk(mail.from.includes(row.email.split('@')[0]!), 'no part of the address in it')
    t.equal(deliveryIdFromReturnPath(key, DOMAIN, mail.from), row.id, 'the token names this delivery')
    const parsed = await mail.parsed()
    t.equal(parsed.from?.value[0]?.address, 'alerts@ngo.example', 'the From header is unchanged')
    t.equal(parsed.headers.get('feedback-id'), `UA-101/26:published:${stack.orgIds.ngo}:alerts.ngo.example`, 'Feedback-ID: reference, kind, organisation, sender')
    t.same(parseAlertMessageId(parsed.messageId ?? ''), { deliveryId: row.id, eventId: (await stack.pool.query(
      'SELECT lower(event_id) AS e FROM deliveries WHERE id = $1', [row.id])).rows[0].e }, 'our Message-ID reads back to the same delivery')
  }
  t.equal(senders.size, 2, 'one return path per message')
})

t.test('without BOUNCE_DOMAIN alert mail keeps MAIL_FROM as its return path', async (t) => {
  const stack = await startSupporterStack(t, { MAIL_FROM: 'Urgent Appeals <alerts@ngo.example>' })
  await subscribeAndConfirm(stack, 'one@example.org')
  const appeal = await createPublished(stack)
  await eventually(async () => ((await emailProgress(stack, appeal.id)).sent === 1 ? true : undefined), 20_000, 'the alert sent')
  const mails = stack.sink.to('one@example.org')
  t.equal(mails.length, 2, 'confirmation and alert')
  for (const m of mails) t.equal(m.from, 'alerts@ngo.example')
})
