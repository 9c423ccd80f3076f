// What an attacker or a forwarded mail can do with the supporter flow, tried
// through the real mailbox (SMTP sink): a confirmation link is spent once
// used; a second subscribe never rewrites what a link already mailed will
// confirm; the `a.b+tag@` spellings of one mailbox get one confirmation a
// day between them, with or without an API key; "this wasn't me" blocks
// the mailbox in every spelling, on a pending request only; erasure lets a
// person come back at once.
import t from 'tap'
import { createEmailQueue } from '../src/email/queue.js'
import { expectProblem } from './helpers/liaoning.js'
import {
  confirmationLink, eventually, pathOf, startSupporterStack, subscribeAndConfirm, type SupporterStack,
} from './helpers/supporters.js'

const MANAGE_LINK = /\/subscriptions\/[A-Za-z0-9_-]{43}(?!\/)/

async function rowOf(stack: SupporterStack, email: string) {
  const { rows } = await stack.pool.query<{ email: string; status: string; language: string; countries: string[]; themes: string[]; confirm_nonce: Buffer | null; confirm_expires_at: Date | null }>(
    'SELECT email, status, language, countries, themes, confirm_nonce, confirm_expires_at FROM subscriptions WHERE lower(email) = lower($1)', [email])
  return rows[0] ?? null
}

/** The confirmation link's path in a mail's text. */
const confirmationPathIn = (text: string) => pathOf(text.match(/https?:\/\/\S+\/subscriptions\/confirm\/[A-Za-z0-9_-]{43}/)![0])

/** Lets the mailbox limit and the pending request age by a day, as if the clock had moved on. */
async function aDayLater(stack: SupporterStack) {
  await stack.pool.query(`UPDATE confirmation_limits SET last_sent_at = last_sent_at - interval '25 hours'`)
  await stack.pool.query(`UPDATE subscriptions SET confirmation_sent_at = confirmation_sent_at - interval '25 hours'`)
}

/** Gives the queue time to send anything it was (wrongly) given, then counts. */
async function mailsTo(stack: SupporterStack, ...emails: string[]) {
  await new Promise((resolve) => setTimeout(resolve, 400))
  return emails.reduce((n, email) => n + stack.sink.to(email).length, 0)
}

t.test('a confirmation link is spent once used: never the management link again, "this wasn\'t me" no longer acts', async (t) => {
  const stack = await startSupporterStack(t)
  const { confirmPath } = await subscribeAndConfirm(stack, 'forwarded@example.org', { language: 'fr' })
  const row = await rowOf(stack, 'forwarded@example.org')
  t.equal(row?.status, 'active')
  t.equal(row?.confirm_nonce, null, 'the token cannot be derived any more')
  t.equal(row?.confirm_expires_at, null)

  // Someone the mail was forwarded to opens the old link.
  const page = await stack.request(null, 'GET', confirmPath)
  t.equal(page.statusCode, 410)
  t.match(page.body, /<html lang="fr"/, 'in the supporter\'s language')
  t.notMatch(page.body, MANAGE_LINK, 'no link to the preferences')
  const again = await stack.request(null, 'POST', confirmPath)
  t.equal(again.statusCode, 410, 'confirming again: the used page')
  t.notMatch(again.body, MANAGE_LINK, 'still no link to the preferences')
  const json = expectProblem(t, await stack.request(null, 'POST', confirmPath, undefined, { accept: 'application/json' }), 410, 'link-used')
  t.notOk(json.preferencesUrl, 'no preferences URL in JSON either')

  const notMe = await stack.request(null, 'POST', `${confirmPath}/cancel`, undefined, { accept: 'application/json' })
  expectProblem(t, notMe, 410, 'link-used')
  t.equal((await rowOf(stack, 'forwarded@example.org'))?.status, 'active', '"this wasn\'t me" on a used link changes nothing')
  const { rows } = await stack.pool.query('SELECT reason FROM email_suppressions')
  t.same(rows, [], 'and suppresses nothing')
})

t.test('a new link asked for while the last one is still with the relay is mailed at once, and it is the one that confirms', async (t) => {
  // The relay takes 1.5 s per message: the first confirmation job is still sending when the second request comes.
  const stack = await startSupporterStack(t, {}, { delayMs: 1500 })
  const queue = createEmailQueue(stack.redis, stack.config.queuePrefix)
  t.teardown(() => queue.close())
  const email = 'ri.jin@example.kr'
  await stack.request(null, 'POST', '/v1/subscriptions', { email, language: 'ko', countries: ['KP'] })
  await eventually(async () => (await queue.getActiveCount()) === 1, 10_000, 'the first confirmation with the relay')
  await aDayLater(stack)
  await stack.request(null, 'POST', '/v1/subscriptions', { email, language: 'en', countries: ['CN'] })

  // Well before the reconciler (20 s) would look: the second job is not mistaken for the first, still running.
  const links = async () => Promise.all(stack.sink.to(email).map(async (m) => confirmationPathIn((await m.parsed()).text ?? '')))
  await eventually(async () => stack.sink.to(email).length === 2, 8000, 'a mail for each link')
  const [first, second] = await links()
  t.not(first, second, 'each mail carries its own link')
  t.equal((await stack.request(null, 'POST', first!)).statusCode, 404, 'the first link is spent')
  t.equal((await stack.request(null, 'POST', second!)).statusCode, 200, 'the second one confirms')
  t.match(await rowOf(stack, email), { status: 'active', language: 'en', countries: ['CN'] }, 'with what the second request asked for')
  const { rows: [owed] } = await stack.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM subscriptions WHERE confirmation_mailed_at IS NULL AND status = 'pending'`)
  t.equal(owed!.n, 0, 'nothing left owed')
})

t.test('"this wasn\'t me" acts on a pending, unexpired request only, and blocks every spelling of the mailbox', async (t) => {
  const stack = await startSupporterStack(t)
  await stack.request(null, 'POST', '/v1/subscriptions', { email: 'late.reader@example.org' })
  const expiredPath = await confirmationLink(stack.sink, 'late.reader@example.org')
  await stack.pool.query(`UPDATE subscriptions SET confirm_expires_at = now() - interval '1 second'`)
  expectProblem(t, await stack.request(null, 'POST', `${expiredPath}/cancel`, undefined, { accept: 'application/json' }), 410, 'link-expired')
  t.equal((await rowOf(stack, 'late.reader@example.org'))?.status, 'pending', 'an expired link deletes nothing')

  await stack.request(null, 'POST', '/v1/subscriptions', { email: 'jane.doe+alerts@example.net' })
  const victimPath = await confirmationLink(stack.sink, 'jane.doe+alerts@example.net')
  t.equal((await stack.request(null, 'POST', `${victimPath}/cancel`)).statusCode, 200)
  t.equal(await rowOf(stack, 'jane.doe+alerts@example.net'), null, 'the request is deleted')

  await aDayLater(stack)
  for (const email of ['jane.doe+alerts@example.net', 'janedoe@example.net', 'Jane.Doe+other@Example.net']) {
    t.equal((await stack.request(null, 'POST', '/v1/subscriptions', { email })).statusCode, 202, `${email}: the same 202`)
  }
  await stack.request(null, 'POST', '/v1/subscriptions', { email: 'someone.else@example.net' })
  await stack.sink.waitFor('someone.else@example.net')
  t.equal(await mailsTo(stack, 'jane.doe+alerts@example.net', 'janedoe@example.net', 'jane.doe+other@example.net'), 1,
    'the mailbox that said "this wasn\'t me" gets nothing more, in any spelling, even a day later')
})

t.test('a second subscribe never rewrites a pending request: the first link confirms what its owner asked for', async (t) => {
  const stack = await startSupporterStack(t)
  const owner = { email: 'minji@example.kr', language: 'ko', countries: ['KP'], themes: ['refoulement'], minUrgency: 'high' }
  t.equal((await stack.request(null, 'POST', '/v1/subscriptions', owner)).statusCode, 202)
  const ownerLink = await confirmationLink(stack.sink, owner.email)

  // A stranger posts other settings for the same address, with words of their own as a theme.
  const stranger = { email: 'MINJI@example.kr', language: 'en', countries: ['FR'], themes: ['call-this-number-now'], minUrgency: 'normal' }
  t.equal((await stack.request(null, 'POST', '/v1/subscriptions', stranger)).statusCode, 202, 'the same neutral answer')
  t.equal(await mailsTo(stack, owner.email), 1, 'no second mail within the day')
  t.match(await rowOf(stack, owner.email), { email: 'minji@example.kr', language: 'ko', countries: ['KP'], themes: ['refoulement'] }, 'the pending request is untouched')

  const page = await stack.request(null, 'GET', ownerLink)
  t.match(page.body, /<html lang="ko"/)
  t.notMatch(page.body, /call.this.number|France/i, 'nothing the stranger typed is on the page')
  t.equal((await stack.request(null, 'POST', ownerLink)).statusCode, 200)
  t.match(await rowOf(stack, owner.email), { status: 'active', language: 'ko', countries: ['KP'], themes: ['refoulement'] }, 'confirmed as the owner asked')

  // A day on, a stranger's request for a pending address spends the old link and mails a new one with the new settings.
  const later = { email: 'hyun@example.kr', language: 'ko', countries: ['KP'] }
  await stack.request(null, 'POST', '/v1/subscriptions', later)
  const firstLink = await confirmationLink(stack.sink, later.email)
  await aDayLater(stack)
  await stack.request(null, 'POST', '/v1/subscriptions', { email: later.email, language: 'en', countries: ['FR'], themes: ['call-this-number-now'] })
  await eventually(async () => stack.sink.to(later.email).length === 2, 10_000, 'a new confirmation after a day')
  t.equal((await stack.request(null, 'POST', firstLink)).statusCode, 404, 'the first link no longer confirms anything')
  t.equal((await rowOf(stack, later.email))?.status, 'pending')
  const mails = stack.sink.to(later.email)
  const secondLink = pathOf(((await mails[1]!.parsed()).text ?? '').match(/https?:\/\/\S+\/subscriptions\/confirm\/[A-Za-z0-9_-]{43}/)![0])
  const secondPage = await stack.request(null, 'GET', secondLink)
  t.equal(secondPage.statusCode, 200, 'the new link shows what it would confirm')
  t.notMatch(secondPage.body, /call.this.number/, 'a requester\'s theme slug is never printed as words')
})

t.test('one confirmation per mailbox per 24 h across a.b+tag@ spellings, an API key lifting nothing; erasure forgets the count', async (t) => {
  const stack = await startSupporterStack(t)
  const spellings = ['Kim.Cheol+1@gmail.com', 'kimcheol+2@gmail.com', 'KIM.CHEOL@GMAIL.COM', 'kim.cheol@googlemail.com']
  for (const email of spellings) {
    t.equal((await stack.request(null, 'POST', '/v1/subscriptions', { email })).statusCode, 202)
    t.equal((await stack.request('admin', 'POST', '/v1/subscriptions', { email: email.replace('+', '+key') })).statusCode, 202, 'with an admin key too')
  }
  await stack.sink.waitForCount(1)
  const all = [...spellings, ...spellings.map((e) => e.replace('+', '+key'))]
  t.equal(await mailsTo(stack, ...all), 1, 'eight requests, four spellings, two callers: one confirmation mail')
  const { rows } = await stack.pool.query<{ email: string }>('SELECT email FROM subscriptions')
  t.same(rows, [{ email: 'Kim.Cheol+1@gmail.com' }], 'one pending request, stored as typed; the others left nothing behind')

  // Confirmed, then erased: the person may come back at once, through double opt-in.
  const link = await confirmationLink(stack.sink, 'kim.cheol+1@gmail.com')
  const confirmed = (await stack.request(null, 'POST', link, undefined, { accept: 'application/json' })).json()
  const manage = pathOf(confirmed.preferencesUrl).split('/').pop()!
  t.equal((await stack.request(null, 'DELETE', `/v1/subscriptions/${manage}`)).statusCode, 204)
  const { rows: limits } = await stack.pool.query('SELECT 1 FROM confirmation_limits')
  t.equal(limits.length, 0, 'erasure deleted the mailbox\'s confirmation counter')
  await stack.request(null, 'POST', '/v1/subscriptions', { email: 'kimcheol@gmail.com' })
  await stack.sink.waitFor('kimcheol@gmail.com')
  t.pass('a new subscribe after erasure is confirmed by mail at once')
})
