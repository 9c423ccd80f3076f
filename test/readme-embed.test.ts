// The README's two ways to sign supporters up from an NGO's own website,
// run exactly as written in Chromium: the HTML block under
// `<!-- embed-form -->` and the `// signup.js` code block are copied out of
// README.md, pointed at the running service instead of
// https://alerts.example.org, and served by a plain HTTP server on another
// origin (the NGO's site). The form posts to the hosted signup; the script
// calls POST /v1/subscriptions across origins, which only works because
// that origin is in PUBLIC_CORS_ORIGINS.
import { createServer } from 'node:http'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { freePort } from './harness/services.js'
import { startSupporterStack, type SupporterStack } from './helpers/supporters.js'
import { launchBrowser } from './helpers/browser.js'

const README = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8')
const README_ORIGIN = 'https://alerts.example.org'

function embedForm(): string {
  const block = README.match(/<!-- embed-form -->\n```html\n([\s\S]*?)```/)?.[1]
  if (!block) throw new Error('README.md has no ```html block after <!-- embed-form -->')
  return block
}

function signupScript(): string {
  const block = [...README.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!).find((code) => code.startsWith('// signup.js'))
  if (!block) throw new Error('README.md has no code block starting with // signup.js')
  return block
}

const subscriptionOf = async (stack: SupporterStack, email: string) => (await stack.pool.query(
  `SELECT s.status, s.language, s.countries, s.min_urgency AS "minUrgency",
          (SELECT l.source FROM consent_ledger l WHERE l.subscription_id = s.id ORDER BY l.id LIMIT 1) AS source
     FROM subscriptions s WHERE s.email = $1`, [email])).rows

t.test('the README\'s embed form and signup.js, served from an NGO\'s own site, sign supporters up', async (t) => {
  const [port, ngoPort] = [await freePort(), await freePort()]
  const origin = `http://127.0.0.1:${port}`
  const ngo = `http://127.0.0.1:${ngoPort}`
  const stack = await startSupporterStack(t, { PUBLIC_BASE_URL: origin, PUBLIC_CORS_ORIGINS: ngo })
  await stack.app.listen({ host: '127.0.0.1', port })

  // The NGO's page: the README's form and script, pointed at this service.
  const ours = (text: string) => text.replaceAll(README_ORIGIN, origin)
  const page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Stand with the Liaoning seven</title></head>
<body><main><h1>Stand with the Liaoning seven</h1>${ours(embedForm())}</main>
<script>${ours(signupScript())}; window.subscribe = subscribe</script></body></html>`
  const site = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page))
  await new Promise<void>((resolve) => site.listen(ngoPort, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => site.close(resolve)))

  const browser = await launchBrowser(t)
  const tab = await browser.newPage({ width: 390 })
  const scriptErrors: string[] = []
  tab.on('pageerror', (error) => scriptErrors.push(error.message))

  // The form: posted across origins to the hosted signup, answered by our page.
  await tab.goto(`${ngo}/`)
  await tab.getByLabel('Email address').fill('hye-jin@example.org')
  await tab.getByRole('radio', { name: 'Critical alerts only' }).check()
  await tab.getByRole('button', { name: 'Get urgent action alerts' }).click()
  await tab.getByRole('heading', { level: 1, name: 'Check your email' }).waitFor()
  t.equal(new URL(tab.url()).origin, origin, 'the supporter lands on the hosted answer page')
  t.same(await subscriptionOf(stack, 'hye-jin@example.org'),
    [{ status: 'pending', language: 'en', countries: ['CN', 'KP'], minUrgency: 'critical', source: 'page' }],
    'a pending subscription with what the form chose')
  const mail = await stack.sink.waitFor('hye-jin@example.org', 30_000)
  t.ok(mail, 'the confirmation mail went out')

  // signup.js: a cross-origin fetch from the NGO's page, allowed by PUBLIC_CORS_ORIGINS.
  await tab.goto(`${ngo}/`)
  t.equal(await tab.evaluate('subscribe("min-seo@example.org")'), 202, 'the script gets the neutral 202')
  t.same(await subscriptionOf(stack, 'min-seo@example.org'),
    [{ status: 'pending', language: 'en', countries: ['CN', 'KP'], minUrgency: 'normal', source: 'api' }])

  // The same script on a site not listed: the browser refuses to let it read the answer.
  const stranger = `http://localhost:${ngoPort}`
  await tab.goto(`${stranger}/`)
  const refused = await tab.evaluate('subscribe("no-cors@example.org").then(() => "answered", (e) => e.name)')
  t.equal(refused, 'TypeError', 'an origin not in PUBLIC_CORS_ORIGINS gets no CORS answer: fetch fails')
  t.same(await subscriptionOf(stack, 'no-cors@example.org'), [], 'and the preflight stopped it before anything was stored')
  t.same(scriptErrors, [], 'the README\'s script runs without an error of its own')
})
