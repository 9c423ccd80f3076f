// Starts the real servers the tests need — Postgres from the machine's
// binaries and redis-server from PATH — on loopback, in throwaway folders.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, chownSync, rmSync, existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

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

function findPgBin(name: string): string {
  for (const dir of ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin', '/usr/local/bin', '/usr/bin']) {
    if (existsSync(join(dir, name))) return join(dir, name)
  }
  throw new Error(`${name} not found: install PostgreSQL 15+ server binaries or set TEST_DATABASE_URL`)
}

/** Postgres refuses to run as root: run it as the `postgres` user (or nobody). */
function unprivilegedIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  for (const user of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', user]).toString().trim())
      const gid = Number(execFileSync('id', ['-g', user]).toString().trim())
      return { uid, gid }
    } catch { /* try the next */ }
  }
  throw new Error('running as root and no postgres/nobody user exists')
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
}

export async function startPostgres(): Promise<RunningPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'ua-pg-'))
  const ids = unprivilegedIds()
  if (ids) chownSync(dir, ids.uid, ids.gid)
  const data = join(dir, 'data')
  const port = await freePort()
  const asUser = ids ? { uid: ids.uid, gid: ids.gid } : {}
  execFileSync(findPgBin('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '-N'], {
    ...asUser, stdio: 'ignore', cwd: dir,
  })
  let child: ChildProcess | undefined
  const start = async () => {
    child = spawn(findPgBin('postgres'), [
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
    url, port, start, kill,
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
