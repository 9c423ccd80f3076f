// The console's administration in a real Chromium with CDP virtual
// authenticators: an admin signs in, issues an API key (shown once) and
// revokes it after the confirmation, reads the audit log and the supporter
// counts, and invites an editor; the invitation is caught by the SMTP sink
// (sent by the real email worker), and the editor opens its link in a
// second browser context, enrols a passkey and lands in the console. Every
// admin page passes axe-core at 390 and 1280 px, light and dark, and no
// page loads anything from another origin or logs an error.
import t from 'tap'
import { freePort } from './harness/services.js'
import { createPerson } from './helpers/console.js'
import { linksIn, seedActiveSubscribers, startSupporterStack } from './helpers/supporters.js'
import { addVirtualAuthenticator, launchBrowser, walkPages } from './helpers/browser.js'

t.test('an admin issues and revokes a key, reads the audit log and the counts, and invites an editor who enrols from the mailed link', async (t) => {
  const browser = await launchBrowser(t)
  const port = await freePort()
  // WebAuthn refuses IP addresses as relying party ids: the console is reached as localhost.
  const origin = `http://localhost:${port}`
  const stack = await startSupporterStack(t, { PUBLIC_BASE_URL: origin })
  await stack.app.listen({ host: '127.0.0.1', port })
  await seedActiveSubscribers(stack, ['a@example.org', 'b@example.org'], { language: 'en' })
  await seedActiveSubscribers(stack, ['c@example.org'], { language: 'ko' })
  const walk = walkPages(t, browser, origin)

  // ---- The admin signs in (a link from create-user's service) ----------------------------
  const adminLink = await createPerson(stack.pool, origin, 'Liaoning Watch', 'min-ji@example.org', 'admin')
  const page = await walk.open({ width: 1280 })
  await addVirtualAuthenticator(page)
  await page.goto(adminLink.url)
  await page.getByRole('button', { name: 'Create a passkey' }).click()
  await page.waitForURL(`${origin}/console`)
  const nav = page.getByRole('navigation', { name: 'Console' })

  // ---- API keys ----------------------------------------------------------------------------
  await nav.getByRole('link', { name: 'API keys' }).click()
  await walk.expectPage(page, 'API keys', 'console-api-keys')
  await page.getByLabel('Name', { exact: true }).fill('Newsroom CMS')
  await page.getByLabel('Role').selectOption('editor')
  await page.getByRole('button', { name: 'Issue the key' }).click()
  await walk.expectPage(page, 'API keys', 'console-api-key-issued')
  const key = (await page.locator('code.link').innerText()).trim()
  t.match(key, /^ua_/, 'the key is shown once')
  t.equal((await stack.app.inject({ method: 'GET', url: '/v1/appeals', headers: { authorization: `Bearer ${key}` } })).statusCode, 200, 'and works')

  await page.getByRole('link', { name: /^Revoke the key Newsroom CMS/ }).click()
  await walk.expectPage(page, 'Revoke an API key', 'console-api-key-revoke')
  t.match(await page.locator('main').innerText(), /stops working at once/)
  await page.getByRole('button', { name: 'Revoke the key' }).click()
  await page.waitForURL(`${origin}/console/api-keys?done=revoked`)
  await walk.expectPage(page, 'API keys')
  t.match(await page.locator('main').innerText(), /The key is revoked/)
  t.equal((await stack.app.inject({ method: 'GET', url: '/v1/appeals', headers: { authorization: `Bearer ${key}` } })).statusCode, 401, 'revoked')

  // ---- The audit log and the counts ------------------------------------------------------------
  await nav.getByRole('link', { name: 'Audit log' }).click()
  await walk.expectPage(page, 'Audit log', 'console-audit-log')
  const log = await page.locator('main').innerText()
  t.match(log, /api-key\.revoke/)
  t.match(log, /min-ji@example\.org \(admin\)/, 'the person who revoked it')
  await page.getByLabel('Action').fill('api-key.create')
  await page.getByRole('button', { name: 'Filter' }).click()
  await walk.expectPage(page, 'Audit log')
  t.notMatch(await page.locator('main').innerText(), /api-key\.revoke ·/, 'filtered')

  await nav.getByRole('link', { name: 'Supporters' }).click()
  await walk.expectPage(page, 'Supporters', 'console-supporters')
  const counts = await page.locator('main').innerText()
  t.match(counts, /3 supporters in all, of whom 3 receive alerts/)
  t.match(counts, /Korean \(ko\)\s+1/)

  // ---- Invite an editor: the mail, the link, the passkey ---------------------------------------
  await nav.getByRole('link', { name: 'Account' }).click()
  await page.getByLabel('Email address').fill('editor@example.org')
  await page.getByLabel('Name (optional)').fill('Ana Lee')
  await page.getByLabel('Role').selectOption('editor')
  await page.getByRole('button', { name: 'Invite', exact: true }).click()
  await walk.expectPage(page, 'Console')
  t.match(await page.locator('main').innerText(), /Invitation created for editor@example\.org and mailed to them/)

  const mail = await stack.sink.waitFor('editor@example.org', 20_000)
  t.match((await mail.parsed()).text!, /Hello Ana Lee,/)
  const [link] = (await linksIn(mail)).filter((l) => l.startsWith(`${origin}/console/enrol/`))
  t.ok(link, 'the mail carries the enrolment link')

  const editorPage = await walk.open({ width: 390 })
  const { cdp, authenticatorId } = await addVirtualAuthenticator(editorPage)
  await editorPage.goto(link!)
  await walk.expectPage(editorPage, 'Create your passkey')
  t.match(await editorPage.locator('main').innerText(), /editor@example\.org/)
  await editorPage.getByLabel('Name this passkey').fill('Ana’s phone')
  await editorPage.getByRole('button', { name: 'Create a passkey' }).click()
  await editorPage.waitForURL(`${origin}/console`)
  await walk.expectPage(editorPage, 'Console')
  const editorMain = await editorPage.locator('main').innerText()
  t.match(editorMain, /editor@example\.org/)
  t.match(editorMain, /Editor/)
  t.equal((await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials.length, 1, 'the editor\'s passkey')
  const editorNav = await editorPage.getByRole('navigation', { name: 'Console' }).innerText()
  t.notMatch(editorNav, /API keys|Audit log/, 'an editor is not shown the admin areas')

  t.same(walk.problems(), [], 'no request to another origin, no console error (CSP included)')
})
