// The public site in a real Chromium, as a supporter on a phone meets it:
// the home page, its signup form (JavaScript off), the confirmation mail
// from the SMTP sink, confirm, the appeal page reached from the home page,
// "I took action" and the thank-you; then the copy button (JavaScript on),
// the index with a filter, a closed appeal, the hosted signup form and its
// answers, and the 404 and 410 pages. Every page is checked with axe-core
// (no serious or critical violation) at 390 and 1280 px, light and dark,
// must not scroll sideways, and nothing may load from another origin.
// Screenshots go to /tmp/ua-screens; with UA_README_SCREENSHOTS=1 the top of
// each of the README's two (the appeal page and the signup page at 390 px,
// light) is written to test/screenshots/ as well.
import t from 'tap'
import { freePort } from './harness/services.js'
import { eventually, linksIn, startSupporterStack, type SupporterStack } from './helpers/supporters.js'
import { seedSite } from './helpers/public-site.js'
import { launchBrowser, readmeScreenshot, screenshot, walkPages } from './helpers/browser.js'


async function statusOf(stack: SupporterStack, email: string): Promise<string | null> {
  const { rows } = await stack.pool.query<{ status: string }>('SELECT status FROM subscriptions WHERE email = $1', [email])
  return rows[0]?.status ?? null
}

t.test('a supporter on a phone: home, signup, confirm, the appeal, "I took action"; every public page accessible', async (t) => {
  const browser = await launchBrowser(t)
  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  const stack = await startSupporterStack(t, { PUBLIC_BASE_URL: origin })
  await stack.app.listen({ host: '127.0.0.1', port })
  // A deadline six days away: what a supporter would meet (and the README's screenshot shows).
  const site = await seedSite(stack, { actionDeadline: new Date(Date.now() + 6 * 86_400_000).toISOString().slice(0, 10) })
  const email = 'min-ji@example.org'

  const { open, expectPage, problems } = walkPages(t, browser, origin)

  // ---- The supporter's way, on a phone, without JavaScript ------------------------
  const phone = await open({ width: 390, javaScriptEnabled: false })
  await phone.goto(`${origin}/`)
  await expectPage(phone, 'Act now for people at risk', 'public-home')
  const listed = await phone.locator('ul.cards h3').allTextContents()
  t.same(listed, [site.open.title], 'the home page lists the open appeal only (not the closed, draft, embargoed or withdrawn ones)')

  await phone.getByLabel('Email address').fill(email)
  await phone.getByLabel('Language of alerts and pages').selectOption('ko')
  await phone.getByRole('button', { name: 'Subscribe' }).click()
  await expectPage(phone, 'Check your email', 'public-signup-sent')
  t.equal(await statusOf(stack, email), 'pending', 'the home page\'s form asked for a subscription')

  const mail = await stack.sink.waitFor(email, 30_000)
  const confirmUrl = (await linksIn(mail)).find((l) => l.includes('/subscriptions/confirm/'))!
  t.ok(confirmUrl.startsWith(`${origin}/`), 'the confirmation mail links to the running app')
  await phone.goto(confirmUrl)
  t.equal(await phone.locator('html').getAttribute('lang'), 'ko', 'the confirmation page is in the language chosen on the form')
  await phone.locator('form button[type=submit]').first().click()
  await eventually(async () => (await statusOf(stack, email)) === 'active', 10_000, 'confirmed')

  await phone.goto(`${origin}/?lang=en`)
  await phone.getByRole('link', { name: site.open.title, exact: true }).click()
  await expectPage(phone, site.open.title)
  t.equal(new URL(phone.url()).pathname, `/appeals/${site.open.id}`)
  const copyButtons = phone.getByRole('button', { name: 'Copy the letter', includeHidden: true })
  t.equal(await copyButtons.count(), 2, 'a copy button per letter in the markup')
  t.notOk(await copyButtons.first().isVisible(), 'but hidden without JavaScript')
  t.match(await phone.locator('#letter-1').textContent() ?? '', /^尊敬的Xi Jinping：/, 'the letter to the official who reads Chinese is in Chinese')
  t.equal(await phone.locator('#letter-1').getAttribute('lang'), 'zh-Hans')
  t.match(await phone.locator('#letter-2').textContent() ?? '', /^Your Excellency,\n/, 'the other one in the page\'s language, with its salutation')
  t.match(await phone.getByRole('link', { name: 'Email Ambassador of China to the United Kingdom' }).getAttribute('href') ?? '',
    /^mailto:ambassador@example\.org\?subject=/, 'a mailto: link where the official has an address')

  await phone.getByRole('button', { name: 'I took action' }).click()
  await phone.getByText('Thank you for taking action.').waitFor()
  const acted = new URL(phone.url())
  t.equal(`${acted.pathname}${acted.search}${acted.hash}`, `/appeals/${site.open.id}?acted=1&lang=en#act`, 'back on the appeal page, at the thanks')
  t.ok(await phone.getByText('1 action has been taken on this appeal so far.').isVisible(), 'with the count')
  t.equal(await phone.getByRole('button', { name: 'I took action' }).count(), 0, 'and no second button')
  await expectPage(phone, site.open.title, 'public-appeal-thanks')

  // ---- The copy button, with JavaScript --------------------------------------------------
  const desk = await open({ width: 1280 })
  await desk.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin })
  await desk.goto(`${origin}/appeals/${site.open.id}`)
  await expectPage(desk, site.open.title, 'public-appeal')
  const copy = desk.getByRole('button', { name: 'Copy the letter' }).nth(1)
  t.ok(await copy.isVisible(), 'the script shows the copy buttons')
  await copy.click()
  await desk.getByText('Letter copied: paste it into your email or a document.').waitFor()
  t.equal(await desk.evaluate('navigator.clipboard.readText()'), await desk.locator('#letter-2').textContent(), 'the clipboard holds the letter')
  const narrow = await open({ width: 390 })
  await narrow.goto(`${origin}/appeals/${site.open.id}`)
  await narrow.getByRole('button', { name: 'Copy the letter' }).first().waitFor()
  await screenshot(narrow, 'appeal-page-390-light')
  await readmeScreenshot(narrow, 'appeal-page-390-light', { width: 390, height: 1688 })

  // In French and Chinese.
  await desk.goto(`${origin}/appeals/${site.open.id}?lang=fr`)
  await expectPage(desk, 'Chine : sept Nord-Coréens risquent d’être renvoyés vers la torture', 'public-appeal-fr')
  await desk.goto(`${origin}/appeals/${site.open.id}?lang=zh-Hans`)
  await expectPage(desk, '中国：七名朝鲜人面临被强制遣返并遭受酷刑的危险', 'public-appeal-zh')

  // ---- The other pages ---------------------------------------------------------------------
  await desk.goto(`${origin}/appeals`)
  await expectPage(desk, 'Appeals', 'public-index')
  await desk.getByLabel('Status').selectOption('closed')
  await desk.getByRole('button', { name: 'Show appeals' }).click()
  await desk.waitForURL(/status=closed/)
  t.same(await desk.locator('ul.cards h2').allTextContents(), [site.closed.title], 'the filter keeps the closed appeal only')
  await desk.getByRole('link', { name: site.closed.title }).click()
  await expectPage(desk, site.closed.title, 'public-appeal-closed')
  t.ok(await desk.getByRole('heading', { name: 'Outcome: Released' }).isVisible(), 'the outcome')
  t.equal(await desk.getByRole('button', { name: 'I took action' }).count(), 0, 'no call to act on a closed appeal')

  const signup = await open({ width: 390 })
  await signup.goto(`${origin}/subscribe`)
  await expectPage(signup, 'Get urgent action alerts')
  await screenshot(signup, 'signup-page-390-light')
  await readmeScreenshot(signup, 'signup-page-390-light', { width: 390, height: 1688 })
  const asia = signup.locator('details.region', { has: signup.locator('summary', { hasText: /^Asia/ }) })
  await asia.locator('summary').click()
  await asia.getByRole('checkbox', { name: 'China', exact: true }).check()
  await signup.getByRole('checkbox', { name: 'Refoulement (forced return)', exact: true }).check()
  await signup.getByRole('radio', { name: 'Critical alerts only', exact: true }).check()
  await signup.getByLabel('Email address').fill('not-quite@example')
  await signup.getByRole('button', { name: 'Subscribe' }).click()
  await expectPage(signup, 'Get urgent action alerts', 'public-signup-invalid')
  t.ok(await signup.getByRole('alert').getByText('Email address: Enter an email address, like name@example.org.').isVisible(), 'the 400 page names the field')
  t.equal(await signup.getByLabel('Email address').getAttribute('aria-invalid'), 'true')
  t.equal(await asia.locator('summary').textContent(), 'Asia: China', 'and keeps what was chosen, named on the closed region')
  t.ok(await asia.getByRole('checkbox', { name: 'China', exact: true, includeHidden: true }).isChecked())
  await signup.getByLabel('Email address').fill('jun@example.org')
  await signup.getByRole('button', { name: 'Subscribe' }).click()
  await expectPage(signup, 'Check your email')
  const { rows } = await stack.pool.query('SELECT countries, themes, min_urgency AS "minUrgency" FROM subscriptions WHERE email = $1', ['jun@example.org'])
  t.same(rows, [{ countries: ['CN'], themes: ['refoulement'], minUrgency: 'critical' }], 'stored as chosen')

  for (const [id, heading, name] of [
    [site.draft.id, 'Page not found', 'public-404'],
    [site.scheduled.id, 'Page not found', undefined],
    [site.withdrawn.id, 'This appeal has been withdrawn', 'public-410'],
  ] as const) {
    await desk.goto(`${origin}/appeals/${id}`)
    await expectPage(desk, heading, name)
    t.notMatch(await desk.content(), /MARK/, `${heading}: nothing of the appeal`)
  }

  t.same(problems(), [], 'no request to another origin, no console error (CSP violations included)')
})
