// The provider webhooks' pure parts (src/email-events/*.ts): SNS's canonical
// string and certificate host rule, each verifier on signatures made here,
// and each mapper from a provider payload to the reports it means.
import { createHmac, createSign, generateKeyPairSync, sign } from 'node:crypto'
import t from 'tap'
import { AppError } from '../src/errors.js'
import { sameSecret } from '../src/auth/console-tokens.js'
import { enhancedStatus, isFresh } from '../src/email-events/common.js'
import { SnsVerifier, sesReports, snsSignatureValid, snsStringToSign, snsUrl, type SnsMessage } from '../src/email-events/sns.js'
import { postmarkReports, verifyPostmark } from '../src/email-events/postmark.js'
import { mailgunReports, verifyMailgun } from '../src/email-events/mailgun.js'
import { sendgridPublicKey, sendgridReports, verifySendgrid } from '../src/email-events/sendgrid.js'
import { loadConfig } from '../src/config.js'

const statusOf = (fn: () => unknown): number | 'ok' => {
  try { fn(); return 'ok' } catch (error) { if (error instanceof AppError) return error.status; throw error }
}

const notification: SnsMessage = {
  Type: 'Notification', MessageId: 'm-1', TopicArn: 'arn:aws:sns:eu-west-1:123456789012:ses', Message: '{"a":1}',
  Timestamp: '2026-12-06T12:00:00.000Z', SignatureVersion: '2', Signature: '', SigningCertURL: 'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem',
}

t.test('SNS: the canonical string of each message type', async (t) => {
  t.equal(snsStringToSign(notification), 'Message\n{"a":1}\nMessageId\nm-1\nTimestamp\n2026-12-06T12:00:00.000Z\nTopicArn\narn:aws:sns:eu-west-1:123456789012:ses\nType\nNotification\n',
    'a Notification without Subject leaves it out')
  t.match(snsStringToSign({ ...notification, Subject: 'Hi' }), /^Message\n\{"a":1\}\nMessageId\nm-1\nSubject\nHi\nTimestamp\n/, 'with Subject, after MessageId')
  t.equal(snsStringToSign({ ...notification, Type: 'SubscriptionConfirmation', SubscribeURL: 'https://s/x', Token: 'tok' }),
    'Message\n{"a":1}\nMessageId\nm-1\nSubscribeURL\nhttps://s/x\nTimestamp\n2026-12-06T12:00:00.000Z\nToken\ntok\nTopicArn\narn:aws:sns:eu-west-1:123456789012:ses\nType\nSubscriptionConfirmation\n')
  t.equal(snsStringToSign({ ...notification, Type: 'SubscriptionConfirmation' }), null, 'a confirmation without its Token cannot be verified')
  t.equal(snsStringToSign({ ...notification, Type: 'Other' }), null)
})

t.test('SNS: certificates and SubscribeURL only from https://sns.<region>.amazonaws.com', async (t) => {
  for (const ok of ['https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-1.pem', 'https://sns.cn-north-1.amazonaws.com.cn/a.pem', 'https://sns.us-gov-west-1.amazonaws.com/?Action=ConfirmSubscription']) {
    t.ok(snsUrl(ok), ok)
  }
  for (const bad of [
    'http://sns.eu-west-1.amazonaws.com/a.pem', 'https://sns.eu-west-1.amazonaws.com.evil.example/a.pem', 'https://evil.example/sns.eu-west-1.amazonaws.com/a.pem',
    'https://sns.eu-west-1.amazonaws.com:8443/a.pem', 'https://user:pw@sns.eu-west-1.amazonaws.com/a.pem', 'https://s3.eu-west-1.amazonaws.com/a.pem',
    'https://sns.amazonaws.com/a.pem', 'https://xsns.eu-west-1.amazonaws.com/a.pem', 'http://127.0.0.1:8080/a.pem', 'not a url',
  ]) t.equal(snsUrl(bad), null, bad)
  t.ok(snsUrl('http://127.0.0.1:8080/a.pem', ['http://127.0.0.1:8080']), 'a trusted origin (tests only)')
  t.equal(snsUrl('http://127.0.0.1:8081/a.pem', ['http://127.0.0.1:8080']), null, 'exactly that origin')
})

t.test('SNS: signatures of version 1 and 2, and the verifier\'s cheap refusals come before any fetch', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  for (const [version, algorithm] of [['1', 'RSA-SHA1'], ['2', 'RSA-SHA256']] as const) {
    const message = { ...notification, SignatureVersion: version }
    const signature = createSign(algorithm).update(snsStringToSign(message)!).sign(privateKey, 'base64')
    t.ok(snsSignatureValid({ ...message, Signature: signature }, publicKey), `version ${version}`)
    t.notOk(snsSignatureValid({ ...message, Signature: signature, Message: '{"a":2}' }, publicKey), `version ${version}, changed message`)
    t.notOk(snsSignatureValid({ ...message, Signature: signature, SignatureVersion: version === '1' ? '2' : '1' }, publicKey), `version ${version} claimed as the other`)
  }
  const verifier = new SnsVerifier({ topicArns: [notification.TopicArn] })
  const now = new Date(notification.Timestamp)
  const refused = async (message: SnsMessage) => { try { await verifier.verify(message, now); return 'ok' } catch (e) { return (e as AppError).status } }
  t.equal(await refused({ ...notification, TopicArn: 'arn:aws:sns:eu-west-1:123456789012:other' }), 403, 'a topic not listed')
  t.equal(await refused({ ...notification, SignatureVersion: '3' }), 401, 'an unknown signature version')
  t.equal(await refused({ ...notification, SigningCertURL: 'https://sns.eu-west-1.amazonaws.com/x.txt' }), 403, 'not a .pem')
  t.equal(await refused({ ...notification, SigningCertURL: 'https://attacker.example/x.pem' }), 403, 'not AWS')
  t.equal(await refused({ ...notification, Timestamp: '2026-12-06T09:00:00.000Z' }), 401, 'three hours old')
  t.equal(await refused({ ...notification, Type: 'Surprise' }), 400, 'an unknown type')
})

t.test('SES notifications map to reports per recipient', async (t) => {
  const sns = (ses: unknown) => ({ ...notification, MessageId: 'sns-9', Message: JSON.stringify(ses) })
  const mail = { source: 'bounces+abc@b.example', headers: [{ name: 'From', value: 'x' }, { name: 'Message-ID', value: '<d1.msg_x@ngo.example>' }], commonHeaders: { messageId: '<ses@amazonses.com>' } }
  const bounce = (bounceType: string) => sesReports(sns({
    notificationType: 'Bounce', mail,
    bounce: { bounceType, timestamp: '2026-12-06T11:00:00.000Z', bouncedRecipients: [{ emailAddress: 'a@example.org', status: '5.1.1' }, { emailAddress: 'b@example.org', diagnosticCode: 'smtp; 452 4.2.2 mailbox full' }] },
  }))
  t.same(bounce('Permanent'), {
    skipped: 0,
    reports: [
      { source: 'ses', returnPath: 'bounces+abc@b.example', messageId: '<d1.msg_x@ngo.example>', reportId: 'sns-9', kind: 'hard-bounce', recipient: 'a@example.org', status: '5.1.1', occurredAt: new Date('2026-12-06T11:00:00.000Z') },
      { source: 'ses', returnPath: 'bounces+abc@b.example', messageId: '<d1.msg_x@ngo.example>', reportId: 'sns-9', kind: 'hard-bounce', recipient: 'b@example.org', status: '4.2.2', occurredAt: new Date('2026-12-06T11:00:00.000Z') },
    ],
  }, 'Permanent: hard, one per recipient, with the original Message-ID (not SES\'s own)')
  t.same(bounce('Transient').reports.map((r) => r.kind), ['soft-bounce', 'soft-bounce'])
  t.same(bounce('Undetermined').reports.map((r) => r.kind), ['soft-bounce', 'soft-bounce'])
  t.same(bounce('Sideways'), { reports: [], skipped: 1 })
  const complaint = (extra: Record<string, unknown>) => sesReports(sns({ eventType: 'Complaint', mail: { source: 'alerts@ngo.example' }, complaint: { complainedRecipients: [{ emailAddress: 'c@example.org' }], ...extra } }))
  t.match(complaint({ complaintFeedbackType: 'abuse' }).reports, [{ kind: 'complaint', recipient: 'c@example.org', returnPath: 'alerts@ngo.example' }], 'SES event publishing (eventType) too')
  t.same(complaint({ complaintFeedbackType: 'not-spam' }), { reports: [], skipped: 1 }, 'a not-spam feedback is no complaint')
  t.same(sesReports(sns({ notificationType: 'Delivery', mail })), { reports: [], skipped: 1 })
  t.same(sesReports({ ...notification, Message: 'plain text' }), { reports: [], skipped: 1 }, 'a message that is not SES JSON')
})

t.test('Postmark: basic auth, and record types', async (t) => {
  const credentials = { user: 'pm', password: 'p'.repeat(20) }
  const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`
  t.equal(statusOf(() => verifyPostmark(basic(`pm:${'p'.repeat(20)}`), credentials)), 'ok')
  for (const bad of [undefined, '', basic(`pm:${'p'.repeat(19)}`), basic(`pm:${'p'.repeat(20)}:`), basic('pm'), `Bearer ${'p'.repeat(20)}`, basic(`PM:${'p'.repeat(20)}`)]) {
    t.equal(statusOf(() => verifyPostmark(bad, credentials)), 401, String(bad))
  }
  const record = (RecordType: string, Type: string) => postmarkReports({ RecordType, Type, Email: 'a@example.org', ID: 42, BouncedAt: '2026-12-06T10:00:00Z', Details: 'smtp;550 5.1.1 no such user' })
  t.same(record('Bounce', 'HardBounce'), { skipped: 0, reports: [{ kind: 'hard-bounce', source: 'postmark', recipient: 'a@example.org', status: '5.1.1', reportId: '42@2026-12-06T10:00:00Z', occurredAt: new Date('2026-12-06T10:00:00Z') }] })
  for (const [type, kind] of [['BadEmailAddress', 'hard-bounce'], ['Transient', 'soft-bounce'], ['SoftBounce', 'soft-bounce'], ['DnsError', 'soft-bounce'], ['SpamNotification', 'soft-bounce'], ['Blocked', 'soft-bounce'], ['SpamComplaint', 'complaint']]) {
    t.equal(record('Bounce', type!).reports[0]?.kind, kind, `${type} → ${kind}`)
  }
  for (const type of ['AutoResponder', 'AddressChange', 'Unsubscribe', 'ManuallyDeactivated', 'DMARCPolicy', 'ChallengeVerification']) t.same(record('Bounce', type).reports, [], `${type} ignored`)
  t.equal(record('SpamComplaint', 'SpamComplaint').reports[0]?.kind, 'complaint')
  t.same(record('Delivery', '').reports, [])
  const withContent = postmarkReports({ RecordType: 'Bounce', Type: 'HardBounce', Email: 'a@example.org', Content: 'Received: x\r\nMessage-ID: <d7.msg_01abc@ngo.example>\r\nSubject: s\r\n\r\nMessage-ID: <not-this@x>' })
  t.equal(withContent.reports[0]?.messageId, '<d7.msg_01abc@ngo.example>', 'our Message-ID from the included content\'s headers')
  t.equal(postmarkReports({ RecordType: 'Bounce', Type: 'HardBounce', Email: 'a@example.org', Headers: [{ Name: 'Message-ID', Value: '<d8.msg_x@n>' }] }).reports[0]?.messageId, '<d8.msg_x@n>')
})

t.test('Mailgun: signature, freshness, and events', async (t) => {
  const key = 'key-0123456789abcdef'
  const now = new Date('2026-12-06T12:00:00Z')
  const at = (seconds: number, signingKey = key, token = 't'.repeat(50)) => {
    const timestamp = String(Math.floor(now.getTime() / 1000) + seconds)
    return { timestamp, token, signature: createHmac('sha256', signingKey).update(timestamp + token).digest('hex') }
  }
  t.equal(statusOf(() => verifyMailgun(at(0), key, now)), 'ok')
  t.equal(statusOf(() => verifyMailgun(at(-299), key, now)), 'ok', 'within 5 minutes')
  t.equal(statusOf(() => verifyMailgun(at(-301), key, now)), 401, 'older than 5 minutes')
  t.equal(statusOf(() => verifyMailgun(at(400), key, now)), 401, 'from the future')
  t.equal(statusOf(() => verifyMailgun(at(0, 'key-other'), key, now)), 401, 'another key')
  t.equal(statusOf(() => verifyMailgun({ ...at(0), token: 'u'.repeat(50) }, key, now)), 401, 'another token')
  t.equal(statusOf(() => verifyMailgun({ ...at(0), signature: 'zz' }, key, now)), 401, 'not hex')
  const event = (data: Record<string, unknown>) => mailgunReports({ recipient: 'a@example.org', id: 'ev-1', timestamp: 1765022400.5, ...data })
  t.same(event({ event: 'failed', severity: 'permanent', envelope: { sender: 'bounces+x@b.example' }, message: { headers: { 'message-id': 'd1.msg_x@ngo.example' } }, 'delivery-status': { code: 550, message: '5.1.1 unknown' } }), {
    skipped: 0,
    reports: [{ kind: 'hard-bounce', source: 'mailgun', returnPath: 'bounces+x@b.example', messageId: 'd1.msg_x@ngo.example', recipient: 'a@example.org', status: '5.1.1', reportId: 'd1.msg_x@ngo.example', occurredAt: new Date(1765022400500) }],
  }, 'permanent failure: hard, counted once per message')
  t.equal(event({ event: 'failed', severity: 'temporary' }).reports[0]?.kind, 'soft-bounce')
  t.equal(event({ event: 'failed', severity: 'temporary' }).reports[0]?.reportId, 'ev-1', 'without a Message-ID, the event id')
  t.equal(event({ event: 'complained' }).reports[0]?.kind, 'complaint')
  for (const name of ['delivered', 'opened', 'unsubscribed', 'accepted']) t.same(event({ event: name }), { reports: [], skipped: 1 }, `${name} ignored`)
})

t.test('SendGrid: ECDSA signature over timestamp and raw body, and events', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const key = sendgridPublicKey(publicKey.export({ format: 'der', type: 'spki' }).toString('base64'))
  const now = new Date('2026-12-06T12:00:00Z')
  const body = Buffer.from('[{"event":"bounce"}]\r\n')
  const signed = (seconds: number, raw = body, signer = privateKey) => {
    const timestamp = String(Math.floor(now.getTime() / 1000) + seconds)
    return { timestamp, signature: sign('sha256', Buffer.concat([Buffer.from(timestamp), raw]), signer).toString('base64') }
  }
  t.equal(statusOf(() => verifySendgrid(signed(0), body, key, now)), 'ok')
  t.equal(statusOf(() => verifySendgrid(signed(-301), body, key, now)), 401, 'older than 5 minutes')
  t.equal(statusOf(() => verifySendgrid(signed(0, Buffer.from('[{"event":"bounce"}]')), body, key, now)), 401, 'the raw bytes, not a re-serialisation')
  t.equal(statusOf(() => verifySendgrid(signed(0, body, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey), body, key, now)), 401, 'another key')
  t.equal(statusOf(() => verifySendgrid({ timestamp: signed(0).timestamp }, body, key, now)), 401, 'no signature')
  t.equal(statusOf(() => verifySendgrid({ ...signed(0), signature: 'not base64!' }, body, key, now)), 401)
  const events = sendgridReports([
    { event: 'bounce', type: 'bounce', email: 'a@example.org', sg_event_id: 'e1', status: '5.1.1', 'smtp-id': '<d1.msg_x@ngo.example>', timestamp: 1765022400 },
    { event: 'bounce', type: 'blocked', email: 'b@example.org', sg_event_id: 'e2' },
    { event: 'spamreport', email: 'c@example.org', sg_event_id: 'e3' },
    { event: 'dropped', reason: 'Bounced Address', email: 'd@example.org', sg_event_id: 'e4' },
    { event: 'dropped', reason: 'Spam Reporting Address', email: 'e@example.org', sg_event_id: 'e5' },
    { event: 'dropped', reason: 'Unsubscribed Address', email: 'f@example.org', sg_event_id: 'e6' },
    { event: 'deferred', email: 'g@example.org' }, { event: 'delivered', email: 'h@example.org' }, { event: 'bounce', type: 'bounce' },
  ])
  t.same(events.reports[0], { kind: 'hard-bounce', source: 'sendgrid', recipient: 'a@example.org', messageId: '<d1.msg_x@ngo.example>', status: '5.1.1', reportId: 'e1', occurredAt: new Date(1765022400000) })
  t.same(events.reports.map((r) => [r.recipient, r.kind]), [['a@example.org', 'hard-bounce'], ['b@example.org', 'soft-bounce'], ['c@example.org', 'complaint'], ['d@example.org', 'hard-bounce'], ['e@example.org', 'complaint']])
  t.equal(events.skipped, 4, 'our own unsubscribe list at SendGrid, deferrals (SendGrid retries), deliveries and an event without an address')
})

t.test('shared pieces and the configuration', async (t) => {
  t.ok(isFresh('1765022400', new Date(1765022400_000 + 300_000)))
  t.notOk(isFresh('1765022400', new Date(1765022400_000 + 301_000)))
  t.notOk(isFresh('17650e2400', new Date()))
  t.ok(sameSecret('a:b', 'a:b'))
  t.notOk(sameSecret('a:b', 'a:bb'))
  t.equal(enhancedStatus(undefined, 'smtp; 550 5.7.1 blocked'), '5.7.1')
  t.equal(enhancedStatus('550'), undefined)

  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const spki = publicKey.export({ format: 'der', type: 'spki' }).toString('base64')
  const config = loadConfig({
    SES_SNS_TOPIC_ARNS: 'arn:aws:sns:eu-west-1:123456789012:ses-bounces, arn:aws-cn:sns:cn-north-1:123456789012:b.fifo',
    POSTMARK_WEBHOOK_USER: 'pm', POSTMARK_WEBHOOK_PASSWORD: 'x'.repeat(16), MAILGUN_WEBHOOK_SIGNING_KEY: 'key-0123456789abcdef', SENDGRID_WEBHOOK_PUBLIC_KEY: spki,
  })
  t.same(config.emailEvents, {
    sesTopicArns: ['arn:aws:sns:eu-west-1:123456789012:ses-bounces', 'arn:aws-cn:sns:cn-north-1:123456789012:b.fifo'],
    postmark: { user: 'pm', password: 'x'.repeat(16) }, mailgunSigningKey: 'key-0123456789abcdef', sendgridPublicKey: spki,
  })
  const problems = (env: Record<string, string>) => { try { loadConfig(env); return [] } catch (e) { return (e as { problems: string[] }).problems.map((p) => p.split(':')[0]) } }
  t.same(problems({ SES_SNS_TOPIC_ARNS: 'arn:aws:s3:::bucket' }), ['SES_SNS_TOPIC_ARNS'])
  t.same(problems({ POSTMARK_WEBHOOK_USER: 'pm' }), ['POSTMARK_WEBHOOK_USER, POSTMARK_WEBHOOK_PASSWORD'], 'both or neither')
  t.same(problems({ POSTMARK_WEBHOOK_USER: 'pm', POSTMARK_WEBHOOK_PASSWORD: 'short' }), ['POSTMARK_WEBHOOK_PASSWORD'])
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' }).toString('base64')
  t.same(problems({ SENDGRID_WEBHOOK_PUBLIC_KEY: rsa }), ['SENDGRID_WEBHOOK_PUBLIC_KEY'], 'an RSA key is not SendGrid\'s')
  t.same(problems({ SENDGRID_WEBHOOK_PUBLIC_KEY: 'A'.repeat(60) }), ['SENDGRID_WEBHOOK_PUBLIC_KEY'], 'not a key')
})
