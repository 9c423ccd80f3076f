// Provider event webhooks (contract §10, issue 13): POST
// /v1/email-events/{ses,postmark,mailgun,sendgrid} on real alert mail from
// the SMTP sink, with payloads signed by keys made here — an RSA key and a
// self-signed certificate for SNS (served by a local receiver the app is
// told to trust through a test-only app option), an ECDSA P-256 pair for
// SendGrid, an HMAC key for Mailgun, basic-auth credentials for Postmark.
// Verified events suppress or unsubscribe and the next alert skips those
// supporters; forged, stale, replayed or foreign ones change nothing.
import { createHmac, generateKeyPairSync, randomBytes, sign, createSign } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { pino } from 'pino'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { buildApp } from '../src/app.js'
import { EMAIL_EVENTS_RATE_LIMIT } from '../src/routes/email-events.js'
import { alertOf, assertNextAlertReachesOnly, BOUNCE_DOMAIN, publishAndSettle } from './helpers/bounces.js'
import { startSupporterStack, subscribeAndConfirm, type SupporterStack } from './helpers/supporters.js'
import { startReceiver } from './helpers/receiver.js'

const DOMAIN = BOUNCE_DOMAIN
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:ses-bounces'
const OTHER_TOPIC = 'arn:aws:sns:eu-west-1:210987654321:someone-elses'
const PEOPLE = ['ses-hard@example.org', 'ses-complaint@example.org', 'postmark@example.org', 'mailgun@example.org', 'sendgrid@example.org', 'keep@example.org'] as const
const POSTMARK = { user: 'postmark', password: randomBytes(18).toString('base64') }
const MAILGUN_KEY = `key-${randomBytes(16).toString('hex')}`
const sendgridKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
const SENDGRID_PUBLIC_KEY = sendgridKeys.publicKey.export({ format: 'der', type: 'spki' }).toString('base64')

/** An RSA key and a self-signed certificate, standing in for SNS's signing certificate. */
function snsCertificate(): { key: string; certificate: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ua-sns-'))
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-subj', '/CN=sns.test.invalid',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), certificate: readFileSync(join(dir, 'cert.pem'), 'utf8') }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

type Sns = Record<string, string>
/** Signs an SNS message as AWS documents: `Key\nValue\n` over the type's fields, SHA1withRSA (v1) or SHA256withRSA (v2). */
function signSns(message: Sns, key: string, version: '1' | '2' = '2'): Sns {
  const fields = message.Type === 'Notification'
    ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
    : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type']
  const data = fields.filter((f) => message[f] !== undefined).map((f) => `${f}\n${message[f]}\n`).join('')
  const signer = createSign(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256')
  signer.update(data, 'utf8')
  return { ...message, SignatureVersion: version, Signature: signer.sign(key, 'base64') }
}



async function state(stack: SupporterStack, email: string) {
  const { rows } = await stack.pool.query<{ status: string; suppressed: string | null; ledger: string[] }>(
    `SELECT s.status, (SELECT x.reason FROM email_suppressions x WHERE x.email_hash = s.email_hash) AS suppressed,
            (SELECT coalesce(json_agg(c.action || ':' || c.source ORDER BY c.id), '[]') FROM consent_ledger c WHERE c.subscription_id = s.id) AS ledger
       FROM subscriptions s WHERE s.email = $1`, [email])
  return rows[0]!
}
const untouched = { status: 'active', suppressed: null }
const reportCount = async (stack: SupporterStack) => (await stack.pool.query('SELECT count(*)::int AS n FROM email_reports')).rows[0].n as number

function post(app: FastifyInstance, provider: string, body: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: `/v1/email-events/${provider}`, headers: { 'content-type': 'application/json', ...headers }, payload: body })
}

t.test('provider webhooks: verified events take effect, forged ones do not, and the next alert skips those supporters', async (t) => {
  const stack = await startSupporterStack(t, {
    BOUNCE_DOMAIN: DOMAIN, MAIL_FROM: 'Urgent Appeals <alerts@ngo.example>',
    SES_SNS_TOPIC_ARNS: TOPIC, POSTMARK_WEBHOOK_USER: POSTMARK.user, POSTMARK_WEBHOOK_PASSWORD: POSTMARK.password,
    MAILGUN_WEBHOOK_SIGNING_KEY: MAILGUN_KEY, SENDGRID_WEBHOOK_PUBLIC_KEY: SENDGRID_PUBLIC_KEY,
  })
  for (const email of PEOPLE) await subscribeAndConfirm(stack, email)
  const first = await publishAndSettle(stack, PEOPLE.length, 'UA 301/26')

  // SNS stand-in: a local server with the certificate, trusted only by this second app (an app option, not configuration).
  const aws = await startReceiver(t)
  const sns = snsCertificate()
  aws.answer('/SimpleNotificationService-test.pem', { status: 200, headers: { 'content-type': 'application/x-pem-file' }, body: sns.certificate })
  aws.answer('/confirm', { status: 200, body: '<ConfirmSubscriptionResponse/>' })
  const trusting = await buildApp({
    config: stack.config, pool: stack.pool, redis: stack.redis, logger: pino({ level: 'silent' }), readCache: false, gaugeRefreshMs: 0,
    trustedSnsOrigins: [new URL(aws.url()).origin],
  })
  t.teardown(() => trusting.close())
  const certUrl = aws.url('/SimpleNotificationService-test.pem')
  const snsBase = { TopicArn: TOPIC, SigningCertURL: certUrl, UnsubscribeURL: aws.url('/unsubscribe') }
  const sesNotification = (id: string, ses: unknown, over: Sns = {}): Sns =>
    ({ Type: 'Notification', MessageId: id, Message: JSON.stringify(ses), Timestamp: new Date().toISOString(), ...snsBase, ...over })

  await t.test('Amazon SES through SNS', async (t) => {
    const confirmation: Sns = {
      Type: 'SubscriptionConfirmation', MessageId: 'sns-confirm-1', Token: 'token-1', TopicArn: TOPIC, SigningCertURL: certUrl,
      Message: `You have chosen to subscribe to the topic ${TOPIC}.`, SubscribeURL: aws.url('/confirm?Action=ConfirmSubscription&Token=token-1'),
      Timestamp: new Date().toISOString(),
    }
    const signedConfirmation = JSON.stringify(signSns(confirmation, sns.key, '1'))
    const viaUntrusting = await post(stack.app, 'ses', signedConfirmation, { 'content-type': 'text/plain; charset=UTF-8' })
    t.equal(viaUntrusting.statusCode, 403, 'without the test trust, a certificate off sns.<region>.amazonaws.com is refused')
    t.equal(aws.requests.length, 0, 'and nothing was fetched from it')
    const confirmed = await post(trusting, 'ses', signedConfirmation, { 'content-type': 'text/plain; charset=UTF-8' })
    t.equal(confirmed.statusCode, 204, `a signed SubscriptionConfirmation (SignatureVersion 1) is confirmed (${confirmed.body})`)
    t.equal(aws.to('/confirm').length, 1, 'by a GET of its SubscribeURL')
    t.equal(aws.to('/confirm')[0]!.method, 'GET')

    const hard = await alertOf(stack, 'ses-hard@example.org', first)
    const bounce = {
      notificationType: 'Bounce',
      bounce: { bounceType: 'Permanent', bounceSubType: 'General', timestamp: new Date().toISOString(), feedbackId: 'f-1',
        bouncedRecipients: [{ emailAddress: 'ses-hard@example.org', status: '5.1.1', action: 'failed', diagnosticCode: 'smtp; 550 5.1.1 user unknown' }] },
      mail: { source: hard.returnPath, messageId: 'ses-own-id', headers: [{ name: 'Message-ID', value: hard.messageId }] },
    }
    const complaintOf = await alertOf(stack, 'ses-complaint@example.org', first)
    const complaint = {
      notificationType: 'Complaint',
      complaint: { complainedRecipients: [{ emailAddress: 'ses-complaint@example.org' }], timestamp: new Date().toISOString(), complaintFeedbackType: 'abuse' },
      mail: { source: 'alerts@ngo.example', headers: [{ name: 'Message-ID', value: complaintOf.messageId }] },
    }

    const tampered = signSns(sesNotification('sns-2', complaint), sns.key)
    tampered.Message = tampered.Message!.replace('abuse', 'fraud')
    t.equal((await post(trusting, 'ses', JSON.stringify(tampered))).statusCode, 401, 'a message changed after signing')
    const foreign = signSns(sesNotification('sns-3', complaint, { TopicArn: OTHER_TOPIC }), sns.key)
    t.equal((await post(trusting, 'ses', JSON.stringify(foreign))).statusCode, 403, 'a topic not in SES_SNS_TOPIC_ARNS')
    const stale = signSns(sesNotification('sns-4', complaint, { Timestamp: new Date(Date.now() - 3 * 3600_000).toISOString() }), sns.key)
    t.equal((await post(trusting, 'ses', JSON.stringify(stale))).statusCode, 401, 'a message older than SNS retries')
    const offHost = signSns(sesNotification('sns-5', complaint, { SigningCertURL: 'https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem' }), sns.key)
    t.equal((await post(trusting, 'ses', JSON.stringify(offHost))).statusCode, 403, 'a certificate host that only looks like AWS\'s')
    const unsigned = sesNotification('sns-6', complaint, { SignatureVersion: '2', Signature: randomBytes(256).toString('base64') })
    t.equal((await post(trusting, 'ses', JSON.stringify(unsigned))).statusCode, 401, 'a made-up signature')
    t.same(await state(stack, 'ses-complaint@example.org'), { ...untouched, ledger: ['subscribe:api', 'confirm:api'] }, 'none of them did anything')
    t.equal(await reportCount(stack), 0)

    const res = await post(trusting, 'ses', JSON.stringify(signSns(sesNotification('sns-7', bounce), sns.key)), { 'content-type': 'text/plain; charset=UTF-8' })
    t.equal(res.statusCode, 204, `a signed Permanent bounce (${res.body})`)
    t.match(await state(stack, 'ses-hard@example.org'), { status: 'active', suppressed: 'hard-bounce' }, 'suppressed')
    t.match((await state(stack, 'ses-hard@example.org')).ledger.at(-1), 'hard-bounce:ses', 'in the consent ledger')
    const again = await post(trusting, 'ses', JSON.stringify(signSns(sesNotification('sns-7', bounce), sns.key)))
    t.equal(again.statusCode, 204, 'SNS delivering the same message twice is fine…')
    t.equal(await reportCount(stack), 1, '…and changes nothing')

    t.equal((await post(trusting, 'ses', JSON.stringify(signSns(sesNotification('sns-8', complaint), sns.key)))).statusCode, 204)
    t.match(await state(stack, 'ses-complaint@example.org'), { status: 'unsubscribed', suppressed: 'complaint' }, 'a complaint unsubscribes (found by Message-ID)')
  })

  await t.test('Postmark', async (t) => {
    const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` })
    const record = JSON.stringify({
      RecordType: 'Bounce', ID: 4323372036854775807, Type: 'HardBounce', TypeCode: 1, MessageID: '883953f4-6105-42a2-a16a-77a8eac79483',
      Email: 'postmark@example.org', BouncedAt: new Date().toISOString(), Details: 'smtp;550 5.1.1 The email account that you tried to reach does not exist',
      Inactive: true, MessageStream: 'outbound',
    })
    const none = await post(stack.app, 'postmark', record)
    t.equal(none.statusCode, 401, 'no credentials')
    t.match(none.headers['www-authenticate'], /^Basic /, 'asks for basic auth')
    t.ok(none.headers['x-ratelimit-remaining'], 'counted by the rate limit before the credentials are checked')
    t.equal((await post(stack.app, 'postmark', record, basic(POSTMARK.user, `${POSTMARK.password}x`))).statusCode, 401, 'a wrong password')
    t.equal((await post(stack.app, 'postmark', record, basic('someone', POSTMARK.password))).statusCode, 401, 'a wrong user')
    t.same(await state(stack, 'postmark@example.org'), { ...untouched, ledger: ['subscribe:api', 'confirm:api'] }, 'nothing happened')
    const res = await post(stack.app, 'postmark', record, basic(POSTMARK.user, POSTMARK.password))
    t.equal(res.statusCode, 204, res.body)
    t.match(await state(stack, 'postmark@example.org'), { suppressed: 'hard-bounce' }, 'a HardBounce suppresses (found by Email)')
  })

  await t.test('Mailgun', async (t) => {
    const target = await alertOf(stack, 'mailgun@example.org', first)
    const signed = (timestamp: number, key = MAILGUN_KEY) => {
      const token = randomBytes(25).toString('hex')
      const ts = String(timestamp)
      return { timestamp: ts, token, signature: createHmac('sha256', key).update(ts + token).digest('hex') }
    }
    const eventData = {
      event: 'failed', severity: 'permanent', reason: 'bounce', id: 'G9Bn5sl1TC6nu79C8C0bwg', timestamp: Date.now() / 1000, recipient: 'mailgun@example.org',
      envelope: { sender: target.returnPath, transport: 'smtp' }, message: { headers: { 'message-id': target.messageId.replace(/^<|>$/g, '') } },
      'delivery-status': { code: 550, message: '5.1.1 The email account does not exist' },
    }
    const now = Math.floor(Date.now() / 1000)
    t.equal((await post(stack.app, 'mailgun', JSON.stringify({ signature: signed(now, 'key-wrong'), 'event-data': eventData }))).statusCode, 401, 'signed with another key')
    t.equal((await post(stack.app, 'mailgun', JSON.stringify({ signature: signed(now - 600), 'event-data': eventData }))).statusCode, 401, 'a timestamp 10 minutes old')
    t.equal((await post(stack.app, 'mailgun', '{"signature":')).statusCode, 400, 'not JSON')
    t.equal((await post(stack.app, 'mailgun', JSON.stringify({ 'event-data': eventData }))).statusCode, 400, 'no signature at all: malformed')
    t.same(await state(stack, 'mailgun@example.org'), { ...untouched, ledger: ['subscribe:api', 'confirm:api'] }, 'nothing happened')
    const body = JSON.stringify({ signature: signed(now), 'event-data': eventData })
    const res = await post(stack.app, 'mailgun', body)
    t.equal(res.statusCode, 204, res.body)
    t.equal(res.headers['x-ratelimit-limit'], String(EMAIL_EVENTS_RATE_LIMIT), 'counted by the endpoint\'s own rate limit')
    t.match(await state(stack, 'mailgun@example.org'), { suppressed: 'hard-bounce' }, 'a permanent failure suppresses')
    const reports = await reportCount(stack)
    t.equal((await post(stack.app, 'mailgun', body)).statusCode, 401, 'the same token again is a replay')
    t.equal(await reportCount(stack), reports)
  })

  await t.test('SendGrid', async (t) => {
    const target = await alertOf(stack, 'sendgrid@example.org', first)
    const events = JSON.stringify([
      { email: 'keep@example.org', timestamp: Math.floor(Date.now() / 1000), event: 'delivered', sg_event_id: 'sg-1', 'smtp-id': '<other@ngo.example>' },
      { email: 'sendgrid@example.org', timestamp: Math.floor(Date.now() / 1000), event: 'spamreport', sg_event_id: 'sg-2', 'smtp-id': target.messageId },
    ])
    const signed = (timestamp: number, privateKey = sendgridKeys.privateKey) => ({
      'x-twilio-email-event-webhook-timestamp': String(timestamp),
      'x-twilio-email-event-webhook-signature': sign('sha256', Buffer.concat([Buffer.from(String(timestamp)), Buffer.from(events)]), privateKey).toString('base64'),
    })
    const now = Math.floor(Date.now() / 1000)
    t.equal((await post(stack.app, 'sendgrid', events, signed(now, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey))).statusCode, 401, 'another key')
    t.equal((await post(stack.app, 'sendgrid', events, signed(now - 600))).statusCode, 401, 'a timestamp 10 minutes old')
    t.equal((await post(stack.app, 'sendgrid', events)).statusCode, 401, 'unsigned')
    t.equal((await post(stack.app, 'sendgrid', events.replace('spamreport', 'delivered'), signed(now))).statusCode, 401, 'a body changed after signing')
    t.same(await state(stack, 'sendgrid@example.org'), { ...untouched, ledger: ['subscribe:api', 'confirm:api'] }, 'nothing happened')
    const headers = signed(now)
    const res = await post(stack.app, 'sendgrid', events, headers)
    t.equal(res.statusCode, 204, res.body)
    t.match(await state(stack, 'sendgrid@example.org'), { status: 'unsubscribed', suppressed: 'complaint' }, 'a spam report unsubscribes')
    t.same(await state(stack, 'keep@example.org'), { ...untouched, ledger: ['subscribe:api', 'confirm:api'] }, 'a delivered event does nothing')
    t.equal((await post(stack.app, 'sendgrid', events, headers)).statusCode, 401, 'the same signed request again is a replay')
  })

  await t.test('a provider that is not configured answers 404', async (t) => {
    const bare = await buildApp({
      config: { ...stack.config, emailEvents: { sesTopicArns: [], postmark: null, mailgunSigningKey: null, sendgridPublicKey: null } },
      pool: stack.pool, redis: stack.redis, logger: pino({ level: 'silent' }), readCache: false, gaugeRefreshMs: 0,
    })
    t.teardown(() => bare.close())
    const shaped: Record<string, unknown> = {
      ses: signSns(sesNotification('sns-404', {}), sns.key), postmark: { RecordType: 'Bounce' },
      mailgun: { signature: { timestamp: '1', token: 't', signature: 's' }, 'event-data': { event: 'failed' } }, sendgrid: [],
    }
    for (const provider of ['ses', 'postmark', 'mailgun', 'sendgrid']) {
      const res = await post(bare, provider, JSON.stringify(shaped[provider]))
      t.equal(res.statusCode, 404, `${provider}: 404`)
      t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    }
    t.equal((await post(stack.app, 'sparkpost', '{}')).statusCode, 404, 'an unknown provider')
  })

  await t.test('the next alert reaches only the supporter nothing was reported about', async (t) => {
    await assertNextAlertReachesOnly(t, stack, PEOPLE, 'keep@example.org', 'UA 302/26')
    const { rows } = await stack.pool.query(`SELECT source, kind, count(*)::int AS n FROM email_reports GROUP BY 1, 2 ORDER BY 1, 2`)
    t.same(rows, [
      { source: 'mailgun', kind: 'hard-bounce', n: 1 }, { source: 'postmark', kind: 'hard-bounce', n: 1 },
      { source: 'sendgrid', kind: 'complaint', n: 1 }, { source: 'ses', kind: 'complaint', n: 1 }, { source: 'ses', kind: 'hard-bounce', n: 1 },
    ])
  })

  await t.test('a flood of forged requests from one address is cut off by the endpoint\'s own limit', async (t) => {
    const forged = JSON.stringify({ signature: { timestamp: String(Math.floor(Date.now() / 1000)), token: 'x', signature: '0'.repeat(64) }, 'event-data': { event: 'failed' } })
    const statuses = new Map<number, number>()
    for (let i = 0; i < EMAIL_EVENTS_RATE_LIMIT + 5; i++) {
      const { statusCode } = await post(stack.app, 'mailgun', forged)
      statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1)
    }
    t.ok((statuses.get(401) ?? 0) <= EMAIL_EVENTS_RATE_LIMIT, `at most ${EMAIL_EVENTS_RATE_LIMIT} verified a minute (${JSON.stringify([...statuses])})`)
    t.ok((statuses.get(429) ?? 0) >= 5, 'the rest refused before their body is read')
    const limited = await post(stack.app, 'mailgun', forged)
    t.equal(limited.statusCode, 429)
    t.ok(limited.headers['retry-after'], 'with Retry-After')
    t.equal((await post(stack.app, 'sendgrid', '[]')).statusCode, 401, 'each provider has its own budget')
  })
})
