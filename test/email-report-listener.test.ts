// Bounce and complaint reports by SMTP (contract §10, issue 13 item 2),
// end to end: the worker started with BOUNCE_SMTP_PORT listens; real alert
// mail is caught by the SMTP sink; DSNs (RFC 3464) and an ARF report
// (RFC 5965) written around the caught original are sent over SMTP to the
// listener at its envelope sender `bounces+<token>@BOUNCE_DOMAIN`. A
// permanent failure suppresses, temporary ones suppress at the documented
// count, a complaint unsubscribes (also one sent to the feedback-loop
// address `bounces@BOUNCE_DOMAIN`); the next alert skips them all. Forged
// tokens and other recipients are refused at RCPT, an oversized message at
// DATA, a flood at MAIL FROM; the log names delivery ids, never an address.
import t from 'tap'
import { connect, createServer } from 'node:net'
import { Writable } from 'node:stream'
import { createTransport } from 'nodemailer'
import { pino } from 'pino'
import { SOFT_BOUNCE_LIMIT } from '../src/services/email-reports.js'
import { startReportListener } from '../src/email/report-listener.js'
import { createPool } from '../src/db/pool.js'
import { alertOf, assertNextAlertReachesOnly, BOUNCE_DOMAIN, publishAndSettle } from './helpers/bounces.js'
import { startSupporterStack, subscribeAndConfirm, type SupporterStack } from './helpers/supporters.js'

const DOMAIN = BOUNCE_DOMAIN
const PEOPLE = ['hard@example.org', 'soft@example.org', 'complain@example.org', 'fbl@example.org', 'keep@example.org'] as const
const FEEDBACK_LOOP = `bounces@${DOMAIN}`

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}



let reportSeq = 0

/** A DSN as RFC 3464 writes it (multipart/report, the original attached as message/rfc822). */
function dsn(o: { returnPath: string; recipient: string; action: string; status: string; original: Buffer; padding?: number }): Buffer {
  const boundary = `DSN.${++reportSeq}/mx.example.org`
  return Buffer.concat([Buffer.from([
    'From: Mail Delivery System <MAILER-DAEMON@mx.example.org>',
    `To: <${o.returnPath}>`,
    `Message-ID: <dsn-${reportSeq}@mx.example.org>`,
    'Subject: Undelivered Mail Returned to Sender',
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'This is the mail system at host mx.example.org.',
    `<${o.recipient}>: host mx.example.org said: ${o.status} ...`,
    ...Array<string>(Math.ceil((o.padding ?? 0) / 78)).fill('x'.repeat(76)),
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.org',
    `Arrival-Date: ${new Date().toUTCString()}`,
    '',
    `Final-Recipient: rfc822; ${o.recipient}`,
    `Original-Recipient: rfc822;${o.recipient}`,
    `Action: ${o.action}`,
    `Status: ${o.status}`,
    'Remote-MTA: dns; mail.example.org',
    `Diagnostic-Code: smtp; ${o.status.startsWith('5') ? '550' : '452'} ${o.status} mailbox says no`,
    '',
    `--${boundary}`,
    'Content-Type: message/rfc822',
    '',
    '',
  ].join('\r\n')), o.original, Buffer.from(`\r\n--${boundary}--\r\n`)])
}

/** An ARF report as RFC 5965 writes it (a feedback loop forwarding a "this is spam" click). */
function arf(o: { to: string; returnPath: string; recipient: string; original: Buffer }): Buffer {
  const boundary = `ARF.${++reportSeq}`
  return Buffer.concat([Buffer.from([
    'From: <staff@fbl.example.com>',
    `To: <${o.to}>`,
    `Message-ID: <arf-${reportSeq}@fbl.example.com>`,
    'Subject: FW: complaint',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=feedback-report;\r\n     boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset="US-ASCII"',
    '',
    'This is an email abuse report for an email message received from IP 192.0.2.10.',
    '',
    `--${boundary}`,
    'Content-Type: message/feedback-report',
    '',
    'Feedback-Type: abuse',
    'User-Agent: SomeGenerator/1.0',
    'Version: 1',
    `Original-Mail-From: <${o.returnPath}>`,
    `Original-Rcpt-To: <${o.recipient}>`,
    'Source-IP: 192.0.2.10',
    `Removal-Recipient: ${o.recipient}`,
    '',
    `--${boundary}`,
    'Content-Type: message/rfc822',
    'Content-Disposition: inline',
    '',
    '',
  ].join('\r\n')), o.original, Buffer.from(`\r\n--${boundary}--\r\n`)])
}

/** Sends a raw message over SMTP to the listener; resolves with the reply, or the SMTP error's code. */
async function send(port: number, to: string, raw: Buffer, from = ''): Promise<{ ok: true } | { ok: false; code: number | undefined; command: string | undefined }> {
  const transport = createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, connectionTimeout: 5_000, socketTimeout: 10_000 })
  try {
    await transport.sendMail({ envelope: { from, to: [to] }, raw })
    return { ok: true }
  } catch (error) {
    const e = error as { responseCode?: number; command?: string }
    return { ok: false, code: e.responseCode, command: e.command }
  } finally {
    transport.close()
  }
}

async function state(stack: SupporterStack, email: string) {
  const { rows } = await stack.pool.query<{ status: string; suppressed: string | null; actions: string[] }>(
    `SELECT s.status, (SELECT x.reason FROM email_suppressions x WHERE x.email_hash = s.email_hash) AS suppressed,
            ARRAY(SELECT c.action FROM consent_ledger c WHERE c.subscription_id = s.id ORDER BY c.id) AS actions
       FROM subscriptions s WHERE s.email = $1`, [email])
  return rows[0]!
}

t.test('the worker takes DSN and ARF reports by SMTP at BOUNCE_SMTP_PORT', async (t) => {
  const port = await freePort()
  const stack = await startSupporterStack(t, { BOUNCE_DOMAIN: DOMAIN, BOUNCE_SMTP_PORT: String(port), MAIL_FROM: 'Urgent Appeals <alerts@ngo.example>' })
  for (const email of PEOPLE) await subscribeAndConfirm(stack, email)
  const appeals: string[] = []
  for (let i = 1; i <= SOFT_BOUNCE_LIMIT; i++) appeals.push(await publishAndSettle(stack, PEOPLE.length, `UA 31${i}/26`))
  const first = appeals[0]!
  const reports = async () => (await stack.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM email_reports')).rows[0]!.n

  await t.test('recipients other than our return paths are refused at RCPT, forged tokens too', async (t) => {
    const keep = await alertOf(stack, 'keep@example.org', first)
    const original = keep.raw
    const report = (to: string) => dsn({ returnPath: to, recipient: 'keep@example.org', action: 'failed', status: '5.1.1', original })
    const [local, domain] = keep.returnPath.split('@') as [string, string]
    const forged = `${local.slice(0, -1)}${local.endsWith('a') ? 'b' : 'a'}@${domain}`
    for (const [what, to] of [
      ['a forged token', forged],
      ['a real token at another domain', `${local}@other.example`],
      ['postmaster', `postmaster@${DOMAIN}`],
      ['another domain', 'keep@example.org'],
    ] as const) {
      t.match(await send(port, to, report(to)), { ok: false, code: 550, command: 'RCPT TO' }, `${what}: 550 at RCPT TO`)
    }
    t.same(await state(stack, 'keep@example.org'), { status: 'active', suppressed: null, actions: ['subscribe', 'confirm'] }, 'still mailed')
    t.equal(await reports(), 0, 'nothing stored')
  })

  await t.test('a message over the size limit is refused and changes nothing', async (t) => {
    const keep = await alertOf(stack, 'keep@example.org', first)
    const big = dsn({ returnPath: keep.returnPath, recipient: 'keep@example.org', action: 'failed', status: '5.1.1', original: keep.raw, padding: 300 * 1024 })
    t.ok(big.length > 256 * 1024)
    t.match(await send(port, keep.returnPath, big), { ok: false, code: 552 }, '552')
    t.equal((await state(stack, 'keep@example.org')).suppressed, null, 'not suppressed')
    t.equal(await reports(), 0)
  })

  await t.test('a DSN saying "delivered" is taken and does nothing', async (t) => {
    const keep = await alertOf(stack, 'keep@example.org', first)
    t.same(await send(port, keep.returnPath, dsn({ returnPath: keep.returnPath, recipient: 'keep@example.org', action: 'delivered', status: '2.0.0', original: keep.raw })), { ok: true })
    t.equal((await state(stack, 'keep@example.org')).suppressed, null)
    t.equal(await reports(), 0)
  })

  await t.test('a permanent failure (5.1.1) suppresses at once', async (t) => {
    const hard = await alertOf(stack, 'hard@example.org', first)
    t.ok(hard.raw.length < 64 * 1024, `the alert (${hard.raw.length} bytes) fits a DSN well within the limit`)
    const message = dsn({ returnPath: hard.returnPath, recipient: 'hard@example.org', action: 'failed', status: '5.1.1', original: hard.raw })
    t.same(await send(port, hard.returnPath.toUpperCase(), message), { ok: true }, 'accepted (an MTA that upper-cases the address changes nothing)')
    t.same(await state(stack, 'hard@example.org'), { status: 'active', suppressed: 'hard-bounce', actions: ['subscribe', 'confirm', 'hard-bounce'] })
    t.same(await send(port, hard.returnPath, message), { ok: true }, 'the same DSN again is taken…')
    t.same((await state(stack, 'hard@example.org')).actions, ['subscribe', 'confirm', 'hard-bounce'], '…and changes nothing')
  })

  await t.test(`temporary failures (4.x.x) of ${SOFT_BOUNCE_LIMIT} different alerts suppress`, async (t) => {
    for (const [i, appealId] of appeals.entries()) {
      const soft = await alertOf(stack, 'soft@example.org', appealId)
      const message = i === 0
        ? dsn({ returnPath: soft.returnPath, recipient: 'soft@example.org', action: 'delayed', status: '4.2.2', original: soft.raw })
        : dsn({ returnPath: soft.returnPath, recipient: 'soft@example.org', action: 'failed', status: '4.2.2', original: soft.raw })
      t.same(await send(port, soft.returnPath, message), { ok: true }, `alert ${i + 1}: ${i === 0 ? 'delayed' : 'failed'} 4.2.2`)
      const now = await state(stack, 'soft@example.org')
      if (i < SOFT_BOUNCE_LIMIT - 1) t.equal(now.suppressed, null, `after ${i + 1}: still mailed`)
      else t.same(now, { status: 'active', suppressed: 'soft-bounce', actions: ['subscribe', 'confirm', 'soft-bounce'] }, `after ${i + 1}: suppressed`)
    }
  })

  await t.test('an ARF complaint unsubscribes and suppresses', async (t) => {
    const complain = await alertOf(stack, 'complain@example.org', first)
    t.same(await send(port, complain.returnPath, arf({ to: complain.returnPath, returnPath: complain.returnPath, recipient: 'complain@example.org', original: complain.raw }), 'staff@fbl.example.com'), { ok: true })
    t.same(await state(stack, 'complain@example.org'), { status: 'unsubscribed', suppressed: 'complaint', actions: ['subscribe', 'confirm', 'complaint'] })
  })

  await t.test('the feedback-loop address: an ARF complaint counts through the return path of the mail it carries', async (t) => {
    const keep = await alertOf(stack, 'keep@example.org', first)
    const [local, domain] = keep.returnPath.split('@') as [string, string]
    const forged = `${local.slice(0, -1)}${local.endsWith('a') ? 'b' : 'a'}@${domain}`
    const forgedOriginal = Buffer.from(keep.raw.toString('latin1').replace(keep.returnPath, forged), 'latin1')
    t.same(await send(port, FEEDBACK_LOOP, arf({ to: FEEDBACK_LOOP, returnPath: forged, recipient: 'keep@example.org', original: forgedOriginal }), 'staff@fbl.example.com'),
      { ok: true }, 'taken…')
    t.same(await state(stack, 'keep@example.org'), { status: 'active', suppressed: null, actions: ['subscribe', 'confirm'] }, '…but a forged return path in it does nothing')
    t.same(await send(port, FEEDBACK_LOOP, dsn({ returnPath: FEEDBACK_LOOP, recipient: 'keep@example.org', action: 'failed', status: '5.1.1', original: keep.raw })),
      { ok: true }, 'a DSN to it is taken…')
    t.equal((await state(stack, 'keep@example.org')).suppressed, null, '…and ignored (bounces go to the return path itself)')

    const fbl = await alertOf(stack, 'fbl@example.org', first)
    t.same(await send(port, FEEDBACK_LOOP.toUpperCase(), arf({ to: FEEDBACK_LOOP, returnPath: fbl.returnPath, recipient: 'fbl@example.org', original: fbl.raw }), 'staff@fbl.example.com'), { ok: true })
    t.same(await state(stack, 'fbl@example.org'), { status: 'unsubscribed', suppressed: 'complaint', actions: ['subscribe', 'confirm', 'complaint'] }, 'the real one unsubscribes')
  })

  await t.test('the next alert reaches only the supporter nothing was reported about', async (t) => {
    await assertNextAlertReachesOnly(t, stack, PEOPLE, 'keep@example.org', 'UA 399/26')
  })

  await t.test('per-address message rate, and a log of delivery ids without addresses', async (t) => {
    const lines: string[] = []
    const logger = pino({ level: 'debug' }, new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done() } }))
    const ownPort = await freePort()
    const config = { ...stack.config, email: { ...stack.config.email, bounce: { domain: DOMAIN, smtpPort: ownPort } } }
    const listener = await startReportListener({ config, pool: stack.pool, logger }, { messagesPerMinute: 2 })
    t.teardown(() => listener.close())
    const keep = await alertOf(stack, 'keep@example.org', first)
    const delivered = () => dsn({ returnPath: keep.returnPath, recipient: 'keep@example.org', action: 'delivered', status: '2.0.0', original: keep.raw })
    t.same(await send(ownPort, keep.returnPath, delivered()), { ok: true }, '1st')
    const hard = await alertOf(stack, 'hard@example.org', appeals[1]!)
    t.same(await send(ownPort, hard.returnPath, dsn({ returnPath: hard.returnPath, recipient: 'hard@example.org', action: 'failed', status: '5.1.1', original: hard.raw })), { ok: true }, '2nd')
    t.match(await send(ownPort, keep.returnPath, delivered()), { ok: false, code: 451, command: 'MAIL FROM' }, '3rd within the minute: 451, the relay retries later')
    const log = lines.join('')
    t.match(log, new RegExp(`"deliveryId":${hard.deliveryId}`), 'the applied report is logged by delivery id')
    t.match(log, /"kind":"hard-bounce"/)
    t.notMatch(log, /example\.org|bounces\+/, 'no supporter address and no return path in the log')
  })

  await t.test('a connection is closed after maxSessionMs, however it trickles', async (t) => {
    const ownPort = await freePort()
    const config = { ...stack.config, email: { ...stack.config.email, bounce: { domain: DOMAIN, smtpPort: ownPort } } }
    const listener = await startReportListener({ config, pool: stack.pool, logger: pino({ level: 'silent' }) }, { maxSessionMs: 1_000 })
    t.teardown(() => listener.close())
    const socket = connect(ownPort, '127.0.0.1')
    socket.on('error', () => {})
    const trickle = setInterval(() => socket.write('NOOP\r\n'), 200) // never idle
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const started = Date.now()
      const give = setTimeout(() => reject(new Error('still open after 10 s')), 10_000)
      socket.once('close', () => { clearTimeout(give); resolve(Date.now() - started) })
    }).finally(() => clearInterval(trickle))
    t.ok(closedAfter < 10_000, 'closed by the listener while the client was still talking')
  })

  await t.test('Postgres away: 451, so the sending relay keeps the report and retries', async (t) => {
    const closedPool = createPool(stack.config.databaseUrl, { max: 1 })
    await closedPool.end()
    const ownPort = await freePort()
    const config = { ...stack.config, email: { ...stack.config.email, bounce: { domain: DOMAIN, smtpPort: ownPort } } }
    const listener = await startReportListener({ config, pool: closedPool, logger: pino({ level: 'silent' }) })
    t.teardown(() => listener.close())
    const keep = await alertOf(stack, 'keep@example.org', first)
    const failed = dsn({ returnPath: keep.returnPath, recipient: 'keep@example.org', action: 'failed', status: '5.1.1', original: keep.raw })
    t.match(await send(ownPort, keep.returnPath, failed), { ok: false, code: 451, command: 'DATA' })
    t.equal((await state(stack, 'keep@example.org')).suppressed, null, 'nothing applied')
  })

  await t.test('the worker does not start on a bad setup', async (t) => {
    const noDomain = { ...stack.config, email: { ...stack.config.email, bounce: { domain: null, smtpPort: await freePort() } } }
    await t.rejects(startReportListener({ config: noDomain, pool: stack.pool, logger: pino({ level: 'silent' }) }), /BOUNCE_DOMAIN/,
      'BOUNCE_SMTP_PORT without BOUNCE_DOMAIN')
    const taken = { ...stack.config, email: { ...stack.config.email, bounce: { domain: DOMAIN, smtpPort: port } } }
    await t.rejects(startReportListener({ config: taken, pool: stack.pool, logger: pino({ level: 'silent' }) }), { code: 'EADDRINUSE' },
      'a port already taken')
  })
})
