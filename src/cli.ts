// The `urgent-appeals` command (contract §1): migrate, serve, worker, dev,
// create-api-key, create-user. Each role opens what it needs and closes it with grace.
// Heavy modules are imported by the command that needs them, so usage and
// configuration errors answer at once.
import { parseArgs } from 'node:util'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import closeWithGrace from 'close-with-grace'
import { ConfigError, loadConfig, type Config, type Env, type RequiredVariable } from './config.js'
import { ROLES, type Role } from './auth/api-keys.js'
import type { Pool } from './db/pool.js'
import type { Logger } from './logger.js'

const USAGE = `Usage: urgent-appeals <command>

  migrate                                   apply database migrations
  serve                                     run the HTTP API
  worker                                    run the background workers
  dev                                       everything in one process on embedded defaults
  create-api-key --org NAME --role ROLE     create the organisation if needed and print a new key
                 [--name NAME]              (ROLE: admin | editor | partner; the key is the last line)
  create-user --org NAME --email ADDRESS    create the organisation if needed and a person's console
              --role ROLE [--name NAME]     account; prints a one-time enrolment URL (24 h) last

Configuration comes from environment variables (see README): DATABASE_URL,
REDIS_URL, SMTP_URL, SECRETS_KEY, HOST, PORT, LOG_LEVEL, …
`

class UsageError extends Error {}

function configFor(require: RequiredVariable[], overrides?: Partial<Env>): Readonly<Config> {
  return loadConfig(process.env, { require, overrides })
}

async function runMigrate(argv: string[]): Promise<void> {
  if (argv.length > 0) throw new UsageError(`migrate takes no arguments (got ${argv.join(' ')})`)
  const config = configFor(['DATABASE_URL'])
  const { migrate } = await import('./db/migrate.js')
  const applied = await migrate(config.databaseUrl)
  console.log(applied.length > 0 ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'database is up to date')
}

async function runCreateApiKey(argv: string[]): Promise<void> {
  let values: { org?: string; role?: string; name?: string }
  try {
    ({ values } = parseArgs({ args: argv, options: { org: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' } } }))
  } catch (error) {
    throw new UsageError(`create-api-key: ${(error as Error).message}`)
  }
  if (!values.org || !values.role || !ROLES.includes(values.role as Role)) {
    throw new UsageError('create-api-key needs --org NAME and --role admin|editor|partner')
  }
  const config = configFor(['DATABASE_URL'])
  const [{ createPool }, { AdministrationService }] = await Promise.all([
    import('./db/pool.js'), import('./services/administration.js'),
  ])
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

async function runCreateUser(argv: string[]): Promise<void> {
  let values: { org?: string; email?: string; role?: string; name?: string }
  try {
    ({ values } = parseArgs({ args: argv, options: { org: { type: 'string' }, email: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' } } }))
  } catch (error) {
    throw new UsageError(`create-user: ${(error as Error).message}`)
  }
  if (!values.org || !values.email || !values.role || !ROLES.includes(values.role as Role)) {
    throw new UsageError('create-user needs --org NAME, --email ADDRESS and --role admin|editor|partner')
  }
  const config = configFor(['DATABASE_URL'])
  const [{ createPool }, { PeopleService }] = await Promise.all([import('./db/pool.js'), import('./services/people.js')])
  const pool = createPool(config.databaseUrl, { max: 2 })
  try {
    const enrolment = await new PeopleService(pool, config.publicBaseUrl)
      .createUserForOrganisationName(values.org, { email: values.email, role: values.role as Role, ...(values.name ? { displayName: values.name } : {}) })
    console.log(`${enrolment.created ? 'created' : 'found'} ${enrolment.person.role} ${enrolment.person.email} in organisation ${enrolment.person.organisationName}`)
    console.log(`enrolment link (one passkey, until ${enrolment.expiresAt}; an earlier link no longer works):`)
    console.log(enrolment.url)
  } finally {
    await pool.end()
  }
}

/**
 * Graceful shutdown, installed before anything starts: a signal during
 * start-up still closes what was opened so far (in reverse order).
 */
function gracefulShutdown(log: () => Logger | undefined) {
  const steps: { name: string; stop: () => Promise<void> }[] = []
  closeWithGrace({ delay: 10_000 }, async ({ err, signal }) => {
    const logger = log()
    if (err) (logger ? logger.error({ err }, 'shutting down after an error') : console.error(err))
    else logger?.info({ signal }, 'shutting down')
    for (const step of steps.reverse()) {
      await step.stop().catch((error: unknown) => logger?.warn({ err: error }, `could not stop ${step.name}`))
    }
  })
  return {
    add(name: string, stop: () => Promise<void>) { steps.push({ name, stop }) },
    async stopAll() {
      for (const step of steps.splice(0).reverse()) await step.stop().catch(() => {})
    },
  }
}
type Shutdown = ReturnType<typeof gracefulShutdown>

/** Starts API and/or worker on an already-resolved config; registers what to close. */
async function startRoles(config: Readonly<Config>, logger: Logger, roles: { api: boolean; worker: boolean }, shutdown: Shutdown): Promise<Pool> {
  const [{ createPool }, { createFailFastRedis, createFanoutQueue }] = await Promise.all([
    import('./db/pool.js'), import('./queue/queues.js'),
  ])
  const pool = createPool(config.databaseUrl, { max: roles.api ? 20 : 10 })
  shutdown.add('Postgres pool', () => pool.end())
  const redis = createFailFastRedis(config.redisUrl)
  shutdown.add('Redis connection', async () => { redis.disconnect() })
  if (roles.worker) {
    const { startSweeper } = await import('./sweeper.js')
    const fanoutQueue = createFanoutQueue(redis, config.queuePrefix)
    shutdown.add('fan-out queue', () => fanoutQueue.close())
    const sweeper = await startSweeper({ config, pool, fanoutQueue, logger })
    shutdown.add('sweeper', () => sweeper.close())
    // Fan-out, email, webhook and reconciler queues: without them the relay
    // fills the fan-out queue and nothing is ever delivered.
    const { startDeliveryWorkers } = await import('./delivery/workers.js')
    const delivery = await startDeliveryWorkers({ config, pool, logger })
    shutdown.add('delivery workers', () => delivery.close())
  }
  if (roles.api) {
    const { buildApp } = await import('./app.js')
    const app = await buildApp({ config, pool, redis, logger })
    shutdown.add('HTTP server', () => app.close()) // closed first: stop taking requests
    await app.listen({ host: config.host, port: config.port })
  }
  return pool
}

async function runServe(argv: string[], roles: { api: boolean; worker: boolean }): Promise<void> {
  if (argv.length > 0) throw new UsageError(`unexpected arguments: ${argv.join(' ')}`)
  const required: RequiredVariable[] = roles.worker
    ? ['DATABASE_URL', 'REDIS_URL', 'SMTP_URL', 'SECRETS_KEY']
    : ['DATABASE_URL', 'REDIS_URL', 'SECRETS_KEY']
  const config = configFor(required)
  const { createLogger } = await import('./logger.js')
  const logger = createLogger(config.logLevel)
  const shutdown = gracefulShutdown(() => logger)
  try {
    await startRoles(config, logger, roles, shutdown)
  } catch (error) {
    await shutdown.stopAll()
    throw error
  }
  if (roles.worker && !roles.api) logger.info('worker started')
}

async function runDev(argv: string[]): Promise<void> {
  if (argv.length > 0) throw new UsageError(`unexpected arguments: ${argv.join(' ')}`)
  loadConfig(process.env) // report bad variables before starting anything
  const embedded = await import('./dev/embedded.js')
  const say = (m: string) => console.log(`[dev] ${m}`)
  let logger: Logger | undefined
  const shutdown = gracefulShutdown(() => logger)
  const overrides: Partial<Env> = {}
  try {
    if (!process.env.REDIS_URL) {
      const redis = await embedded.startRedisFromPath() // first: it fails fast when redis-server is missing
      shutdown.add('redis-server', redis.stop)
      overrides.REDIS_URL = redis.url
    }
    if (!process.env.DATABASE_URL) {
      const pg = await embedded.startEmbeddedPostgres(say)
      shutdown.add('embedded Postgres', pg.stop)
      overrides.DATABASE_URL = pg.url
    }
    if (!process.env.SMTP_URL) {
      const catcher = await embedded.startMailCatcher()
      shutdown.add('mail catcher', catcher.stop)
      overrides.SMTP_URL = catcher.url
      say(`mail is caught in ${catcher.dir}`)
    }
    if (!process.env.SECRETS_KEY) overrides.SECRETS_KEY = embedded.devSecretsKey()
    // Links in mail point at this server unless told otherwise.
    if (!process.env.PUBLIC_BASE_URL && process.env.PORT) overrides.PUBLIC_BASE_URL = `http://localhost:${process.env.PORT}`
    const config = configFor([], overrides)
    const { migrate } = await import('./db/migrate.js')
    await migrate(config.databaseUrl)
    const { createLogger } = await import('./logger.js')
    logger = createLogger(config.logLevel)
    const pool = await startRoles(config, logger, { api: true, worker: true }, shutdown)
    const base = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`
    say(`API:  ${base}/v1/appeals`)
    say(`docs: ${base}/docs`)
    await printFirstAdminKey(pool, embedded.DATA_DIR, say)
    await printFirstAdminEnrolment(pool, config.publicBaseUrl, say)
    say('ready (Ctrl-C stops everything)')
  } catch (error) {
    await shutdown.stopAll()
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
  const { AdministrationService } = await import('./services/administration.js')
  const { key } = await new AdministrationService(pool).createApiKeyForOrganisationName('Local NGO', 'admin', 'first-run admin key')
  writeFileSync(keyFile, `${key}\n`, { mode: 0o600 })
  say(`created an admin key (also saved in ${keyFile}):`)
  console.log(key)
}

/** The first admin person of dev mode, on the organisation of the first admin key. */
const DEV_ADMIN_EMAIL = 'admin@localhost'

/**
 * Dev start-up: a first admin person (created on the first run, beside the
 * first admin key) and their console enrolment link. Printed again, as a
 * new link (the old one void), on every start until that admin has a
 * passkey — a link left unopened expires after 24 h; afterwards only the
 * sign-in URL.
 */
async function printFirstAdminEnrolment(pool: Pool, publicBaseUrl: string, say: (m: string) => void): Promise<void> {
  const { PeopleService } = await import('./services/people.js')
  const service = new PeopleService(pool, publicBaseUrl)
  const { rows } = await pool.query<{ id: string; name: string }>(
    `SELECT p.id, o.name FROM people p JOIN organisations o ON o.id = p.organisation_id
      WHERE p.role = 'admin' AND p.disabled_at IS NULL ORDER BY p.seq LIMIT 1`)
  const signIn = `${publicBaseUrl.replace(/\/+$/, '')}/console/sign-in`
  if (rows[0] && await service.hasPasskey(rows[0].id)) {
    say(`console: ${signIn}`)
    return
  }
  const { rows: orgs } = await pool.query<{ name: string }>(
    `SELECT o.name FROM api_keys k JOIN organisations o ON o.id = k.organisation_id WHERE k.role = 'admin' ORDER BY k.seq LIMIT 1`)
  const organisation = rows[0]?.name ?? orgs[0]?.name ?? 'Local NGO'
  const person = rows[0] ? await service.get(rows[0].id) : null
  const enrolment = await service.createUserForOrganisationName(organisation, { email: person?.email ?? DEV_ADMIN_EMAIL, role: 'admin', displayName: 'First admin' })
  say(`console: ${signIn}`)
  say(`${enrolment.created ? 'created a first admin person' : 'the first admin person has no passkey yet'} (${enrolment.person.email}); enrol a passkey within 24 h at:`)
  console.log(enrolment.url)
}

/** Runs one command; returns the exit code, or -1 for a long-running role. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'migrate': await runMigrate(rest); return 0
      case 'serve': await runServe(rest, { api: true, worker: false }); return -1
      case 'worker': await runServe(rest, { api: false, worker: true }); return -1
      case 'dev': await runDev(rest); return -1
      case 'create-api-key': await runCreateApiKey(rest); return 0
      case 'create-user': await runCreateUser(rest); return 0
      case 'help': case '--help': case '-h':
        process.stdout.write(USAGE); return 0
      case undefined:
        process.stderr.write(USAGE); return 2
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
