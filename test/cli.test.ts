// The `urgent-appeals` command as operators run it (contract §1): real
// processes, a clean environment, the shared test Postgres and Redis.
import { randomBytes } from 'node:crypto'
import { readdirSync } from 'node:fs'
import t from 'tap'
import pg from 'pg'
import { pino } from 'pino'
import { buildApp } from '../src/app.js'
import { MIGRATIONS_DIR } from '../src/db/migrate.js'
import { createPool } from '../src/db/pool.js'
import { createFailFastRedis } from '../src/queue/queues.js'
import { freePort } from './harness/services.js'
import { createTestDatabase, servers, testConfig, TEST_SECRETS_KEY } from './helpers/context.js'
import { cliEnv, createEmptyDatabase, runCli, startCli, waitForHttp } from './helpers/cli.js'
import { liaoningAppeal } from './helpers/liaoning.js'

const migrationNames = () => readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).map((f) => f.replace(/\.sql$/, '')).sort()

t.test('migrate: three processes at once all succeed and apply each migration once', async (t) => {
  const databaseUrl = await createEmptyDatabase(t)
  const env = cliEnv({ DATABASE_URL: databaseUrl })
  const runs = await Promise.all([1, 2, 3].map(() => runCli(t, ['migrate'], { env })))
  for (const [i, run] of runs.entries()) {
    t.equal(run.code, 0, `process ${i + 1} exits 0: ${run.stderr}`)
  }
  const outputs = runs.map((r) => r.stdout.trim())
  t.equal(outputs.filter((o) => o.startsWith('applied ')).length, 1, `one process applied them: ${outputs.join(' | ')}`)
  t.equal(outputs.filter((o) => o === 'database is up to date').length, 2, 'the others found nothing to do')

  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  t.teardown(() => db.end())
  const { rows } = await db.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY name')
  t.same(rows.map((r) => r.name), migrationNames(), 'each migration recorded exactly once')
  const tables = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('appeals', 'events', 'api_keys', 'organisations')`)
  t.equal(tables.rows[0]!.n, 4, 'the schema is there')

  const again = await runCli(t, ['migrate'], { env })
  t.equal(again.code, 0)
  t.equal(again.stdout.trim(), 'database is up to date', 'idempotent')
})

t.test('migrate without DATABASE_URL names it and exits 1', async (t) => {
  const run = await runCli(t, ['migrate'])
  t.equal(run.code, 1)
  t.match(run.stderr, /DATABASE_URL: is required/)
})

t.test('create-api-key prints a working key as the last line of stdout', async (t) => {
  const databaseUrl = await createTestDatabase(t)
  const env = cliEnv({ DATABASE_URL: databaseUrl })
  const run = await runCli(t, ['create-api-key', '--org', 'Liaoning Watch', '--role', 'editor'], { env })
  t.equal(run.code, 0, run.stderr)
  const lines = run.stdout.trimEnd().split('\n')
  const key = lines.at(-1)!
  t.match(key, /^ua_[a-z2-7]{10}_[A-Za-z0-9_-]{43}$/, 'the key, alone on the last line')
  t.ok(lines.length >= 2 && lines.slice(0, -1).every((l) => !l.includes(key)), 'printed once')

  const second = await runCli(t, ['create-api-key', '--org', 'Liaoning Watch', '--role', 'partner', '--name', 'feed reader'], { env })
  t.equal(second.code, 0, second.stderr)
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  t.teardown(() => db.end())
  const orgs = await db.query('SELECT id FROM organisations WHERE name = $1', ['Liaoning Watch'])
  t.equal(orgs.rowCount, 1, 'the organisation is created once, then reused')
  const stored = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM api_keys WHERE organisation_id = $1', [orgs.rows[0].id])
  t.equal(stored.rows[0]!.n, 2)

  const config = await testConfig(databaseUrl)
  const pool = createPool(databaseUrl, { max: 2 })
  const redis = createFailFastRedis(config.redisUrl)
  const app = await buildApp({ config, pool, redis, logger: pino({ level: 'silent' }) })
  await app.ready()
  t.teardown(async () => { await app.close(); redis.disconnect(); await pool.end() })
  const created = await app.inject({ method: 'POST', url: '/v1/appeals', headers: { authorization: `Bearer ${key}` }, payload: liaoningAppeal() })
  t.equal(created.statusCode, 201, `the key authenticates as an editor: ${created.body}`)
})

t.test('create-api-key usage errors exit 2 with the usage', async (t) => {
  const env = cliEnv({ DATABASE_URL: 'postgres://127.0.0.1:1/never-used' })
  const cases = [
    ['create-api-key', '--org', 'X', '--role', 'superuser'],
    ['create-api-key', '--role', 'editor'],
    ['create-api-key', '--org', 'X'],
    ['create-api-key', '--org', 'X', '--role', 'editor', '--colour', 'blue'],
  ]
  const [unknown, none, help, ...runs] = await Promise.all([['frobnicate'], [], ['--help'], ...cases].map((args) => runCli(t, args, { env })))
  for (const [i, args] of cases.entries()) {
    const run = runs[i]!
    t.equal(run.code, 2, `${args.join(' ')}: exit 2`)
    t.match(run.stderr, /Usage: urgent-appeals <command>/, `${args.join(' ')}: prints the usage`)
    t.match(run.stderr, /create-api-key needs --org NAME and --role admin\|editor\|partner|Unknown option/)
    t.equal(run.stdout, '', 'nothing on stdout: scripts read the key from there')
  }
  t.equal(unknown!.code, 2)
  t.match(unknown!.stderr, /unknown command: frobnicate/)
  t.equal(none!.code, 2)
  t.match(none!.stdout + none!.stderr, /Usage: urgent-appeals <command>/)
  t.equal(help!.code, 0)
  t.match(help!.stdout, /create-api-key --org NAME --role ROLE/)
})

t.test('serve with missing or bad configuration exits 1 naming every bad variable, no secret', async (t) => {
  const missing = await runCli(t, ['serve'], { env: cliEnv({ PORT: 'eighty' }) })
  t.equal(missing.code, 1)
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'SECRETS_KEY', 'PORT']) t.match(missing.stderr, new RegExp(`^  - ${name}: `, 'm'), `names ${name}`)
  t.match(missing.stderr, /^Invalid configuration:$/m)
  t.equal(missing.stderr.match(/Invalid configuration/g)?.length, 1, 'one message')
  t.notMatch(missing.stderr, /\n\s+at /, 'no stack trace')

  const shortKey = randomBytes(20).toString('base64')
  const bad = await runCli(t, ['serve'], {
    env: cliEnv({
      DATABASE_URL: 'mysql://admin:Sup3rSecretPw@db/ua', REDIS_URL: 'redis://:R3disPassword@127.0.0.1:1',
      SECRETS_KEY: shortKey, LOG_LEVEL: 'chatty',
    }),
  })
  t.equal(bad.code, 1)
  for (const name of ['DATABASE_URL', 'SECRETS_KEY', 'LOG_LEVEL']) t.match(bad.stderr, new RegExp(`^  - ${name}: `, 'm'), `names ${name}`)
  t.notMatch(bad.stderr, /REDIS_URL/, 'a valid variable is not blamed')
  const output = bad.stdout + bad.stderr
  for (const secret of ['Sup3rSecretPw', 'R3disPassword', shortKey]) t.notOk(output.includes(secret), 'no secret value in the output')
})

t.test('serve listens on HOST/PORT, answers /healthz and /readyz, and stops cleanly on SIGTERM', async (t) => {
  const databaseUrl = await createTestDatabase(t)
  const { redisUrl } = await servers()
  const port = await freePort()
  const secretsKey = TEST_SECRETS_KEY
  const server = startCli(t, ['serve'], {
    env: cliEnv({ DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, SECRETS_KEY: secretsKey, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info' }),
  })
  const health = await waitForHttp(`http://127.0.0.1:${port}/healthz`, 30_000, server.exited)
  t.same(await health.json(), { status: 'ok' })
  const ready = await fetch(`http://127.0.0.1:${port}/readyz`)
  t.equal(ready.status, 200)
  t.same(await ready.json(), { status: 'ready', checks: { postgres: 'ok', redis: 'ok' } })
  const problem = await fetch(`http://127.0.0.1:${port}/v1/nothing-here`)
  t.equal(problem.status, 404)
  t.match(problem.headers.get('content-type'), /application\/problem\+json/)
  t.match(server.stdout(), new RegExp(`"msg":"Server listening at http://127\\.0\\.0\\.1:${port}"`), 'logs where it listens')

  const stopped = await server.stop('SIGTERM', 10_000)
  t.equal(stopped.code, 0, `exit 0 after SIGTERM: ${server.stderr()}`)
  t.ok(stopped.ms < 5000, `stopped in ${stopped.ms} ms`)
  t.match(server.stdout(), /"signal":"SIGTERM".*"msg":"shutting down"/)
  const output = server.stdout() + server.stderr()
  t.notOk(output.includes(secretsKey), 'SECRETS_KEY never logged')
  t.notOk(output.includes('postgres://'), 'DATABASE_URL never logged')
  await t.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'the port is closed')
})

t.test('worker starts and stops cleanly on SIGTERM', async (t) => {
  const databaseUrl = await createTestDatabase(t)
  const { redisUrl } = await servers()
  const port = await freePort()
  const worker = startCli(t, ['worker'], {
    env: cliEnv({
      DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, SMTP_URL: 'smtp://127.0.0.1:1', SECRETS_KEY: TEST_SECRETS_KEY,
      PORT: String(port), LOG_LEVEL: 'info',
    }),
  })
  await worker.waitFor(/"msg":"worker started"/, 30_000)
  await t.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'the worker serves no HTTP')
  const stopped = await worker.stop('SIGTERM', 10_000)
  t.equal(stopped.code, 0, `exit 0 after SIGTERM: ${worker.stderr()}`)
  t.ok(stopped.ms < 5000, `stopped in ${stopped.ms} ms`)
})

t.test('worker requires SMTP_URL as well', async (t) => {
  const run = await runCli(t, ['worker'], { env: cliEnv({ DATABASE_URL: 'postgres://db/ua', REDIS_URL: 'redis://r', SECRETS_KEY: TEST_SECRETS_KEY }) })
  t.equal(run.code, 1)
  t.match(run.stderr, /SMTP_URL: is required/)
})
