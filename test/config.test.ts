// Configuration (contract §1.1): defaults exactly as documented, every bad
// variable reported at once without echoing secrets, required variables per
// command, and a frozen result. Unit tests: no servers.
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import t from 'tap'
import { CONFIG_VARIABLES, ConfigError, EnvSchema, SECRET_VARIABLES, loadConfig } from '../src/config.js'

const GOOD_SECRETS_KEY = randomBytes(32).toString('base64')
const METRICS_TOKEN = randomBytes(32).toString('hex')
const dkimKey = () => generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()

function configError(env: Record<string, string>, options?: Parameters<typeof loadConfig>[1]): ConfigError {
  try {
    loadConfig(env, options)
  } catch (error) {
    if (error instanceof ConfigError) return error
    throw error
  }
  throw new Error('expected a ConfigError')
}

// The table of contract §1.1, transcribed: a change here is a contract change.
const CONTRACT_DEFAULTS: Record<string, string | undefined> = {
  DATABASE_URL: undefined,
  REDIS_URL: undefined,
  SMTP_URL: undefined,
  MAIL_FROM: 'Urgent Appeals <alerts@localhost>',
  PUBLIC_BASE_URL: 'http://localhost:3000',
  HOST: '127.0.0.1',
  PORT: '3000',
  LOG_LEVEL: 'info',
  SECRETS_KEY: undefined,
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false',
  WEBHOOK_TIMEOUT_MS: '15000',
  WEBHOOK_RETRY_SCHEDULE: '10,60,300,1800,7200,21600,43200,86400',
  WEBHOOK_DISABLE_AFTER: '259200',
  EMAIL_RETRY_SCHEDULE: '30,120,600,3600,21600',
  EMAIL_MAX_PER_SECOND: '0',
  DKIM_DOMAIN: undefined,
  DKIM_SELECTOR: undefined,
  DKIM_PRIVATE_KEY: undefined,
  PUBLIC_RATE_LIMIT: '60',
  TRUST_PROXY: 'false',
  METRICS_TOKEN: undefined,
  PUBLIC_CORS_ORIGINS: undefined,
  BOUNCE_DOMAIN: undefined,
  BOUNCE_SMTP_PORT: undefined,
  SES_SNS_TOPIC_ARNS: undefined,
  POSTMARK_WEBHOOK_USER: undefined,
  POSTMARK_WEBHOOK_PASSWORD: undefined,
  MAILGUN_WEBHOOK_SIGNING_KEY: undefined,
  SENDGRID_WEBHOOK_PUBLIC_KEY: undefined,
  // Not in the contract's table: a limit the contract leaves to us (issue 9), documented in the README.
  WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION: '25',
  // Not in the contract either: the worker's heap growth (issue 12), documented in the README.
  WORKER_HEAP_GROWTH_PERCENT: '20',
}

t.test('the variables and their defaults are exactly those of contract §1.1', async (t) => {
  t.same([...CONFIG_VARIABLES].sort(), Object.keys(CONTRACT_DEFAULTS).sort(), 'the same variables')
  const properties = EnvSchema.properties as Record<string, { default?: string }>
  for (const [name, value] of Object.entries(CONTRACT_DEFAULTS)) {
    t.equal(properties[name]?.default, value, `${name} defaults to ${value ?? 'nothing'} in the schema`)
  }
})

t.test('an empty environment yields every documented default', async (t) => {
  const config = loadConfig({})
  t.same(config, {
    databaseUrl: '', redisUrl: '', smtpUrl: '',
    mailFrom: 'Urgent Appeals <alerts@localhost>',
    publicBaseUrl: 'http://localhost:3000',
    host: '127.0.0.1',
    port: 3000,
    logLevel: 'info',
    secretsKey: Buffer.alloc(0),
    webhook: {
      allowPrivateNetworks: false,
      timeoutMs: 15000,
      retryScheduleSeconds: [10, 60, 300, 1800, 7200, 21600, 43200, 86400],
      disableAfterSeconds: 259200,
      maxEndpointsPerOrganisation: 25,
    },
    email: { retryScheduleSeconds: [30, 120, 600, 3600, 21600], maxPerSecond: 0, dkim: null, bounce: { domain: null, smtpPort: null } },
    emailEvents: { sesTopicArns: [], postmark: null, mailgunSigningKey: null, sendgridPublicKey: null },
    publicRateLimitPerMinute: 60,
    trustProxy: false,
    metricsToken: null,
    publicCorsOrigins: [],
    queuePrefix: 'ua',
    sweepIntervalMs: 1000,
    workerHeapGrowthPercent: 20,
  })
  t.same(loadConfig(Object.fromEntries(CONFIG_VARIABLES.map((name) => [name, '']))), config, 'empty strings count as unset')
})

t.test('values are parsed into their types', async (t) => {
  const key = dkimKey()
  const config = loadConfig({
    DATABASE_URL: 'postgresql://ua:pw@db:5432/ua', REDIS_URL: 'rediss://:pw@redis:6380', SMTP_URL: 'smtps://u:p@relay:465',
    MAIL_FROM: 'Alerts <alerts@ngo.example>', PUBLIC_BASE_URL: 'https://alerts.ngo.example/ua/',
    HOST: '0.0.0.0', PORT: '8080', LOG_LEVEL: 'warn', SECRETS_KEY: GOOD_SECRETS_KEY,
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', WEBHOOK_TIMEOUT_MS: '5000', WEBHOOK_RETRY_SCHEDULE: '1, 2 ,3',
    WEBHOOK_DISABLE_AFTER: '3600', EMAIL_RETRY_SCHEDULE: '5', EMAIL_MAX_PER_SECOND: '14',
    DKIM_DOMAIN: 'ngo.example', DKIM_SELECTOR: 'ua2026', DKIM_PRIVATE_KEY: key.replace(/\n/g, '\\n'),
    PUBLIC_RATE_LIMIT: '120', UNRELATED: 'ignored',
    TRUST_PROXY: '10.0.0.2, 172.16.0.0/12,::1,uniquelocal', METRICS_TOKEN: METRICS_TOKEN, WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION: '100000',
  })
  t.equal(config.databaseUrl, 'postgresql://ua:pw@db:5432/ua')
  t.equal(config.publicBaseUrl, 'https://alerts.ngo.example/ua', 'no trailing slash: links are built by appending paths')
  t.equal(config.port, 8080)
  t.equal(config.logLevel, 'warn')
  t.same(config.secretsKey, Buffer.from(GOOD_SECRETS_KEY, 'base64'))
  t.equal(config.secretsKey.length, 32)
  t.same(config.webhook, { allowPrivateNetworks: true, timeoutMs: 5000, retryScheduleSeconds: [1, 2, 3], disableAfterSeconds: 3600, maxEndpointsPerOrganisation: 100000 })
  t.same(config.email.retryScheduleSeconds, [5])
  t.equal(config.email.maxPerSecond, 14)
  t.same(config.email.dkim, { domain: 'ngo.example', selector: 'ua2026', privateKey: key }, 'a one-line PEM (\\n escapes) becomes a real PEM')
  t.equal(config.publicRateLimitPerMinute, 120)
  t.same(config.trustProxy, ['10.0.0.2', '172.16.0.0/12', '::1', 'uniquelocal'], 'TRUST_PROXY becomes the list Fastify\'s trustProxy takes')
  t.equal(config.metricsToken, METRICS_TOKEN)
})

t.test('TRUST_PROXY: false or the proxies\' addresses; true, hop counts and anything proxy-addr would misread are refused at start', async (t) => {
  t.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false)
  t.same(loadConfig({ TRUST_PROXY: '10.0.0.0/255.0.0.0' }).trustProxy, ['10.0.0.0/255.0.0.0'], 'a netmask as proxy-addr takes it')
  t.same(loadConfig({ TRUST_PROXY: 'loopback' }).trustProxy, ['loopback'])
  for (const value of ['true', '1', '2', '0', '10.0.0.0/33', '2001:db8::/129', 'proxy.example', '10.0.0.2,', '10.1', 'yes']) {
    const error = configError({ TRUST_PROXY: value })
    t.same(error.problems.map((p) => p.split(':')[0]), ['TRUST_PROXY'], `${JSON.stringify(value)} is refused`)
    t.match(error.message, /TRUST_PROXY: must be false or a comma list of the proxies' addresses or CIDRs .*not true or a hop count/)
  }
})

t.test('WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION is at least 1; METRICS_TOKEN is long enough to be a secret', async (t) => {
  t.same(configError({ WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION: '0' }).problems,
    ['WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION: must be a whole number of endpoints, at least 1 (got "0")'])
  t.same(configError({ WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION: 'many' }).problems.map((p) => p.split(':')[0]), ['WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION'])
  for (const token of ['short-token', 'x'.repeat(31), 'has spaces in it but is long enough 12345', 'x'.repeat(513)]) {
    const error = configError({ METRICS_TOKEN: token })
    t.same(error.problems, ['METRICS_TOKEN: must be 32 to 512 characters of A-Z a-z 0-9 . _ ~ + / - (e.g. `openssl rand -base64 32`)'],
      'refused, and the value is not echoed')
  }
  t.equal(loadConfig({ METRICS_TOKEN: randomBytes(32).toString('base64') }).metricsToken?.length, 44, 'openssl rand -base64 32 fits')
})

t.test('PUBLIC_CORS_ORIGINS: origins as browsers send them; paths, wildcards and other schemes are refused at start', async (t) => {
  t.same(loadConfig({ PUBLIC_CORS_ORIGINS: 'https://ngo.example' }).publicCorsOrigins, ['https://ngo.example'])
  t.same(loadConfig({ PUBLIC_CORS_ORIGINS: 'https://NGO.example:443/, http://localhost:8080,https://ngo.example' }).publicCorsOrigins,
    ['https://ngo.example', 'http://localhost:8080'], 'lower-case host, default port and trailing slash dropped, each once: what Origin carries')
  t.same(loadConfig({ PUBLIC_CORS_ORIGINS: 'https://bücher.example' }).publicCorsOrigins, ['https://xn--bcher-kva.example'], 'an IDN as its ASCII form')
  for (const value of ['*', 'null', 'ngo.example', 'https://ngo.example/signup', 'https://ngo.example?x=1', 'https://ngo.example#top',
    'ftp://ngo.example', 'https://user:pw@ngo.example', 'https://ngo.example,', 'https://ngo.example:99999', 'https://*.ngo.example']) {
    t.same(configError({ PUBLIC_CORS_ORIGINS: value }).problems,
      [`PUBLIC_CORS_ORIGINS: must be a comma list of origins, each http(s)://host[:port] with no path, e.g. https://ngo.example,https://www.ngo.example (not *: every origin allowed is named) (got ${JSON.stringify(value)})`],
      `${JSON.stringify(value)} is refused, naming what is expected`)
  }
})

t.test('only the environment passed in is read', async (t) => {
  const before = process.env.PORT
  process.env.PORT = '9999'
  t.teardown(() => { if (before === undefined) delete process.env.PORT; else process.env.PORT = before })
  t.equal(loadConfig({}).port, 3000)
})

t.test('every bad variable is reported at once, one line each', async (t) => {
  const error = configError({
    PORT: '70000',
    HOST: '',
    LOG_LEVEL: 'loud',
    SECRETS_KEY: randomBytes(16).toString('base64'),
    DKIM_DOMAIN: 'ngo.example', DKIM_SELECTOR: 'ua2026',
    WEBHOOK_RETRY_SCHEDULE: '10,sixty,300',
    EMAIL_RETRY_SCHEDULE: '30;120',
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'yes',
    WEBHOOK_TIMEOUT_MS: '50',
    PUBLIC_BASE_URL: 'alerts.ngo.example',
    PUBLIC_RATE_LIMIT: '-1',
  })
  t.equal(error.name, 'ConfigError')
  const named = error.problems.map((p) => p.split(':')[0])
  t.same(named.sort(), [
    'DKIM_DOMAIN, DKIM_SELECTOR, DKIM_PRIVATE_KEY', 'EMAIL_RETRY_SCHEDULE', 'LOG_LEVEL', 'PORT', 'PUBLIC_BASE_URL',
    'PUBLIC_RATE_LIMIT', 'SECRETS_KEY', 'WEBHOOK_ALLOW_PRIVATE_NETWORKS', 'WEBHOOK_RETRY_SCHEDULE', 'WEBHOOK_TIMEOUT_MS',
  ].sort(), 'each bad variable exactly once (HOST="" is unset, so its default applies)')
  for (const name of ['PORT', 'LOG_LEVEL', 'SECRETS_KEY', 'WEBHOOK_RETRY_SCHEDULE', 'PUBLIC_RATE_LIMIT']) {
    t.match(error.message, new RegExp(`^  - ${name}: must`, 'm'), `the message names ${name} with what it must be`)
  }
  t.match(error.message, /^Invalid configuration:\n/)
  t.match(error.message, /PORT: must be a TCP port, 1-65535 \(got "70000"\)/, 'non-secret values are shown')
  t.match(error.message, /set all three or none \(only DKIM_DOMAIN and DKIM_SELECTOR set\)/)
  t.match(error.message, /SECRETS_KEY: must be 32 random bytes, base64-encoded/)
  t.equal(error.message.split('\n').length, error.problems.length + 1, 'one line per problem')
})

t.test('a secret value is never echoed', async (t) => {
  const secrets = {
    DATABASE_URL: 'mysql://admin:S3cretDbPass@db/x',
    REDIS_URL: 'http://:S3cretRedisPass@redis',
    SMTP_URL: 'smtp//mailer:S3cretSmtpPass@relay',
    SECRETS_KEY: 'S3cretKeyMaterialButTooShort=',
    DKIM_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\nS3cretNotAKey\n-----END PRIVATE KEY-----',
    METRICS_TOKEN: 'S3cretMetricsToken',
    POSTMARK_WEBHOOK_PASSWORD: 'S3cret postmark password',
    MAILGUN_WEBHOOK_SIGNING_KEY: 'S3cret mailgun',
  }
  const error = configError({ ...secrets, DKIM_DOMAIN: 'ngo.example', DKIM_SELECTOR: 'ua', POSTMARK_WEBHOOK_USER: 'postmark' })
  t.same(error.problems.map((p) => p.split(':')[0]).sort(), Object.keys(secrets).sort(), 'each is reported')
  t.same([...SECRET_VARIABLES].sort(), Object.keys(secrets).sort(), 'these are the secret variables')
  t.notMatch(error.message, /S3cret/, 'no secret in the message')
  t.notMatch(JSON.stringify(error.problems), /S3cret/, 'no secret in the problems')
  t.notMatch(String(error.stack), /S3cret/, 'no secret in the stack')
  // A valid SECRETS_KEY of the wrong length is named by what is wrong with it, still unshown.
  const shortKey = randomBytes(31).toString('base64')
  const short = configError({ SECRETS_KEY: shortKey })
  t.same(short.problems, ['SECRETS_KEY: must be 32 random bytes, base64-encoded (e.g. `openssl rand -base64 32`)'])
  t.notOk(short.message.includes(shortKey))
})

t.test('`require` makes variables mandatory; overrides can satisfy them', async (t) => {
  const all = ['DATABASE_URL', 'REDIS_URL', 'SMTP_URL', 'SECRETS_KEY'] as const
  const error = configError({}, { require: all })
  t.same(error.problems.map((p) => p.split(':')[0]), [...all])
  t.match(error.problems[0], /DATABASE_URL: is required \(a postgres:\/\/ or postgresql:\/\/ URL\)/)
  t.doesNotThrow(() => loadConfig({}), 'nothing is required by default (dev fills them in)')
  const error2 = configError({ DATABASE_URL: 'postgres://db/ua' }, { require: ['DATABASE_URL', 'REDIS_URL'] })
  t.same(error2.problems, ['REDIS_URL: is required (a redis:// or rediss:// URL, or a comma list of them (Redis Cluster seed nodes))'], 'only what is missing')
  const config = loadConfig({}, {
    require: all,
    overrides: { DATABASE_URL: 'postgres://db/ua', REDIS_URL: 'redis://r', SMTP_URL: 'smtp://s', SECRETS_KEY: GOOD_SECRETS_KEY },
  })
  t.equal(config.redisUrl, 'redis://r')
  const badRequired = configError({ DATABASE_URL: 'nope' }, { require: ['DATABASE_URL'] })
  t.same(badRequired.problems, ['DATABASE_URL: must be a postgres:// or postgresql:// URL'], 'malformed, not missing')
})

t.test('REDIS_URL may list the seed nodes of a Redis Cluster; every entry must be a Redis URL', async (t) => {
  const seeds = 'redis://:pw@10.0.0.1:7000, redis://10.0.0.2:7000,rediss://10.0.0.3:7000'
  t.equal(loadConfig({ REDIS_URL: seeds }).redisUrl, seeds, 'kept as written: queue/queues.ts connects to the cluster')
  const error = configError({ REDIS_URL: 'redis://10.0.0.1:7000,10.0.0.2:7000' })
  t.same(error.problems, ['REDIS_URL: must be a redis:// or rediss:// URL, or a comma list of them (Redis Cluster seed nodes)'], 'a bare host:port is refused, and the value (it may hold a password) not echoed')
})

t.test('the configuration is deeply frozen', async (t) => {
  const config = loadConfig({ SECRETS_KEY: GOOD_SECRETS_KEY })
  t.ok(Object.isFrozen(config))
  t.ok(Object.isFrozen(config.webhook))
  t.ok(Object.isFrozen(config.webhook.retryScheduleSeconds))
  t.ok(Object.isFrozen(config.email))
  t.throws(() => { (config as { port: number }).port = 1 }, TypeError)
  t.throws(() => { (config.webhook as { timeoutMs: number }).timeoutMs = 1 }, TypeError)
  t.throws(() => { (config.email.retryScheduleSeconds as number[]).push(1) }, TypeError)
  t.equal(config.port, 3000)
})

t.test('a DKIM key of another type than RSA is refused at start, naming what is needed', async (t) => {
  const { privateKey } = generateKeyPairSync('ed25519', { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } })
  const error = configError({ DKIM_DOMAIN: 'ngo.example', DKIM_SELECTOR: 'ua2026', DKIM_PRIVATE_KEY: privateKey })
  t.same(error.problems, ['DKIM_PRIVATE_KEY: must be a PEM RSA private key (newlines may be written as \\n)'])
})
