// The partner portal in a real Chromium with a CDP virtual authenticator:
// a partner person enrols a passkey from its link, opens Webhooks, adds an
// endpoint (a refused URL first: the error at the field), copies the
// secret shown once, sends a test and sees the delivery a real receiver
// answered, then walks the edit, rotate and delete pages. Every portal page
// passes axe-core (no serious or critical violation at 390 and 1280 px,
// light and dark), does not scroll sideways, loads nothing from another
// origin and logs no error.
import t from 'tap'
import { freePort } from './harness/services.js'
import { buildTestApp } from './helpers/context.js'
import { createPerson } from './helpers/console.js'
import { startReceiver } from './helpers/receiver.js'
import { verify } from './helpers/webhooks.js'
import { enrolInConsole, launchBrowser, walkPages } from './helpers/browser.js'

t.test('a partner adds an endpoint, sends a test and sees the delivery, in Chromium', async (t) => {
  const browser = await launchBrowser(t)
  const port = await freePort()
  // WebAuthn refuses IP addresses as relying party ids: the console is reached as localhost.
  const origin = `http://localhost:${port}`
  const ctx = await buildTestApp(t, { PUBLIC_BASE_URL: origin })
  await ctx.app.listen({ host: '127.0.0.1', port })
  const receiver = await startReceiver(t)
  receiver.answer('/desk', { status: 200, body: 'received by the desk' })
  const enrolment = await createPerson(ctx.pool, origin, 'Refugee Desk', 'desk@example.org', 'partner')

  const walk = walkPages(t, browser, origin)
  const page = await enrolInConsole(walk, enrolment.url)

  // ---- The list, from the navigation ----------------------------------------------------------
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Webhooks' }).click()
  await walk.expectPage(page, 'Webhooks', 'portal-list-empty')
  t.match(await page.locator('main').innerText(), /No endpoints yet/)

  // ---- Add: refused first, the error at the field -------------------------------------------------
  await page.getByRole('link', { name: 'Add an endpoint' }).click()
  await walk.expectPage(page, 'Add an endpoint', 'portal-add')
  await page.getByLabel('URL', { exact: true }).fill('ftp://desk.example/hook')
  await page.getByLabel('Description (optional)').fill('Intake desk')
  await page.getByRole('button', { name: 'Add the endpoint' }).click()
  await walk.expectPage(page, 'Add an endpoint', 'portal-add-error')
  t.equal(await page.locator('#url-error').innerText(), 'must use https or http', 'the API\'s message at the field')
  t.equal(await page.getByLabel('URL', { exact: true }).getAttribute('aria-invalid'), 'true')
  t.equal(await page.getByLabel('Description (optional)').inputValue(), 'Intake desk', 'what was typed is kept')

  await page.getByLabel('URL', { exact: true }).fill(receiver.url('/desk'))
  await page.getByRole('button', { name: 'Add the endpoint' }).click()
  await walk.expectPage(page, 'Endpoint added', 'portal-secret')
  const secret = (await page.locator('#secret').innerText()).trim()
  t.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/, 'the signing secret, shown once')

  // ---- The endpoint, a test, the delivery ------------------------------------------------------------
  await page.getByRole('link', { name: 'Go to the endpoint' }).click()
  await walk.expectPage(page, 'Intake desk', 'portal-endpoint')
  t.notMatch(await page.content(), /whsec_/, 'the secret is not shown again')
  await page.getByRole('button', { name: 'Send a test event' }).click()
  await walk.expectPage(page, 'Deliveries', 'portal-deliveries')
  t.equal(receiver.to('/desk').length, 1, 'the receiver got the test')
  t.match(verify(secret, receiver.to('/desk')[0]!), { type: 'webhook.test' }, 'signed with the secret the page showed')
  const main = await page.locator('main').innerText()
  t.match(main, /A test event was sent/)
  t.match(main, /webhook\.test · delivered/)
  t.match(main, /HTTP 200/)
  await page.getByText('Response (first 4 KB)').click()
  t.ok(await page.getByText('received by the desk').isVisible(), 'the response excerpt')

  // ---- Edit, rotate, delete: each page checked ---------------------------------------------------------
  await page.getByRole('link', { name: 'Intake desk' }).click()
  await page.getByRole('link', { name: 'Edit URL and filters' }).click()
  await walk.expectPage(page, 'Edit endpoint', 'portal-edit')
  await page.getByLabel('Countries (optional)').fill('CN, KP')
  await page.getByRole('button', { name: 'Save' }).click()
  await walk.expectPage(page, 'Intake desk', 'portal-endpoint-saved')
  t.match(await page.locator('main').innerText(), /The endpoint is saved\.[\s\S]*CN, KP/)

  await page.getByRole('button', { name: 'Rotate the secret' }).click()
  await walk.expectPage(page, 'New signing secret', 'portal-rotated')
  const rotated = (await page.locator('#secret').innerText()).trim()
  t.not(rotated, secret, 'a new secret')
  t.match(await page.locator('main').innerText(), /The old secret keeps signing until/)

  await page.getByRole('link', { name: 'Go to the endpoint' }).click()
  await page.getByRole('link', { name: 'Delete this endpoint…' }).click()
  await walk.expectPage(page, 'Delete this endpoint?', 'portal-delete')
  await page.getByRole('button', { name: 'Delete the endpoint' }).click()
  await walk.expectPage(page, 'Webhooks', 'portal-list-deleted')
  t.match(await page.locator('main').innerText(), /The endpoint is deleted/)

  t.same(walk.problems(), [], 'no request to another origin, no console error (CSP included)')
})
