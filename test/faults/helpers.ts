// Helpers of the fault-injection suite (`npm run test:faults`): real
// `worker` (and `serve`) processes started from bin/urgent-appeals.js on a
// clean environment, supporters seeded in one statement, and the tally that
// every scenario ends with — who got the alert, who got it more than once.
// Every process and server started here is killed at teardown, also when
// the test fails.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { MAILS_IN_FLIGHT } from '../../src/email/sender.js'
import pg from 'pg'
import { freePort } from '../harness/services.js'
import { startCli, cliEnv, type Running } from '../helpers/cli.js'
import { TEST_SECRETS_KEY } from '../helpers/context.js'
import type { SinkMessage } from '../helpers/smtp-sink.js'
import type { Tap } from '../helpers/liaoning.js'
import { eventually } from '../helpers/eventually.js'

export type { Tap }

/** The environment of a `worker`/`serve` child: only what it needs, loopback everywhere. */
export function roleEnv(vars: { DATABASE_URL: string; REDIS_URL: string; SMTP_URL?: string } & Record<string, string>): NodeJS.ProcessEnv {
  return cliEnv({
    SECRETS_KEY: TEST_SECRETS_KEY,
    LOG_LEVEL: 'info',
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    WEBHOOK_TIMEOUT_MS: '3000',
    WEBHOOK_RETRY_SCHEDULE: '1,2,5',
    EMAIL_RETRY_SCHEDULE: '1,2,5',
    PUBLIC_RATE_LIMIT: '100000',
    ...vars,
  })
}

/** Starts `urgent-appeals worker` and waits (30 s unless told) for its "worker started" line. */
export async function startWorkerProcess(t: Tap, env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<Running> {
  const worker = startCli(t, ['worker'], { env })
  await worker.waitFor(/worker started/, timeoutMs)
  return worker
}

/** Starts `urgent-appeals serve` on `port` and waits (30 s unless told) until it listens. */
export async function startServeProcess(t: Tap, env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<Running> {
  const serve = startCli(t, ['serve'], { env })
  await serve.waitFor(/Server listening/, timeoutMs)
  return serve
}

/** `kill -9`: no shutdown hook runs, jobs stay active in Redis, claimed rows stay `sending`. */
export async function killHard(process: Running): Promise<void> {
  if (process.child.exitCode === null && process.child.signalCode === null) process.child.kill('SIGKILL')
  await process.exited
}

export const supporterEmail = (i: number) => `supporter${i}@example.org`

/**
 * `n` active supporters (any country, any theme) written in one statement;
 * returns their addresses. Tokens are never looked up in these tests, so
 * nonces and hashes only need to be unique.
 */
export async function seedSupporters(db: Pick<pg.Pool, 'query'>, n: number, offset = 0): Promise<string[]> {
  await db.query(
    `INSERT INTO subscriptions (email, email_hash, language, countries, status, manage_nonce, manage_token_hash, confirmed_at)
     SELECT 'supporter' || i || '@example.org', sha256(convert_to('e' || i, 'UTF8')),
            (ARRAY['en', 'fr', 'es'])[1 + i % 3], '{}', 'active',
            sha256(convert_to('n' || i, 'UTF8')), sha256(convert_to('m' || i, 'UTF8')), now()
       FROM generate_series($1::int + 1, $1::int + $2::int) AS i`, [offset, n])
  return Array.from({ length: n }, (_, i) => supporterEmail(offset + i + 1))
}

export interface Tally {
  /** Intended recipients who got nothing. */
  missing: string[]
  /** Extra copies beyond the first, summed over recipients. */
  duplicates: number
  /** Recipients who got more than one copy. */
  duplicated: number
  /** Mail to addresses nobody intended. */
  strays: number
  received: number
}

/** Who of `intended` got at least one of `messages`, and how many extra copies went out. */
export function tally(messages: readonly SinkMessage[], intended: readonly string[]): Tally {
  const want = new Set(intended.map((e) => e.toLowerCase()))
  const per = new Map<string, number>()
  let strays = 0
  for (const m of messages) {
    for (const to of m.to) {
      if (!want.has(to)) { strays++; continue }
      per.set(to, (per.get(to) ?? 0) + 1)
    }
  }
  let duplicates = 0
  let duplicated = 0
  for (const n of per.values()) if (n > 1) { duplicates += n - 1; duplicated++ }
  return { missing: [...want].filter((e) => !per.has(e)), duplicates, duplicated, strays, received: messages.length }
}

/** Resolves when `check` holds, polling every 100 ms; rejects after `timeoutMs` with what was last seen. */
export const until = <T>(check: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs: number, what: string, seen?: () => unknown) =>
  eventually(check, timeoutMs, what, { intervalMs: 100, seen })

/** Email delivery rows of the database by status. */
export async function emailStatus(db: Pick<pg.Pool, 'query'>): Promise<Record<string, number>> {
  const { rows } = await db.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM deliveries WHERE channel = 'email' GROUP BY status ORDER BY status`)
  return Object.fromEntries(rows.map((r) => [r.status, r.n]))
}

/**
 * The most copies an at-least-once crash may duplicate: mails a worker had
 * handed to SMTP and not yet recorded. Each SMTP connection carries one
 * mail at a time and records it before the next, so that is the pool size.
 */
export const EMAIL_IN_FLIGHT_PER_WORKER = MAILS_IN_FLIGHT

const run = promisify(execFile)

export interface RedisCluster {
  /** REDIS_URL for the service: every master's URL, comma-separated (the seed nodes). */
  url: string
  /** The masters' ports, in the order `redis-cli --cluster create` was given them. */
  ports: number[]
  /** `redis-cli -p <port> …` against one node (no `-c`: what that node itself holds), bounded to 10 s. */
  cli(port: number, ...args: string[]): Promise<string>
}

/**
 * A real Redis Cluster of `masters` masters (no replicas) on loopback, each
 * a `redis-server --cluster-enabled yes` in a throwaway folder, joined with
 * `redis-cli --cluster create`; resolves once CLUSTER INFO says
 * `cluster_state:ok` on every node. Killed and removed at teardown, also
 * when the test fails.
 */
export async function startRedisCluster(t: Tap, masters = 3): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'ua-redis-cluster-'))
  const children: ChildProcess[] = []
  t.teardown(async () => {
    await Promise.all(children.map((child) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) { resolve(); return }
      child.once('exit', () => resolve())
      child.kill('SIGKILL')
    })))
    rmSync(dir, { recursive: true, force: true })
  })
  const ports: number[] = []
  for (let i = 0; i < masters; i++) ports.push(await freePort())
  const cli = async (port: number, ...args: string[]) =>
    (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 })).stdout
  for (const port of ports) {
    const child = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
      '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`),
      '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction',
    ], { stdio: 'ignore' })
    child.on('error', () => {}) // no redis-server: the wait below names the port that never answered
    children.push(child)
  }
  for (const port of ports) await until(() => cli(port, 'PING').then((r) => r.trim() === 'PONG', () => false), 10_000, `redis-server on ${port}`)
  await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 })
  for (const port of ports) {
    await until(() => cli(port, 'CLUSTER', 'INFO').then((r) => r.includes('cluster_state:ok'), () => false), 20_000, `cluster_state:ok on ${port}`)
  }
  return { url: ports.map((p) => `redis://127.0.0.1:${p}`).join(','), ports, cli }
}
