// Console sign-in in a real Chromium with a CDP virtual authenticator (a
// platform passkey with user verification): `urgent-appeals create-user`
// prints the link, the person enrols a passkey, lands on the console, signs
// out and signs in again without a user name. The session cookie's flags
// are read from the browser; every console page passes axe-core (no
// serious or critical violation at 390 and 1280 px, light and dark), does
// not scroll sideways, loads nothing from another origin and logs no error
// (a CSP violation would be one).
import t from 'tap'
import { freePort } from './harness/services.js'
import { buildTestApp } from './helpers/context.js'
import { cliEnv, runCli } from './helpers/cli.js'
import { addVirtualAuthenticator, checkVariants, launchBrowser, watchPage, type Page } from './helpers/browser.js'

t.test('create-user → enrol a passkey → the console → sign out → sign in again, in Chromium', async (t) => {
  const browser = await launchBrowser(t)
  const port = await freePort()
  // WebAuthn refuses IP addresses as relying party ids: the console is reached as localhost.
  const origin = `http://localhost:${port}`
  const ctx = await buildTestApp(t, { PUBLIC_BASE_URL: origin })
  await ctx.app.listen({ host: '127.0.0.1', port })

  const created = await runCli(t, ['create-user', '--org', 'Liaoning Watch', '--email', 'min-ji@example.org', '--role', 'admin'],
    { env: cliEnv({ DATABASE_URL: ctx.config.databaseUrl, PUBLIC_BASE_URL: origin }) })
  t.equal(created.code, 0, created.stderr)
  const enrolUrl = created.stdout.trimEnd().split('\n').at(-1)!
  t.match(enrolUrl, new RegExp(`^${origin}/console/enrol/[A-Za-z0-9_-]{43}$`), 'the enrolment URL is the last line')

  const page = await browser.newPage({ width: 390 })
  const watch = watchPage(page, origin)
  const { cdp, authenticatorId } = await addVirtualAuthenticator(page)

  const expectPage = async (heading: string, name: string) => {
    await page.getByRole('heading', { level: 1, name: heading, exact: true }).waitFor()
    const report = await checkVariants(page, { screenshotName: `console-${name}` })
    t.same(report.violations, [], `${heading}: no serious or critical axe violation`)
    t.same(report.overflow, [], `${heading}: nothing wider than the screen`)
  }
  const onConsole = async (p: Page) => {
    await p.waitForURL(`${origin}/console`)
    await p.getByRole('heading', { level: 1, name: 'Console', exact: true }).waitFor()
  }

  // ---- Enrol ------------------------------------------------------------------
  await page.goto(enrolUrl)
  await expectPage('Create your passkey', 'enrol')
  t.ok(await page.getByText('min-ji@example.org').isVisible(), 'the page says whose passkey it is')
  await page.getByLabel('Name this passkey').fill('Work phone')
  await page.getByRole('button', { name: 'Create a passkey' }).click()
  await onConsole(page)
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId })
  t.equal(credentials.length, 1, 'one passkey in the authenticator')
  t.ok(credentials[0]!.isResidentCredential, 'a discoverable credential (usernameless sign-in)')

  const cookies = await page.context().cookies()
  const session = cookies.find((c) => c.name === 'ua_console')
  t.ok(session, 'a session cookie')
  t.equal(session?.httpOnly, true, 'HttpOnly: no script can read it')
  t.equal(session?.sameSite, 'Strict', 'SameSite=Strict')
  t.equal(session?.secure, false, 'not Secure over http://localhost (Secure when PUBLIC_BASE_URL is https)')
  t.equal(session?.path, '/console', 'sent to /console only')
  t.equal(await page.evaluate('document.cookie'), '', 'invisible to the page\'s scripts')

  await expectPage('Console', 'landing')
  const main = await page.locator('main').innerText()
  t.match(main, /min-ji@example\.org/)
  t.match(main, /Liaoning Watch/)
  t.match(main, /Admin/)
  t.match(main, /Work phone/, 'the passkey by its name')
  t.match(main, /People of Liaoning Watch/, 'an admin sees the people')

  // ---- Sign out, then in again ------------------------------------------------------
  await page.getByRole('button', { name: 'Sign out', exact: true }).click()
  await page.waitForURL(`${origin}/console/sign-in`)
  await expectPage('Sign in', 'sign-in')
  t.notOk((await page.context().cookies()).some((c) => c.name === 'ua_console'), 'the cookie is gone')
  await page.goto(`${origin}/console`)
  await page.waitForURL(`${origin}/console/sign-in`)
  t.pass('the console sends a signed-out visitor to sign in')

  await page.getByRole('button', { name: 'Sign in with a passkey' }).click()
  await onConsole(page)
  t.match(await page.locator('main').innerText(), /min-ji@example\.org/, 'signed in again, without typing a name')
  const { rows } = await ctx.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM console_sessions WHERE revoked_at IS NULL`)
  t.equal(rows[0]!.n, 1, 'the signed-out session was revoked; the new one is the only live one')

  // ---- The link again ---------------------------------------------------------------
  await page.goto(enrolUrl)
  await expectPage('This link no longer works', 'enrol-used')

  t.same(watch.problems, [], 'no request to another origin, no console error (CSP included)')
})
