// Reading inbound reports (contract §10, issue 13), pure: the example
// messages of RFC 3464 (appendix: simple, multi-recipient, delayed DSN) and
// RFC 5965 (appendix B: ARF, with and without the optional fields) adapted
// to our addresses, read as the listener reads them. Each names what the
// report means for us (hard or soft bounce, complaint, nothing) and never
// hands back the reported recipient's address.
import t from 'tap'
import { parseReport } from '../src/email/report-parser.js'

const RETURN_PATH = 'bounces+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@bounces.ngo.example'
const MESSAGE_ID = 'd42.msg_01jez4k7y1q2w3e4r5t6y7u8i9@ngo.example'

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'))

/** Our alert as the receiving MTA stored it (with the Return-Path it added), multipart like the real one. */
const ORIGINAL = [
  `Return-Path: <${RETURN_PATH}>`,
  'Received: from mail.ngo.example (mail.ngo.example [192.0.2.10])',
  '        by mx.example.org with ESMTPS id 4AbC; Sun, 6 Dec 2026 10:00:01 +0000',
  'From: Urgent Appeals <alerts@ngo.example>',
  'To: louisl@example.org',
  'Subject: UA 101/26: urgent action',
  `Message-ID: <${MESSAGE_ID}>`,
  'MIME-Version: 1.0',
  'Content-Type: multipart/alternative; boundary="alt"',
  '',
  '--alt',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Please write to the authorities.',
  '--alt',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<p>Please write to the authorities.</p>',
  '--alt--',
]

/** RFC 3464 appendix, "Simple DSN": Action failed with Status 4.0.0 (gave up after days of timeouts). */
const SIMPLE_DSN = crlf([
  'Date: Sun, 6 Dec 2026 17:16:05 -0400',
  'From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>',
  'Message-Id: <199407072116.RAA14128@mx.example.org>',
  'Subject: Returned mail: Cannot send message for 5 days',
  `To: <${RETURN_PATH}>`,
  'MIME-Version: 1.0',
  'Content-Type: multipart/report; report-type=delivery-status;',
  '              boundary="RAA14128.773615765/mx.example.org"',
  '',
  '--RAA14128.773615765/mx.example.org',
  '',
  '   The original message was received at Sat, 2 Dec 2026 17:10:28 -0400',
  '',
  '      ----- The following addresses had delivery problems -----',
  '<louisl@example.org>  (unrecoverable error)',
  '',
  '--RAA14128.773615765/mx.example.org',
  'content-type: message/delivery-status',
  '',
  'Reporting-MTA: dns; mx.example.org',
  '',
  'Original-Recipient: rfc822;louisl@example.org',
  'Final-Recipient: rfc822;louisl@example.org',
  'Action: failed',
  'Status: 4.0.0',
  'Diagnostic-Code: smtp; 426 connection timed out',
  'Last-Attempt-Date: Sun, 6 Dec 2026 17:15:49 -0400',
  '',
  '--RAA14128.773615765/mx.example.org',
  'content-type: message/rfc822',
  '',
  ...ORIGINAL,
  '--RAA14128.773615765/mx.example.org--',
  '',
])

/** RFC 3464 appendix, "Multi-Recipient DSN": two permanent failures and one delay; headers-only original. */
const MULTI_DSN = crlf([
  'Date: Fri, 8 Jul 1994 09:21:47 -0400',
  'From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>',
  'Message-Id: <multi-1@mx.example.org>',
  'Subject: Returned mail: User unknown',
  `To: <${RETURN_PATH}>`,
  'MIME-Version: 1.0',
  'Content-Type: multipart/report; report-type=delivery-status;',
  '              boundary="JAA13167.773673707/mx.example.org"',
  '',
  '--JAA13167.773673707/mx.example.org',
  'content-type: text/plain; charset=us-ascii',
  '',
  '   ----- The following addresses had delivery problems -----',
  '<arathib@example.org>  (unrecoverable error)',
  '',
  '--JAA13167.773673707/mx.example.org',
  'content-type: message/delivery-status',
  '',
  'Reporting-MTA: dns; mx.example.org',
  '',
  'Original-Recipient: rfc822;arathib@example.org',
  'Final-Recipient: rfc822;arathib@example.org',
  'Action: delayed',
  'Status: 4.0.0 (host name lookup failure)',
  '',
  'Original-Recipient: rfc822;wsnell@example.org',
  'Final-Recipient: rfc822;wsnell@example.org',
  'Action: failed',
  'Status: 5.1.1 (permanent failure)',
  "Diagnostic-Code: smtp; 550 'wsnell@example.org' is not a",
  '        registered gateway user',
  'Remote-MTA: dns; mx.example.org',
  '',
  '--JAA13167.773673707/mx.example.org',
  'content-type: text/rfc822-headers',
  '',
  ...ORIGINAL.slice(0, ORIGINAL.indexOf('')),
  '',
  '--JAA13167.773673707/mx.example.org--',
  '',
])

/** RFC 3464 appendix, "Delayed DSN". */
const DELAYED_DSN = crlf([
  'From: Mail Delivery Subsystem <MAILER-DAEMON@relay.example.net>',
  'Message-Id: <delayed-1@relay.example.net>',
  'Subject: Delivery delayed',
  `To: <${RETURN_PATH}>`,
  'MIME-Version: 1.0',
  'Content-Type: multipart/report; report-type=delivery-status; boundary="XXX"',
  '',
  '--XXX',
  'Content-Type: text/plain',
  '',
  'Your message has not yet been delivered. We will keep trying.',
  '--XXX',
  'Content-Type: message/delivery-status',
  '',
  'Reporting-MTA: dns; relay.example.net',
  '',
  'Final-Recipient: rfc822;thomas@example.org',
  'Status: 4.0.0 (unknown temporary failure)',
  'Action: delayed',
  '',
  '--XXX--',
  '',
])

/** A DSN that only says the mail arrived (a relay honouring NOTIFY=SUCCESS). */
const delivered = (action: string) => crlf([
  'From: MAILER-DAEMON@mx.example.org',
  `To: <${RETURN_PATH}>`,
  'Subject: Successful Mail Delivery Report',
  'MIME-Version: 1.0',
  'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
  '',
  '--b',
  'Content-Type: message/delivery-status',
  '',
  'Reporting-MTA: dns; mx.example.org',
  '',
  'Final-Recipient: rfc822;louisl@example.org',
  `Action: ${action}`,
  'Status: 2.0.0',
  '',
  '--b--',
  '',
])

/** RFC 5965 appendix B.1 (minimal) or B.2 (optional fields, headers only) adapted: a complaint about our alert. */
const arf = (feedbackType: string, optionalFields: boolean) => crlf([
  'From: <abusedesk@example.com>',
  'Date: Thu, 8 Mar 2026 17:40:36 EDT',
  'Subject: FW: UA 101/26: urgent action',
  `To: <${RETURN_PATH}>`,
  'Message-ID: <arf-report-1@example.com>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/report; report-type=feedback-report;',
  '     boundary="part1_13d.2e68ed54_boundary"',
  '',
  '--part1_13d.2e68ed54_boundary',
  'Content-Type: text/plain; charset="US-ASCII"',
  'Content-Transfer-Encoding: 7bit',
  '',
  'This is an email abuse report for an email message received from IP',
  '192.0.2.10 on Thu, 8 Mar 2026 14:00:00 EDT.',
  '',
  '--part1_13d.2e68ed54_boundary',
  'Content-Type: message/feedback-report',
  '',
  `Feedback-Type: ${feedbackType}`,
  'User-Agent: SomeGenerator/1.0',
  'Version: 1',
  ...(optionalFields ? [
    `Original-Mail-From: <${RETURN_PATH}>`,
    'Original-Rcpt-To: <user@example.com>',
    'Received-Date: Thu, 8 Mar 2026 14:00:00 EDT',
    'Source-IP: 192.0.2.10',
    'Authentication-Results: mail.example.com;',
    '               spf=pass smtp.mail=bounces.ngo.example',
    'Reported-Domain: ngo.example',
    'Removal-Recipient: user@example.com',
  ] : []),
  '',
  '--part1_13d.2e68ed54_boundary',
  ...(optionalFields
    ? ['Content-Type: text/rfc822-headers', '', ...ORIGINAL.slice(0, ORIGINAL.indexOf('')), '']
    : ['Content-Type: message/rfc822', 'Content-Disposition: inline', '', ...ORIGINAL]),
  '--part1_13d.2e68ed54_boundary--',
  '',
])

t.test('DSNs (RFC 3464 appendix examples): failed 5.x.x is a hard bounce, failed 4.x.x or delayed a soft one', async (t) => {
  t.same(await parseReport(SIMPLE_DSN), {
    kind: 'soft-bounce', source: 'smtp-dsn', status: '4.0.0', reportId: '199407072116.RAA14128@mx.example.org',
    originalReturnPath: RETURN_PATH, originalMessageId: MESSAGE_ID,
  }, 'simple DSN: gave up on a temporary failure; the original (multipart) read for its Return-Path and Message-ID')
  t.same(await parseReport(MULTI_DSN), {
    kind: 'hard-bounce', source: 'smtp-dsn', status: '5.1.1', reportId: 'multi-1@mx.example.org',
    originalReturnPath: RETURN_PATH, originalMessageId: MESSAGE_ID,
  }, 'multi-recipient DSN: the permanent failure wins over the delay; folded fields and text/rfc822-headers read')
  t.same(await parseReport(DELAYED_DSN), {
    kind: 'soft-bounce', source: 'smtp-dsn', status: '4.0.0', reportId: 'delayed-1@relay.example.net',
    originalReturnPath: null, originalMessageId: null,
  }, 'delayed DSN, no original attached')
  for (const action of ['delivered', 'relayed', 'expanded']) t.equal(await parseReport(delivered(action)), null, `Action: ${action} → nothing`)
})

t.test('ARF reports (RFC 5965 appendix B): abuse and fraud are complaints, other feedback types are not', async (t) => {
  t.same(await parseReport(arf('abuse', false)), {
    kind: 'complaint', source: 'smtp-arf', status: null, reportId: 'arf-report-1@example.com',
    originalReturnPath: RETURN_PATH, originalMessageId: MESSAGE_ID,
  }, 'B.1: the original message attached (its Return-Path names us)')
  t.same(await parseReport(arf('abuse', true)), {
    kind: 'complaint', source: 'smtp-arf', status: null, reportId: 'arf-report-1@example.com',
    originalReturnPath: RETURN_PATH, originalMessageId: MESSAGE_ID,
  }, 'B.2: Original-Mail-From and the original headers only')
  t.match(await parseReport(arf('fraud', true)), { kind: 'complaint' }, 'fraud (reported as phishing)')
  for (const type of ['not-spam', 'virus', 'other', 'auth-failure']) t.equal(await parseReport(arf(type, true)), null, `Feedback-Type: ${type} → nothing`)
})

t.test('anything else is no report, and nothing returned carries the recipient address', async (t) => {
  t.equal(await parseReport(crlf(['From: someone@example.org', 'Subject: Out of office', '', 'I am away until Monday.', ''])), null, 'an auto-reply')
  t.equal(await parseReport(Buffer.from('\u0000\u0001 not mail at all')), null, 'garbage')
  t.equal(await parseReport(crlf([
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b"', '', '--b',
    'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; x', '', 'Final-Recipient: rfc822;a@example.org',
    'Action: failed', 'Status: 550 not an enhanced code', '', '--b--', '',
  ])), null, 'a failed recipient without an enhanced status code')
  for (const message of [SIMPLE_DSN, MULTI_DSN, DELAYED_DSN, arf('abuse', true)]) {
    t.notMatch(JSON.stringify(await parseReport(message)), /louisl|arathib|wsnell|thomas|user@/, 'no reported address in the result')
  }
})
