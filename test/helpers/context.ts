// Per-test-file isolation on the shared servers: a fresh database cloned
// from a migrated template, a private BullMQ prefix, and keys for each role.
import { createHash, randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import tap from 'tap'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { loadConfig, type Config, type Env } from '../../src/config.js'
import { createPool, type Pool } from '../../src/db/pool.js'
import { migrate, MIGRATIONS_DIR } from '../../src/db/migrate.js'
import { buildApp } from '../../src/app.js'
import { createFailFastRedis, createFanoutQueue, type FanoutJob, type RedisConnection } from '../../src/queue/queues.js'
import { startSweeper, type RunningSweeper } from '../../src/sweeper.js'
import type { Queue } from 'bullmq'
import { AdministrationService } from '../../src/services/administration.js'
import type { Role } from '../../src/auth/api-keys.js'
import { startPostgres, startRedis, type RunningRedis } from '../harness/services.js'

interface Tap {
  teardown(fn: () => unknown): void
}

let sharedServers: Promise<{ databaseUrl: string; redisUrl: string }> | undefined

/** The servers `npm test` started, or our own when a file runs alone. */
export function servers(): Promise<{ databaseUrl: string; redisUrl: string }> {
  sharedServers ??= (async () => {
    let databaseUrl = process.env.TEST_DATABASE_URL
    let redisUrl = process.env.TEST_REDIS_URL
    if (!databaseUrl) {
      const pgServer = await startPostgres()
      tap.teardown(() => pgServer.stop()) // after every test of this file
      databaseUrl = pgServer.url
    }
    if (!redisUrl) {
      const redisServer = await startRedis()
      tap.teardown(() => redisServer.stop())
      redisUrl = redisServer.url
    }
    return { databaseUrl, redisUrl }
  })()
  return sharedServers
}

const migrationsHash = () => createHash('sha256')
  .update(readdirSync(MIGRATIONS_DIR).sort().map((f) => f + readFileSync(join(MIGRATIONS_DIR, f), 'utf8')).join('\n'))
  .digest('hex').slice(0, 12)

const withDatabase = (url: string, database: string) => {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

/**
 * A new database, dropped at teardown: migrated (cloned from a template
 * built once per set of migrations), or empty with `migrated: false`.
 */
export async function createTestDatabase(t: Tap, options: { migrated?: boolean } = {}): Promise<string> {
  const { databaseUrl } = await servers()
  const template = `ua_template_${migrationsHash()}`
  const name = `ua_test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: databaseUrl })
  await admin.connect()
  try {
    await admin.query('SELECT pg_advisory_lock(727272)') // files run in parallel; one builds the template
    if (options.migrated === false) {
      await admin.query(`CREATE DATABASE ${name}`)
    } else {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template])
      if (exists.rowCount === 0) {
        await admin.query(`CREATE DATABASE ${template}`)
        await migrate(withDatabase(databaseUrl, template))
      }
      await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`)
    }
  } finally {
    await admin.query('SELECT pg_advisory_unlock(727272)').catch(() => {})
    await admin.end()
  }
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: databaseUrl })
    await c.connect()
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {})
    await c.end()
  })
  return withDatabase(databaseUrl, name)
}

export const TEST_SECRETS_KEY = randomBytes(32).toString('base64')

export async function testConfig(databaseUrl: string, overrides: Partial<Env> = {}): Promise<Readonly<Config>> {
  const { redisUrl } = await servers()
  const config = loadConfig({}, {
    overrides: {
      DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, SMTP_URL: 'smtp://127.0.0.1:2525',
      SECRETS_KEY: TEST_SECRETS_KEY, LOG_LEVEL: 'silent', WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
      // Tests send many keyless requests from one address, and scale tests register
      // a thousand endpoints for one partner; limit tests set their own.
      PUBLIC_RATE_LIMIT: '100000', WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION: '100000', ...overrides,
    },
  })
  // A private queue prefix per file keeps parallel files out of each other's queues.
  return Object.freeze({ ...config, queuePrefix: `ua-test-${randomBytes(4).toString('hex')}`, sweepIntervalMs: 200 })
}

export interface Keys {
  admin: string
  editor: string
  /** A second editor of the first NGO: the other person of two-person approval. */
  reviewer: string
  partner: string
  /** An editor of a second NGO: tenancy tests. */
  otherEditor: string
  otherPartner: string
}

export interface TestApp {
  app: FastifyInstance
  pool: Pool
  redis: RedisConnection
  config: Readonly<Config>
  keys: Keys
  orgIds: { ngo: string; otherNgo: string; partner: string; otherPartner: string }
  /** `app.inject` with the key of `as` (or none) and a JSON body. */
  request(as: keyof Keys | null, method: InjectOptions['method'], url: string, body?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>
}

export async function createKey(pool: Pool, org: string, role: Role, name = `${role} test key`): Promise<{ key: string; organisationId: string; id: string }> {
  const { key, apiKey } = await new AdministrationService(pool).createApiKeyForOrganisationName(org, role, name)
  return { key, organisationId: apiKey.organisationId, id: apiKey.id }
}

/** The API on a fresh database with the shared Redis, workers off; closed at teardown. */
export async function buildTestApp(t: Tap, overrides: Partial<Env> = {}): Promise<TestApp> {
  const databaseUrl = await createTestDatabase(t)
  const config = await testConfig(databaseUrl, overrides)
  const pool = createPool(databaseUrl, { max: 10 })
  const redis = createFailFastRedis(config.redisUrl)
  // Postgres-backed /metrics gauges recounted every 200 ms, not every minute.
  const app = await buildApp({ config, pool, redis, logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), gaugeRefreshMs: 200 })
  await app.ready()
  t.teardown(async () => {
    await app.close()
    redis.disconnect()
    await pool.end()
  })
  const admin = await createKey(pool, 'Liaoning Watch', 'admin')
  const editor = await createKey(pool, 'Liaoning Watch', 'editor')
  const reviewer = await createKey(pool, 'Liaoning Watch', 'editor', 'reviewer test key')
  const otherEditor = await createKey(pool, 'Other NGO', 'editor')
  const partner = await createKey(pool, 'Refugee Desk', 'partner')
  const otherPartner = await createKey(pool, 'Press Network', 'partner')
  const keys = {
    admin: admin.key, editor: editor.key, reviewer: reviewer.key, partner: partner.key, otherEditor: otherEditor.key, otherPartner: otherPartner.key,
  }
  return {
    app, pool, redis, config, keys,
    orgIds: { ngo: admin.organisationId, otherNgo: otherEditor.organisationId, partner: partner.organisationId, otherPartner: otherPartner.organisationId },
    request(as, method, url, body, headers = {}) {
      return app.inject({
        method, url,
        headers: { ...(as ? { authorization: `Bearer ${keys[as]}` } : {}), ...headers },
        ...(body !== undefined ? { payload: body as InjectOptions['payload'] } : {}),
      })
    },
  }
}

/** A redis-server of the test's own (outage tests stop and start it); stopped at teardown. */
export async function startPrivateRedis(t: Tap): Promise<RunningRedis> {
  const server = await startRedis()
  t.teardown(() => server.stop())
  return server
}

/** The API (workers off) on a fresh database and a private Redis that the test may stop and start. */
export async function buildTestAppOnPrivateRedis(t: Tap, overrides: Partial<Env> = {}): Promise<TestApp & { redisServer: RunningRedis }> {
  const redisServer = await startPrivateRedis(t)
  const ctx = await buildTestApp(t, { ...overrides, REDIS_URL: redisServer.url })
  return { ...ctx, redisServer }
}

export interface TestSweeper {
  sweeper: RunningSweeper
  /** The fan-out queue the relay writes to (inspect it with getJob). */
  queue: Queue<FanoutJob>
  pool: Pool
  /** Stops the sweeper and closes its handles; safe to call twice (teardown calls it too). */
  close(): Promise<void>
}

/**
 * The `worker` role's sweeper (outbox relay, embargo release) as src/cli.ts starts it, on its own pool
 * and Redis connection; `config` may be a spread of ctx.config with overrides.
 */
export async function startTestSweeper(t: Tap, config: Readonly<Config>): Promise<TestSweeper> {
  const pool = createPool(config.databaseUrl, { max: 4, applicationName: 'urgent-appeals-test-worker' })
  const redis = createFailFastRedis(config.redisUrl)
  const queue = createFanoutQueue(redis, config.queuePrefix)
  const sweeper = await startSweeper({ config, pool, fanoutQueue: queue, logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) })
  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= (async () => {
      await sweeper.close()
      await queue.close().catch(() => {})
      redis.disconnect()
      await pool.end()
    })()
    return closing
  }
  t.teardown(close)
  return { sweeper, queue, pool, close }
}

export { Redis }
