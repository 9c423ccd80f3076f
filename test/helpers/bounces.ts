// Shared by the deliverability tests: publish an appeal and wait until its
// alerts are all sent, then find the alert one supporter got, as the
// receiving side (a relay, a provider, a feedback loop) would see it.
import { deliveryIdFromReturnPath } from '../../src/email/return-path.js'
import { anAppeal, createPublished, type Tap } from './liaoning.js'
import { emailProgress, eventually, type SupporterStack } from './supporters.js'

/** The BOUNCE_DOMAIN these tests run with. */
export const BOUNCE_DOMAIN = 'bounces.ngo.example'

/** Publishes an appeal and waits until exactly `expected` alerts are sent and nothing else is left. */
export async function publishAndSettle(stack: SupporterStack, expected: number, reference: string): Promise<string> {
  const appeal = await createPublished(stack, anAppeal({ reference }))
  await eventually(async () => {
    const counts = await emailProgress(stack, appeal.id)
    return counts.sent === expected && Object.keys(counts).length === 1 ? true : undefined
  }, 20_000, `${expected} alerts of ${reference} sent`)
  return appeal.id
}

export interface CaughtAlert {
  deliveryId: number
  /** The envelope sender: our per-message return path. */
  returnPath: string
  messageId: string
  /** What the receiving MTA stored: its Return-Path line, then the message as sent. */
  raw: Buffer
}

/** The alert `email` got about `appealId`, found in the sink by the delivery its return path names. */
export async function alertOf(stack: SupporterStack, email: string, appealId: string): Promise<CaughtAlert> {
  const { rows } = await stack.pool.query<{ id: number }>(
    `SELECT d.id FROM deliveries d JOIN events e ON e.id = d.event_id JOIN subscriptions s ON s.id = d.recipient_id
      WHERE e.appeal_id = $1 AND s.email = $2 AND d.channel = 'email'`, [appealId, email])
  const deliveryId = rows[0]!.id
  const mail = stack.sink.to(email).find((m) => deliveryIdFromReturnPath(stack.config.secretsKey, BOUNCE_DOMAIN, m.from) === deliveryId)
  if (!mail) throw new Error(`no alert of delivery ${deliveryId} in the sink`)
  return {
    deliveryId,
    returnPath: mail.from,
    messageId: (await mail.parsed()).messageId!,
    raw: Buffer.concat([Buffer.from(`Return-Path: <${mail.from}>\r\n`), mail.raw]),
  }
}

/**
 * After the reports a test sent: publishes one more appeal and asserts that
 * only `keep` of `people` got it (everyone else suppressed or unsubscribed).
 * Returns the appeal's id.
 */
export async function assertNextAlertReachesOnly(t: Tap, stack: SupporterStack, people: readonly string[], keep: string, reference: string): Promise<string> {
  const before = Object.fromEntries(people.map((email) => [email, stack.sink.to(email).length]))
  const appealId = await publishAndSettle(stack, 1, reference)
  for (const email of people) {
    t.equal(stack.sink.to(email).length - before[email]!, email === keep ? 1 : 0, `${email}: ${email === keep ? 'mailed' : 'skipped'}`)
  }
  t.same(await emailProgress(stack, appealId), { sent: 1 })
  return appealId
}
