// An appeal's lifecycle in a real Chromium with CDP virtual authenticators
// (issue 11 item 3): an editor enrols and drafts the Liaoning appeal (a
// child is counted: it needs two people); publishing is refused until a
// colleague — enrolled on another device — approves; the editor then
// publishes to the supporters the confirmation counted and watches the
// progress bar reach 100 % as the real delivery workers mail an SMTP sink
// (updated in place by server-sent events, no reload); previews the
// email; withdraws with a reason. Every page passes axe-core at 390 and
// 1280 px, light and dark, loads nothing from another origin and logs no
// error (the preview's sandboxed frame included).
import t from 'tap'
import { freePort } from './harness/services.js'
import { createPerson } from './helpers/console.js'
import { liaoningAppeal } from './helpers/liaoning.js'
import { enrolInConsole, launchBrowser, readmeScreenshot, walkPages } from './helpers/browser.js'
import { seedActiveSubscribers, startSupporterStack } from './helpers/supporters.js'


t.test('an editor drafts, a colleague approves, the editor publishes and watches progress reach 100 %, then withdraws, in Chromium', async (t) => {
  const browser = await launchBrowser(t)
  const port = await freePort()
  // WebAuthn refuses IP addresses as relying party ids: the console is reached as localhost.
  const origin = `http://localhost:${port}`
  // Each mail waits a little at the sink, so that the fan-out takes a few seconds to watch.
  const stack = await startSupporterStack(t, { PUBLIC_BASE_URL: origin }, { delayMs: 200 })
  await stack.app.listen({ host: '127.0.0.1', port })
  const supporters = Array.from({ length: 50 }, (_, i) => `supporter-${i}@example.org`)
  await seedActiveSubscribers(stack, supporters)
  const a = liaoningAppeal()
  const walk = walkPages(t, browser, origin)

  const minji = await enrolInConsole(walk, (await createPerson(stack.pool, origin, 'Liaoning Watch', 'min-ji@example.org', 'editor')).url)
  const ben = await enrolInConsole(walk, (await createPerson(stack.pool, origin, 'Liaoning Watch', 'ben@example.org', 'editor')).url)

  // ---- Min-ji drafts (the essentials; a 10-year-old girl is counted) --------------------------------------
  await minji.goto(`${origin}/console/appeals/new`)
  await minji.locator('#f-title').fill(a.title)
  await minji.getByLabel('Summary', { exact: true }).fill(a.summary)
  await minji.getByLabel('Body', { exact: true }).fill(a.body)
  await minji.getByLabel('Urgency', { exact: true }).selectOption('critical')
  await minji.getByLabel('Primary country', { exact: true }).selectOption('CN')
  await minji.getByLabel('Total', { exact: true }).fill('7')
  await minji.getByLabel('Girls', { exact: true }).fill('1')
  await minji.locator('#f-ask-0').fill(a.asks[0]!)
  await minji.getByRole('button', { name: 'Create draft' }).click()
  await minji.waitForURL(/\/console\/appeals\/[0-9a-f-]{36}\?done=created$/)
  const id = new URL(minji.url()).pathname.split('/').at(-1)!
  const appealUrl = `${origin}/console/appeals/${id}`
  await walk.expectPage(minji, a.title, 'console-actions-draft')
  t.match(await minji.locator('#actions').innerText(), /A colleague must approve version 1 before it can be published/)

  // ---- Publishing is refused until a colleague approves ----------------------------------------------------
  await minji.locator('#actions').getByRole('link', { name: 'Publish…' }).click()
  await walk.expectPage(minji, `Publish “${a.title}”?`, 'console-actions-publish-blocked')
  t.match(await minji.locator('main').innerText(), /A colleague must approve this version first[\s\S]*It goes to 50 supporters by email and 0 partner endpoints by webhook/)
  t.equal(await minji.getByRole('button', { name: /^Publish now/ }).count(), 0, 'no publish button yet')

  await ben.goto(appealUrl)
  await walk.expectPage(ben, a.title)
  await ben.locator('#actions').getByRole('link', { name: 'Approve version 1…' }).click()
  await walk.expectPage(ben, 'Approve version 1?', 'console-actions-approve')
  await ben.getByRole('button', { name: 'Approve version 1' }).click()
  await ben.waitForURL(`${appealUrl}#actions`)
  t.match(await ben.locator('dl').innerText(), /Approved by [^\n]+ \(version 1\)/)

  // ---- Min-ji publishes to the supporters counted, and watches ------------------------------------------
  await minji.goto(appealUrl)
  await minji.locator('#actions').getByRole('link', { name: 'Publish…' }).click()
  await walk.expectPage(minji, `Publish “${a.title}”?`, 'console-actions-publish')
  await readmeScreenshot(minji, 'console-publish-1280-light', { width: 1280, height: 800 })
  await minji.getByRole('button', { name: 'Publish now to 50 supporters and 0 partner endpoints' }).click()
  await minji.waitForURL(`${appealUrl}/progress?done=published`)
  const navigations: string[] = []
  minji.on('framenavigated', (frame) => { if (frame === minji.mainFrame()) navigations.push(frame.url()) })
  const bar = minji.locator('#progress-bar')
  const seen = new Set<string>()
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    seen.add(await minji.locator('#progress-status').innerText())
    if (/All 50 deliveries are done\./.test(await minji.locator('#progress-status').innerText())) break
    await minji.waitForTimeout(100)
  }
  t.equal(await minji.locator('#progress-status').innerText(), 'All 50 deliveries are done.', 'the page says it is done')
  t.equal(await bar.evaluate((el) => `${(el as unknown as { value: number }).value}/${(el as unknown as { max: number }).max}`), '50/50', 'the bar is full: 100 %')
  const partWay = [...seen].map((s) => /^(\d+) of 50 deliveries done \(\d+ %\)\.$/.exec(s)?.[1]).filter((n) => n !== undefined).map(Number)
  t.ok(partWay.some((n) => n > 0 && n < 50), `the numbers moved while it was sending: ${[...seen].join(' | ')}`)
  t.same(navigations, [], 'updated in place, without reloading')
  t.equal(await minji.locator('[data-count="email.sent"]').innerText(), '50')
  t.equal(await minji.locator('[data-count="email.sending"]').innerText(), '0', 'nothing left sending (a status no longer counted is 0)')
  t.equal(await minji.locator('[data-health="sent"]').innerText(), '50', 'the bounce and complaint rates are of the 50 mails sent, updated in place too')
  t.equal(await minji.locator('[data-health="complaints-rate"]').innerText(), '0 %', 'no complaint: a rate of 0 % once mails were sent')
  t.equal(stack.sink.messages.length, 50, 'fifty mails reached the sink')
  const { reference } = (await stack.request('editor', 'GET', `/v1/appeals/${id}`)).json()
  await walk.expectPage(minji, `Delivery progress: ${reference}`, 'console-actions-progress')
  await readmeScreenshot(minji, 'console-progress-1280-light', { width: 1280, height: 900 })

  // ---- The email as supporters got it ----------------------------------------------------------------------
  await minji.goto(appealUrl)
  await minji.locator('#actions').getByRole('link', { name: 'Preview the email' }).click()
  await walk.expectPage(minji, `Email preview: ${reference}`, 'console-actions-email')
  const frame = minji.frameLocator('iframe.mail-preview').first()
  t.equal(await frame.locator('h1').innerText(), a.title, 'the mail, rendered in its sandboxed frame')
  t.match(await minji.locator('main').innerText(), /Subject: Urgent action: China: seven North Koreans/)

  // ---- Withdraw with a reason ------------------------------------------------------------------------------
  await minji.goto(appealUrl)
  await minji.locator('#actions').getByRole('link', { name: 'Withdraw…' }).click()
  await walk.expectPage(minji, `Withdraw “${a.title}”?`, 'console-actions-withdraw')
  await minji.getByLabel('Reason').fill('The family asked us to take it down.')
  await minji.getByRole('button', { name: 'Withdraw the appeal' }).click()
  await minji.waitForURL(`${appealUrl}/progress?done=withdrawn`)
  t.match(await minji.locator('main').innerText(), /The appeal is withdrawn\./)
  t.equal((await stack.request('editor', 'GET', `/v1/appeals/${id}`)).json().status, 'withdrawn')

  t.same(walk.problems(), [], 'no request to another origin, no console error (CSP included)')
})
