// The `urgent-appeals` command (contract §1): migrate, serve, worker, dev,
// create-api-key. Each role opens what it needs and closes it with grace.
import { parseArgs } from 'node:util'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import closeWithGrace from 'close-with-grace'
import { ConfigError, loadConfig, type Config, type Env, type RequiredVariable } from './config.js'
import { createPool, type Pool } from './db/pool.js'
import { migrate } from './db/migrate.js'
import { createLogger, type Logger } from './logger.js'
import { buildApp } from './app.js'
import { startWorker } from './worker.js'
import { startDeliveryWorkers } from './delivery/workers.js'
import { createFailFastRedis, createFanoutQueue } from './queue/queues.js'
import { AdministrationService } from './services/administration.js'
import { ROLES, type Role } from './auth/api-keys.js'

const USAGE = `Usage: urgent-appeals <command>

  migrate                                   apply database migrations
  serve                                     run the HTTP API
  worker                                    run the background workers
  dev                                       everything in one process on embedded defaults
  create-api-key --org NAME --role ROLE     create the organisation if needed and print a new key
                 [--name NAME]              (ROLE: admin | editor | partner; the key is the last line)
`

function configFor(require: RequiredVariable[], overrides?: Partial<Env>): Readonly<Config> {
  return loadConfig(process.env, { require, overrides })
}

async function runMigrate(): Promise<void> {
  const config = configFor(['DATABASE_URL'])
  const applied = await migrate(config.databaseUrl)
  console.log(applied.length > 0 ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'database is up to date')
}

async function runCreateApiKey(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { org: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' } } })
  if (!values.org || !values.role || !ROLES.includes(values.role as Role)) {
    throw new UsageError('create-api-key needs --org NAME and --role admin|editor|partner')
  }
  const config = configFor(['DATABASE_URL'])
  const pool = createPool(config.databaseUrl, { max: 2 })
  try {
    const { apiKey, key } = await new AdministrationService(pool)
      .createApiKeyForOrganisationName(values.org, values.role as Role, values.name ?? `${values.role} key (CLI)`)
    console.log(`created ${apiKey.role} key ${apiKey.prefix} for organisation ${values.org}`)
    console.log(key)
  } finally {
    await pool.end()
  }
}

interface Stoppable { close(): Promise<void> }

/** Starts API and/or worker on an already-resolved config; returns what to close. */
async function startRoles(config: Readonly<Config>, logger: Logger, roles: { api: boolean; worker: boolean }): Promise<{ pool: Pool; stop: () => Promise<void>; address?: string }> {
  const pool = createPool(config.databaseUrl, { max: roles.api ? 20 : 10 })
  const redis = createFailFastRedis(config.redisUrl)
  const stops: Stoppable[] = []
  let address: string | undefined
  if (roles.worker) {
    const fanoutQueue = createFanoutQueue(redis, config.queuePrefix)
    const worker = await startWorker({ config, pool, fanoutQueue, logger })
    const delivery = await startDeliveryWorkers({ config, pool, logger })
    stops.push(worker, delivery, fanoutQueue)
  }
  if (roles.api) {
    const app = await buildApp({ config, pool, redis, logger })
    address = await app.listen({ host: config.host, port: config.port })
    stops.unshift(app) // stop taking requests first
  }
  return {
    pool, address,
    stop: async () => {
      for (const s of stops) await s.close()
      redis.disconnect()
      await pool.end()
    },
  }
}

function onShutdown(logger: Logger, stop: () => Promise<void>): void {
  closeWithGrace({ delay: 10_000 }, async ({ err, signal }) => {
    if (err) logger.error({ err }, 'shutting down after an error')
    else logger.info({ signal }, 'shutting down')
    await stop()
  })
}

async function runServe(roles: { api: boolean; worker: boolean }): Promise<void> {
  const required: RequiredVariable[] = roles.worker
    ? ['DATABASE_URL', 'REDIS_URL', 'SMTP_URL', 'SECRETS_KEY']
    : ['DATABASE_URL', 'REDIS_URL', 'SECRETS_KEY']
  const config = configFor(required)
  const logger = createLogger(config.logLevel)
  const { stop } = await startRoles(config, logger, roles)
  if (roles.worker && !roles.api) logger.info('worker started')
  onShutdown(logger, stop)
}

async function runDev(): Promise<void> {
  const embedded = await import('./dev/embedded.js')
  const say = (m: string) => console.log(`[dev] ${m}`)
  const started: { stop(): Promise<void> }[] = []
  const overrides: Partial<Env> = {}
  try {
    if (!process.env.DATABASE_URL) {
      const pg = await embedded.startEmbeddedPostgres(say)
      started.push(pg)
      overrides.DATABASE_URL = pg.url
    }
    if (!process.env.REDIS_URL) {
      const redis = await embedded.startRedisFromPath()
      started.push(redis)
      overrides.REDIS_URL = redis.url
    }
    if (!process.env.SMTP_URL) {
      const catcher = await embedded.startMailCatcher()
      started.push(catcher)
      overrides.SMTP_URL = catcher.url
      say(`mail is caught in ${catcher.dir}`)
    }
    if (!process.env.SECRETS_KEY) overrides.SECRETS_KEY = embedded.devSecretsKey()
    const config = configFor([], overrides)
    await migrate(config.databaseUrl)
    const logger = createLogger(config.logLevel)
    const { pool, stop } = await startRoles(config, logger, { api: true, worker: true })
    await printFirstAdminKey(pool, embedded.DATA_DIR, say)
    say(`API:  http://${config.host}:${config.port}/v1/appeals`)
    say(`docs: http://${config.host}:${config.port}/docs`)
    onShutdown(logger, async () => {
      await stop()
      for (const s of started.reverse()) await s.stop().catch(() => {})
    })
  } catch (error) {
    for (const s of started.reverse()) await s.stop().catch(() => {})
    throw error
  }
}

/** First run only: an admin key for a local organisation, printed once and kept under .data. */
async function printFirstAdminKey(pool: Pool, dataDir: string, say: (m: string) => void): Promise<void> {
  const keyFile = join(dataDir, 'admin-key')
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM api_keys')
  if (rows[0]!.n > 0) {
    if (existsSync(keyFile)) say(`admin key: see ${keyFile}`)
    return
  }
  const { key } = await new AdministrationService(pool).createApiKeyForOrganisationName('Local NGO', 'admin', 'first-run admin key')
  writeFileSync(keyFile, `${key}\n`, { mode: 0o600 })
  say('created an admin key (also saved in .data/admin-key):')
  console.log(key)
}

class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'migrate': await runMigrate(); return 0
      case 'serve': await runServe({ api: true, worker: false }); return -1
      case 'worker': await runServe({ api: false, worker: true }); return -1
      case 'dev': await runDev(); return -1
      case 'create-api-key': await runCreateApiKey(rest); return 0
      case undefined: case 'help': case '--help': case '-h':
        process.stdout.write(USAGE); return command === undefined ? 2 : 0
      default: throw new UsageError(`unknown command: ${command}`)
    }
  } catch (error) {
    if (error instanceof ConfigError) console.error(error.message)
    else if (error instanceof UsageError) console.error(`${error.message}\n\n${USAGE}`)
    else console.error(error instanceof Error ? error.message : error)
    return error instanceof UsageError ? 2 : 1
  }
}

// -1: a long-running role; the process lives until a signal.
const code = await main(process.argv.slice(2))
if (code >= 0) process.exit(code)
