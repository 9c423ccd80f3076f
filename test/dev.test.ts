// `urgent-appeals dev` as a newcomer runs it (contract §1.2): no
// DATABASE_URL, REDIS_URL, SMTP_URL or SECRETS_KEY; embedded Postgres,
// redis-server from PATH and a mail catcher under ./.data of the working
// directory; a printed admin key that works; a clean stop on SIGTERM that
// leaves no server behind; a restart on the same data.
import { mkdtempSync, existsSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t from 'tap'
import { freePort } from './harness/services.js'
import { alive, cliEnv, descendants, runCli, startCli, waitForHttp } from './helpers/cli.js'
import { liaoningAppeal } from './helpers/liaoning.js'

const ADMIN_KEY = /created an admin key \(also saved in [^)]*\):\n(ua_[a-z2-7]{10}_[A-Za-z0-9_-]{43})\n/

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

  const health = await waitForHttp(`${base}/healthz`, 10_000, dev.exited)
  t.equal(health.status, 200)
  const ready = await fetch(`${base}/readyz`)
  t.same(await ready.json(), { status: 'ready', checks: { postgres: 'ok', redis: 'ok' } }, 'embedded Postgres and Redis are up')

  const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }
  const created = await fetch(`${base}/v1/appeals`, { method: 'POST', headers: auth, body: JSON.stringify(liaoningAppeal()) })
  const appeal = await created.json() as { id: string; status: string }
  t.equal(created.status, 201, JSON.stringify(appeal))
  t.equal(appeal.status, 'draft')
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
  const stillThere = await fetch(`${base}/v1/appeals/${appeal.id}`, { headers: { authorization: auth.authorization } })
  t.equal(stillThere.status, 200, 'the appeal survived the restart, and the key still works')
  const stoppedAgain = await again.stop('SIGTERM', 20_000)
  t.equal(stoppedAgain.code, 0, again.stderr())
  t.same(alive(serversAgain.keys()), [], 'nothing left behind')
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
