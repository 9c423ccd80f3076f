// `urgent-appeals dev` as a newcomer runs it (contract §1.2): no
// DATABASE_URL, REDIS_URL, SMTP_URL or SECRETS_KEY; embedded Postgres,
// redis-server from PATH and a mail catcher under ./.data of the working
// directory; a printed admin key that works; the first admin person's
// console enrolment link (printed again, fresh, until a passkey is
// enrolled); a clean stop on SIGTERM that leaves no server behind; a
// restart on the same data.
import { mkdtempSync, existsSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t from 'tap'
import { freePort } from './harness/services.js'
import { alive, cliEnv, descendants, runCli, startCli, waitForHttp } from './helpers/cli.js'
import { liaoningAppeal } from './helpers/liaoning.js'
import { SoftAuthenticator } from './helpers/soft-authenticator.js'

const ADMIN_KEY = /created an admin key \(also saved in [^)]*\):\n(ua_[a-z2-7]{10}_[A-Za-z0-9_-]{43})\n/
const ENROLMENT = /enrol a passkey within 24 h at:\n(http:\/\/localhost:\d+\/console\/enrol\/[A-Za-z0-9_-]{43})\n/

t.test('dev starts everything embedded, serves a working admin key and stops cleanly', async (t) => {
  // A 0700 folder: as root, the `postgres` user cannot reach it (contract §1.2).
  const cwd = mkdtempSync(join(tmpdir(), 'ua-dev-'))
  const data = join(cwd, '.data')
  t.teardown(() => {
    // As root, the cluster lives in a folder of its own outside, linked from .data/pg.
    if (existsSync(join(data, 'pg'))) rmSync(dirname(realpathSync(join(data, 'pg'))), { recursive: true, force: true })
    rmSync(cwd, { recursive: true, force: true })
  })
  const port = await freePort()
  const env = cliEnv({ PORT: String(port), LOG_LEVEL: 'warn' })
  const base = `http://127.0.0.1:${port}`

  const started = Date.now()
  const dev = startCli(t, ['dev'], { cwd, env })
  const key = (await dev.waitFor(ADMIN_KEY, 90_000))[1]!
  await dev.waitFor(/\[dev\] ready/, 30_000)
  const startup = Date.now() - started
  t.comment(`first start (initdb included): ${startup} ms`)
  t.match(dev.stdout(), new RegExp(`\\[dev\\] docs: ${base.replace(/[.:/]/g, '\\$&')}/docs`), 'prints the docs URL')
  t.match(dev.stdout(), new RegExp(`\\[dev\\] API: +${base.replace(/[.:/]/g, '\\$&')}/v1/appeals`), 'prints the API URL')
  t.equal(dev.stdout().trimEnd().split('\n').filter((l) => l === key).length, 1, 'the key is on a line of its own, once')
  const firstLink = (await dev.waitFor(ENROLMENT, 5_000))[1]!
  t.match(dev.stdout(), /created a first admin person \(admin@localhost\)/, 'a first admin person, next to the key')

  const health = await waitForHttp(`${base}/healthz`, 10_000, dev.exited)
  t.equal(health.status, 200)
  const ready = await fetch(`${base}/readyz`)
  t.same(await ready.json(), { status: 'ready', checks: { postgres: 'ok', redis: 'ok' } }, 'embedded Postgres and Redis are up')

  const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }
  const created = await fetch(`${base}/v1/appeals`, { method: 'POST', headers: auth, body: JSON.stringify(liaoningAppeal()) })
  const appeal = await created.json() as { id: string; status: string }
  t.equal(created.status, 201, JSON.stringify(appeal))
  t.equal(appeal.status, 'draft')
  // A child is counted: a second key of the organisation approves before the admin publishes.
  const [adminKey] = ((await (await fetch(`${base}/v1/api-keys`, { headers: auth })).json()) as { items: { organisationId: string }[] }).items
  const colleague = await (await fetch(`${base}/v1/api-keys`, { method: 'POST', headers: auth, body: JSON.stringify({ organisationId: adminKey!.organisationId, role: 'editor', name: 'colleague' }) })).json() as { key: string }
  const approved = await fetch(`${base}/v1/appeals/${appeal.id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${colleague.key}`, 'if-match': '"1"' } })
  t.equal(approved.status, 200, await approved.clone().text())
  const published = await fetch(`${base}/v1/appeals/${appeal.id}/publish`, { method: 'POST', headers: { authorization: auth.authorization } })
  t.equal(published.status, 200, await published.clone().text())
  const publicList = await (await fetch(`${base}/v1/appeals`)).json() as { items: { id: string }[] }
  t.same(publicList.items.map((a) => a.id), [appeal.id], 'the published appeal is public')

  t.ok(existsSync(join(data, 'pg', 'PG_VERSION')), 'Postgres data under ./.data/pg (or linked from there)')
  t.ok(existsSync(join(data, 'mail')), 'mail catcher folder under ./.data/mail')
  t.equal(readFileSync(join(data, 'admin-key'), 'utf8').trim(), key, 'the key is kept in .data/admin-key')
  t.equal(statSync(join(data, 'admin-key')).mode & 0o777, 0o600, 'readable by the owner only')
  t.equal(statSync(join(data, 'secrets-key')).mode & 0o777, 0o600, 'the dev SECRETS_KEY too')
  const servers = descendants(dev.child.pid!)
  const commands = [...servers.values()]
  t.ok(commands.some((c) => c.includes(realpathSync(join(data, 'pg')))), 'embedded Postgres runs on ./.data/pg (or where it links)')
  t.ok(commands.some((c) => c.startsWith('redis-server')), `redis-server runs: ${commands.join(' | ')}`)

  // Console links name PUBLIC_BASE_URL (localhost); the server listens on 127.0.0.1.
  const enrolPath = (url: string) => `${base}${new URL(url).pathname}`
  t.equal((await fetch(enrolPath(firstLink))).status, 200, 'the enrolment page opens')

  const stopped = await dev.stop('SIGTERM', 20_000)
  t.equal(stopped.code, 0, `exit 0 after SIGTERM: ${dev.stderr()}`)
  t.ok(stopped.ms < 10_000, `stopped in ${stopped.ms} ms`)
  t.same(alive(servers.keys()), [], 'no Postgres or redis-server left behind')
  await t.rejects(fetch(`${base}/healthz`), 'the port is closed')

  // A second run on the same folder: same data, no new key.
  const again = startCli(t, ['dev'], { cwd, env })
  await again.waitFor(/\[dev\] ready/, 60_000)
  const serversAgain = descendants(again.child.pid!)
  t.match(again.stdout(), /admin key: see .*\.data\/admin-key/)
  t.notMatch(again.stdout(), /created an admin key/, 'no second admin key')
  t.notMatch(again.stdout(), /initialising embedded Postgres/, 'the data directory is reused')
  const secondLink = again.stdout().match(ENROLMENT)?.[1]
  t.ok(secondLink && secondLink !== firstLink, 'not enrolled yet: a fresh link')
  t.match(again.stdout(), /the first admin person has no passkey yet \(admin@localhost\)/, 'for the same person')
  t.equal((await fetch(enrolPath(firstLink))).status, 410, 'the earlier link is void')
  // Enrol a passkey through the second link, as the enrolment page's script does.
  const consoleOrigin = new URL(secondLink!).origin
  const passkey = new SoftAuthenticator(consoleOrigin)
  const post = (path: string, body: unknown) => fetch(`${base}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', origin: consoleOrigin }, body: JSON.stringify(body),
  })
  const ceremony = await (await post(`${new URL(secondLink!).pathname}/options`, {})).json() as { flow: string; options: { challenge: string; user: { id: string } } }
  const enrolled = await post(new URL(secondLink!).pathname, { flow: ceremony.flow, response: passkey.register(ceremony.options) })
  t.equal(enrolled.status, 200, await enrolled.clone().text())
  const stillThere = await fetch(`${base}/v1/appeals/${appeal.id}`, { headers: { authorization: auth.authorization } })
  t.equal(stillThere.status, 200, 'the appeal survived the restart, and the key still works')
  const stoppedAgain = await again.stop('SIGTERM', 20_000)
  t.equal(stoppedAgain.code, 0, again.stderr())
  t.same(alive(serversAgain.keys()), [], 'nothing left behind')

  // Enrolled: later starts print where to sign in, and no link.
  const third = startCli(t, ['dev'], { cwd, env })
  await third.waitFor(/\[dev\] ready/, 60_000)
  t.match(third.stdout(), /\[dev\] console: http:\/\/localhost:\d+\/console\/sign-in/)
  t.notMatch(third.stdout(), /console\/enrol\//, 'no enrolment link once the admin has a passkey')
  t.equal((await third.stop('SIGTERM', 20_000)).code, 0, third.stderr())
  t.comment(`whole test: ${Date.now() - started} ms`)
})

t.test('dev without redis-server on PATH says how to get it, and starts nothing', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'ua-dev-'))
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }))
  const run = await runCli(t, ['dev'], { cwd, env: cliEnv({ PATH: '/nonexistent', PORT: String(await freePort()) }) })
  t.equal(run.code, 1)
  t.match(run.stderr, /redis-server was not found on PATH/)
  t.match(run.stderr, /apt-get install redis-server/)
  t.match(run.stderr, /set REDIS_URL/)
  t.notOk(existsSync(join(cwd, '.data', 'pg')), 'no Postgres was initialised')
})

t.test('dev with bad configuration stops before starting anything', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'ua-dev-'))
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }))
  const run = await runCli(t, ['dev'], { cwd, env: cliEnv({ PORT: 'eighty', WEBHOOK_RETRY_SCHEDULE: 'soon' }) })
  t.equal(run.code, 1)
  t.match(run.stderr, /^  - PORT: /m)
  t.match(run.stderr, /^  - WEBHOOK_RETRY_SCHEDULE: /m)
  t.notOk(existsSync(join(cwd, '.data')), 'nothing created')
})
