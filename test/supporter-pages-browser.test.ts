// The supporter pages in a real Chromium, as a person meets them: the link
// from the confirmation mail in the SMTP sink, the confirm button, the
// preferences (a region opened, countries and themes ticked, saved — with
// JavaScript off), the visible unsubscribe link of a real alert, erasure
// through its confirmation page, and the error pages. Every page is checked
// with axe-core (no serious or critical violation) at 390 and 1280 px, light
// and dark, and must not scroll sideways; screenshots of the preferences and
// unsubscribe pages go to /tmp/ua-screens. One browser for the file.
import t from 'tap'
import { freePort } from './harness/services.js'
import { anAppeal, createPublished } from './helpers/liaoning.js'
import { eventually, linksIn, startSupporterStack, type SupporterStack } from './helpers/supporters.js'
import {
  applyVariant, elementContrast, launchBrowser, screenshot, walkPages, VARIANTS,
} from './helpers/browser.js'

async function statusOf(stack: SupporterStack, email: string): Promise<string | null> {
  const { rows } = await stack.pool.query<{ status: string }>('SELECT status FROM subscriptions WHERE email = $1', [email])
  return rows[0]?.status ?? null
}

t.test('a supporter in Chromium: confirm, choose by region, unsubscribe from an alert, erase; every page accessible', async (t) => {
  const browser = await launchBrowser(t)
  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  const stack = await startSupporterStack(t, { PUBLIC_BASE_URL: origin })
  await stack.app.listen({ host: '127.0.0.1', port })
  const email = 'amira@example.org'

  const { open, expectPage, problems } = walkPages(t, browser, origin, { scriptless: true })

  await stack.request(null, 'POST', '/v1/subscriptions', { email, language: 'en' })
  const confirmUrl = (await linksIn(await stack.sink.waitFor(email, 30_000))).find((l) => l.includes('/subscriptions/confirm/'))!
  t.ok(confirmUrl.startsWith(`${origin}/`), 'the mail links to the running app')

  const page = await open()
  await page.goto(confirmUrl)
  await expectPage(page, 'Confirm your subscription')
  t.equal(await statusOf(stack, email), 'pending', 'opening the link confirmed nothing')
  await page.getByRole('button', { name: 'Yes, send me alerts' }).click()
  await expectPage(page, 'You are subscribed')
  t.equal(await statusOf(stack, email), 'active')
  await page.getByRole('link', { name: 'Manage your preferences' }).click()
  await expectPage(page, 'Your alert preferences')
  const preferencesUrl = page.url()
  const manageToken = new URL(preferencesUrl).pathname.split('/').pop()!

  const spent = await open({ width: 1280 })
  await spent.goto(confirmUrl)
  await expectPage(spent, 'This link has already been used')
  t.notOk((await spent.content()).includes(manageToken), 'the spent link does not lead to the preferences')

  // Choosing, on a phone, with JavaScript off: native <details> and checkboxes only.
  const phone = await open({ width: 390, javaScriptEnabled: false })
  await phone.goto(preferencesUrl)
  const asia = phone.locator('details.region', { has: phone.locator('summary', { hasText: /^Asia/ }) })
  await asia.locator('summary').click()
  await asia.getByRole('checkbox', { name: 'China', exact: true }).check()
  await asia.getByRole('checkbox', { name: 'North Korea', exact: true }).check()
  const africa = phone.locator('details.region', { has: phone.locator('summary', { hasText: /^Africa/ }) })
  await africa.locator('summary').click()
  await africa.getByRole('checkbox', { name: 'Sudan', exact: true }).check()
  await phone.getByRole('checkbox', { name: 'Torture', exact: true }).check()
  await phone.getByRole('checkbox', { name: 'Refoulement (forced return)', exact: true }).check()
  await phone.getByRole('radio', { name: 'High and critical alerts only' }).check()
  await screenshot(phone, 'preferences-regions-open-390-light')
  await phone.getByRole('button', { name: 'Save preferences' }).click()
  await phone.getByText('Your preferences have been saved.').waitFor()
  t.equal(await phone.locator('#current').textContent(),
    'Your current choice: Countries: China, North Korea, and Sudan. Themes: Refoulement (forced return) and Torture. High and critical alerts only.',
    'the saved summary names the countries and themes')
  t.equal(await asia.locator('summary').textContent(), 'Asia: China and North Korea', 'the region\'s summary names its chosen countries')
  t.equal(await africa.locator('summary').textContent(), 'Africa: Sudan')
  t.match((await stack.request(null, 'GET', `/v1/subscriptions/${manageToken}`)).json(),
    { countries: ['CN', 'KP', 'SD'], themes: ['refoulement', 'torture'], minUrgency: 'high' }, 'stored as chosen')

  await page.goto(preferencesUrl)
  await expectPage(page, 'Your alert preferences', 'preferences')
  for (const variant of VARIANTS) {
    await applyVariant(page, variant)
    const save = await elementContrast(page, 'button[type=submit]')
    t.ok(save.ratio >= 4.5, `${variant.width} px ${variant.colorScheme}: the main button's text has ${save.ratio}:1 (${save.color} on ${save.background})`)
  }
  await applyVariant(page, VARIANTS[0]!)

  // An alert, and its visible unsubscribe link.
  await createPublished(stack, anAppeal())
  await eventually(async () => stack.sink.to(email).length >= 2, 30_000, 'the alert')
  const unsubscribeUrl = (await linksIn(stack.sink.to(email)[1]!)).find((l) => l.endsWith('/unsubscribe'))!
  t.equal(unsubscribeUrl, `${preferencesUrl}/unsubscribe`)
  await page.goto(unsubscribeUrl)
  await expectPage(page, 'Unsubscribe from alerts?', 'unsubscribe')
  t.equal(await statusOf(stack, email), 'active', 'opening the link unsubscribed nothing')
  await page.getByRole('button', { name: 'Unsubscribe' }).click()
  await expectPage(page, 'You are unsubscribed')
  t.equal(await statusOf(stack, email), 'unsubscribed')
  await page.goto(unsubscribeUrl)
  await expectPage(page, 'You are already unsubscribed')
  await page.getByRole('link', { name: 'Your preferences' }).click()
  await expectPage(page, 'Your alert preferences')

  // Erasure, asked for twice.
  await page.getByRole('link', { name: 'Delete my data' }).click()
  await expectPage(page, 'Delete your data?')
  t.equal(await statusOf(stack, email), 'unsubscribed', 'the confirmation page erased nothing')
  await page.getByRole('button', { name: 'Delete my data' }).click()
  await expectPage(page, 'Your data has been deleted')
  t.equal(await statusOf(stack, email), null, 'erased')

  // Error pages.
  await page.goto(unsubscribeUrl)
  await expectPage(page, 'This link is not valid')
  await stack.request(null, 'POST', '/v1/subscriptions', { email: 'late@example.org', language: 'en' })
  const lateUrl = (await linksIn(await stack.sink.waitFor('late@example.org', 30_000))).find((l) => l.includes('/subscriptions/confirm/'))!
  await stack.pool.query(`UPDATE subscriptions SET confirm_expires_at = now() - interval '1 second' WHERE email = 'late@example.org'`)
  await page.goto(lateUrl)
  await expectPage(page, 'This link has expired')

  t.same(problems(), [], 'no request to another origin, no console error (CSP violations included)')
})
