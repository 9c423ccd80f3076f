// DKIM as a receiving server checks it (mailauth's verifier, the public
// key served by a DNS stub), on the bytes the SMTP sink received from the
// real pipeline: a confirmation mail (handed to nodemailer whole) and an
// alert (handed over as a stream held back by its send lane). The mail as
// sent passes; the same mail with a second From, Subject, List-Unsubscribe
// or List-Unsubscribe-Post prepended fails (over-signing), and so does one
// given a header we never wrote (References, Reply-To).
import t from 'tap'
import { createRequire } from 'node:module'
import { generateKeyPairSync } from 'node:crypto'
import { createPublished } from './helpers/liaoning.js'
import { eventually, startSupporterStack, subscribeAndConfirm } from './helpers/supporters.js'

interface DkimResult { status: { result: string; comment?: string }; signingDomain?: string; selector?: string }
const { dkimVerify } = createRequire(import.meta.url)('mailauth/lib/dkim/verify') as {
  dkimVerify(message: Buffer, options: { resolver: (name: string, type: string) => Promise<string[][]> }): Promise<{ results: DkimResult[] }>
}

const { privateKey, publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'der' },
})
const DOMAIN = 'alerts.example.org'
const SELECTOR = 'ua2026'
const DKIM = { DKIM_DOMAIN: DOMAIN, DKIM_SELECTOR: SELECTOR, DKIM_PRIVATE_KEY: privateKey, MAIL_FROM: `Urgent Appeals <alerts@${DOMAIN}>` }

/** DNS as the receiver sees it: our selector's TXT record and nothing else. */
async function resolver(name: string, type: string): Promise<string[][]> {
  if (type === 'TXT' && name === `${SELECTOR}._domainkey.${DOMAIN}`) return [[`v=DKIM1; k=rsa; p=${publicKey.toString('base64')}`]]
  throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' })
}

async function verdict(raw: Buffer): Promise<string> {
  const { results } = await dkimVerify(raw, { resolver })
  return results.map((r) => `${r.status.result}${r.status.comment ? ` (${r.status.comment})` : ''}`).join(', ') || 'no signature'
}

const prepend = (raw: Buffer, line: string) => Buffer.concat([Buffer.from(`${line}\r\n`), raw])

t.test('a receiver verifies the signature of the mail as sent, and rejects prepended copies of what matters', async (t) => {
  const stack = await startSupporterStack(t, DKIM)
  await subscribeAndConfirm(stack, 'supporter@example.net')
  const confirmation = stack.sink.to('supporter@example.net')[0]!
  await createPublished(stack)
  const alert = await eventually(async () => stack.sink.to('supporter@example.net')[1], 20_000, 'the alert')

  t.equal(await verdict(confirmation.raw), 'pass', 'the confirmation mail verifies')
  t.equal(await verdict(alert.raw), 'pass', 'the alert verifies')

  const forgeries = {
    From: 'From: "Urgent Appeals (donations)" <alerts@alerts.example.org>',
    Subject: 'Subject: Your donation failed: update your card details',
    'List-Unsubscribe': 'List-Unsubscribe: <https://attacker.example/unsubscribe>',
    'List-Unsubscribe-Post': 'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
    References: 'References: <forged@attacker.example>',
    'Reply-To': 'Reply-To: attacker@attacker.example',
  }
  for (const [name, line] of Object.entries(forgeries)) {
    t.match(await verdict(prepend(alert.raw, line)), /^fail/, `a prepended ${name} breaks the signature`)
  }
  t.match(await verdict(prepend(confirmation.raw, forgeries.From)), /^fail/, 'on the confirmation mail too')
})
