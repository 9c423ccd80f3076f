// Mails about one appeal thread together in a supporter's mailbox: each
// names that supporter's first alert about the appeal in `References` and
// `In-Reply-To` (the first names nothing). A supporter who joins late
// threads to their own first alert. A metadata-only update is a one-line
// note for those who have had the appeal, and the whole appeal for those
// who have not. End to end: API → relay → fan-out → SMTP sink.
import t from 'tap'
import type { ParsedMail } from 'mailparser'
import { anAppeal, createPublished, expectStatus } from './helpers/liaoning.js'
import { emailProgress, eventually, startSupporterStack, subscribeAndConfirm, type SupporterStack } from './helpers/supporters.js'

async function alertsTo(stack: SupporterStack, email: string): Promise<ParsedMail[]> {
  const out: ParsedMail[] = []
  for (const m of stack.sink.to(email)) {
    const parsed = await m.parsed()
    if (parsed.headerLines.some((h) => h.key === 'list-id')) out.push(parsed) // alerts, not the confirmation
  }
  return out
}

const references = (mail: ParsedMail) => ([] as string[]).concat(mail.references ?? [])

async function settled(stack: SupporterStack, appealId: string, total: number) {
  await eventually(async () => {
    const counts = await emailProgress(stack, appealId)
    const all = Object.values(counts).reduce((a, b) => a + b, 0)
    return all === total && (counts.pending ?? 0) + (counts.sending ?? 0) + (counts.retrying ?? 0) === 0
  }, 20_000, `${total} deliveries of the appeal final`)
}

t.test('every mail about an appeal threads to that supporter\'s first alert about it', async (t) => {
  const stack = await startSupporterStack(t)
  await subscribeAndConfirm(stack, 'early@example.org')
  await subscribeAndConfirm(stack, 'critical.only@example.org', { minUrgency: 'critical' })
  const appeal = await createPublished(stack, anAppeal({ urgency: 'high' }))
  await settled(stack, appeal.id, 1)

  await subscribeAndConfirm(stack, 'late@example.org')
  expectStatus(t, await stack.request('editor', 'POST', `/v1/appeals/${appeal.id}/updates`, { body: 'The seven were moved to **Dandong**.' }), 201)
  await settled(stack, appeal.id, 3)
  // Urgency raised: "critical only" joins the audience, never having had the appeal.
  const etag = `"${(await stack.request('editor', 'GET', `/v1/appeals/${appeal.id}`)).json().version}"`
  expectStatus(t, await stack.request('editor', 'PATCH', `/v1/appeals/${appeal.id}`, { urgency: 'critical' }, { 'if-match': etag }), 200)
  await settled(stack, appeal.id, 6)
  expectStatus(t, await stack.request('editor', 'POST', `/v1/appeals/${appeal.id}/close`, { outcome: { code: 'released' } }), 200)
  await settled(stack, appeal.id, 9)

  const early = await alertsTo(stack, 'early@example.org')
  t.equal(early.length, 4, 'early: published, follow-up, urgency, outcome')
  t.same(references(early[0]!), [], 'the first alert names no thread')
  t.notOk(early[0]!.inReplyTo, 'and replies to nothing')
  for (const [i, mail] of early.slice(1).entries()) {
    t.same(references(mail), [early[0]!.messageId], `mail ${i + 2} references the first alert`)
    t.equal(mail.inReplyTo, early[0]!.messageId, `mail ${i + 2} replies to it`)
  }
  t.match(early[2]!.text, /Urgency raised to critical/, 'the urgency change is a one-line note…')
  t.notMatch(early[2]!.text, /Xi Jinping/, '…not the whole appeal again')

  const late = await alertsTo(stack, 'late@example.org')
  t.equal(late.length, 3, 'late: follow-up, urgency, outcome')
  t.same(references(late[0]!), [], 'a late joiner\'s first mail starts their thread')
  t.same(late.slice(1).map(references), [[late[0]!.messageId], [late[0]!.messageId]], 'and the next ones reference it')

  const joined = await alertsTo(stack, 'critical.only@example.org')
  t.equal(joined.length, 2, 'critical only: urgency change, outcome')
  t.match(joined[0]!.text, /Xi Jinping/, 'someone who never had the appeal gets the whole of it with the change')
  t.same(references(joined[1]!), [joined[0]!.messageId])
})
