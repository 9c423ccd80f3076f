// Owns the process configuration: one schema over the environment (contract
// §1.1), validated once at start, reported all at once, then frozen.
import { Type, type Static, type TSchema } from 'typebox'
import { Value } from 'typebox/value'
import { createPrivateKey, createPublicKey } from 'node:crypto'
import { isIP } from 'node:net'
import proxyAddr from '@fastify/proxy-addr'

const Digits = (description: string, def: string) =>
  Type.String({ pattern: '^[0-9]{1,9}$', default: def, description })
const Schedule = (description: string, def: string) =>
  Type.String({ pattern: '^[0-9]{1,7}( *, *[0-9]{1,7}){0,49}$', default: def, description })
/** An SNS topic ARN: partition, region, 12-digit account, topic name (standard or FIFO). */
const SNS_TOPIC_ARN = 'arn:aws(-cn|-us-gov)?:sns:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\\.fifo)?'
const Bool = (description: string) =>
  Type.Union([Type.Literal('true'), Type.Literal('false')], { default: 'false', description })

export const EnvSchema = Type.Object({
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://', description: 'Postgres connection string' })),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://', description: 'Redis 6.2+ for BullMQ and rate limits; several, comma-separated: Redis Cluster seed nodes' })),
  SMTP_URL: Type.Optional(Type.String({ pattern: '^smtps?://', description: 'SMTP relay, e.g. smtp://user:pass@relay:587' })),
  MAIL_FROM: Type.String({ minLength: 3, default: 'Urgent Appeals <alerts@localhost>', description: 'From of alert mail' }),
  PUBLIC_BASE_URL: Type.String({ pattern: '^https?://[^/?#\\s]+(/[^?#\\s]*)?$', default: 'http://localhost:3000', description: 'base of every link in emails and feeds' }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1', description: 'listen address' }),
  PORT: Digits('listen port', '3000'),
  LOG_LEVEL: Type.Union([Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')], { default: 'info', description: 'pino level' }),
  SECRETS_KEY: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$', description: '32 random bytes, base64' })),
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: Bool('let webhooks reach loopback/private addresses'),
  WEBHOOK_TIMEOUT_MS: Digits('whole-attempt deadline', '15000'),
  WEBHOOK_RETRY_SCHEDULE: Schedule('seconds before each webhook retry', '10,60,300,1800,7200,21600,43200,86400'),
  WEBHOOK_DISABLE_AFTER: Digits('seconds of continuous failure before an endpoint is disabled', '259200'),
  WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION: Digits('webhook endpoints one organisation may register', '25'),
  EMAIL_RETRY_SCHEDULE: Schedule('seconds before each retry of a temporary email failure', '30,120,600,3600,21600'),
  EMAIL_MAX_PER_SECOND: Digits('global email send rate, 0 = no cap', '0'),
  WORKER_HEAP_GROWTH_PERCENT: Digits('how far (percent) the worker\'s V8 old space may grow past what the last full GC kept; 0 = V8\'s own heuristic', '20'),
  DKIM_DOMAIN: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9.-]{1,253}$' })),
  DKIM_SELECTOR: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,63}$' })),
  DKIM_PRIVATE_KEY: Type.Optional(Type.String({ pattern: 'PRIVATE KEY' })),
  PUBLIC_RATE_LIMIT: Digits('requests per minute per client address on public endpoints', '60'),
  TRUST_PROXY: Type.String({ minLength: 1, default: 'false', description: 'reverse proxies trusted for the client address: false, or a comma list of addresses/CIDRs' }),
  METRICS_TOKEN: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._~+/-]{32,512}=*$', description: 'bearer token that GET /metrics requires' })),
  PUBLIC_CORS_ORIGINS: Type.Optional(Type.String({ pattern: '^[^,]+(,[^,]+)*$', description: 'origins whose pages may call the public JSON endpoints from a browser' })),
  BOUNCE_DOMAIN: Type.Optional(Type.String({ pattern: '^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}$', description: 'domain of the per-message return path bounces+<token>@BOUNCE_DOMAIN' })),
  BOUNCE_SMTP_PORT: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}$', description: 'port on which the worker receives bounce and complaint reports by SMTP' })),
  SES_SNS_TOPIC_ARNS: Type.Optional(Type.String({ pattern: `^${SNS_TOPIC_ARN}( *, *${SNS_TOPIC_ARN}){0,19}$`, description: 'SNS topics whose signed SES notifications POST /v1/email-events/ses accepts' })),
  POSTMARK_WEBHOOK_USER: Type.Optional(Type.String({ pattern: '^[^:\\s]{1,128}$', description: 'basic-auth user of POST /v1/email-events/postmark' })),
  POSTMARK_WEBHOOK_PASSWORD: Type.Optional(Type.String({ pattern: '^\\S{16,256}$', description: 'basic-auth password of POST /v1/email-events/postmark' })),
  MAILGUN_WEBHOOK_SIGNING_KEY: Type.Optional(Type.String({ pattern: '^\\S{16,256}$', description: 'Mailgun HTTP webhook signing key' })),
  SENDGRID_WEBHOOK_PUBLIC_KEY: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9+/]{40,400}={0,2}$', description: 'SendGrid signed event webhook verification key (base64 DER, ECDSA P-256)' })),
})
export type Env = Static<typeof EnvSchema>

/** Every variable the service reads; docker-compose and the README follow this list. */
export const CONFIG_VARIABLES = Object.keys(EnvSchema.properties) as (keyof Env)[]

export type RequiredVariable = 'DATABASE_URL' | 'REDIS_URL' | 'SMTP_URL' | 'SECRETS_KEY'

export interface Config {
  databaseUrl: string
  redisUrl: string
  smtpUrl: string
  mailFrom: string
  publicBaseUrl: string
  host: string
  port: number
  logLevel: Env['LOG_LEVEL']
  secretsKey: Buffer
  webhook: {
    allowPrivateNetworks: boolean
    timeoutMs: number
    retryScheduleSeconds: number[]
    disableAfterSeconds: number
    /** Endpoints one organisation may register; a create beyond it is a 409. */
    maxEndpointsPerOrganisation: number
  }
  email: {
    retryScheduleSeconds: number[]
    maxPerSecond: number
    dkim: { domain: string; selector: string; privateKey: string } | null
    /**
     * BOUNCE_DOMAIN (lower case): alert mail goes out with the envelope sender
     * `bounces+<token>@domain` (email/return-path.ts); null: MAIL_FROM's address.
     * BOUNCE_SMTP_PORT: where the worker listens for DSN and ARF reports; null: it does not.
     */
    bounce: { domain: string | null; smtpPort: number | null }
  }
  /**
   * Provider event webhooks, POST /v1/email-events/{provider} (routes/email-events.ts).
   * A provider left unset answers 404. sesTopicArns: SES_SNS_TOPIC_ARNS (empty: SES off);
   * postmark: POSTMARK_WEBHOOK_USER and _PASSWORD; mailgunSigningKey: MAILGUN_WEBHOOK_SIGNING_KEY;
   * sendgridPublicKey: SENDGRID_WEBHOOK_PUBLIC_KEY (base64 DER, as SendGrid shows it).
   */
  emailEvents: {
    sesTopicArns: string[]
    postmark: { user: string; password: string } | null
    mailgunSigningKey: string | null
    sendgridPublicKey: string | null
  }
  publicRateLimitPerMinute: number
  /**
   * Fastify's `trustProxy`: false, or the addresses/CIDRs (or proxy-addr's
   * `loopback`, `linklocal`, `uniquelocal`) of the proxies whose
   * X-Forwarded-For is believed. Never `true` or a hop count: either would
   * let a client that reaches the service directly choose its own address.
   */
  trustProxy: false | string[]
  /** When set, GET /metrics requires `Authorization: Bearer <metricsToken>`; when null, loopback only. */
  metricsToken: string | null
  /**
   * Origins (`https://ngo.example`, as browsers send them in `Origin`) whose
   * pages may call POST /v1/subscriptions and the public GET /v1/appeals
   * reads (plugins/public-cors.ts). Empty: no CORS at all.
   */
  publicCorsOrigins: string[]
  /**
   * Namespace of every Redis key (no braces): each queue adds its own hash
   * tag to it (queue/queues.ts queueKeyPrefix), so queues spread over a
   * Redis Cluster's shards; the other keys are used one at a time.
   */
  queuePrefix: string
  /** How often the worker sweeps Postgres for undispatched events and due embargoes. */
  sweepIntervalMs: number
  /** V8's heap growing factor in the worker, as percent over the live size (delivery/workers.ts); 0 leaves V8's heuristic. */
  workerHeapGrowthPercent: number
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

/** Variables whose values may hold credentials: never echoed in a message. */
export const SECRET_VARIABLES: readonly (keyof Env)[] = ['DATABASE_URL', 'REDIS_URL', 'SMTP_URL', 'SECRETS_KEY', 'DKIM_PRIVATE_KEY', 'METRICS_TOKEN', 'POSTMARK_WEBHOOK_PASSWORD', 'MAILGUN_WEBHOOK_SIGNING_KEY']

/** What each variable must look like, in words an operator can act on. */
const EXPECTED: Record<keyof Env, string> = {
  DATABASE_URL: 'must be a postgres:// or postgresql:// URL',
  REDIS_URL: 'must be a redis:// or rediss:// URL, or a comma list of them (Redis Cluster seed nodes)',
  SMTP_URL: 'must be an smtp:// or smtps:// URL',
  MAIL_FROM: 'must be a From address, e.g. "Urgent Appeals <alerts@example.org>"',
  PUBLIC_BASE_URL: 'must be an http:// or https:// URL with no query or fragment',
  HOST: 'must be a listen address, e.g. 127.0.0.1 or 0.0.0.0',
  PORT: 'must be a TCP port, 1-65535',
  LOG_LEVEL: 'must be one of fatal, error, warn, info, debug, trace, silent',
  SECRETS_KEY: 'must be 32 random bytes, base64-encoded (e.g. `openssl rand -base64 32`)',
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'must be true or false',
  WEBHOOK_TIMEOUT_MS: 'must be a whole number of milliseconds, at least 100',
  WEBHOOK_RETRY_SCHEDULE: 'must be a comma-separated list of whole seconds, e.g. 10,60,300',
  WEBHOOK_DISABLE_AFTER: 'must be a whole number of seconds',
  WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION: 'must be a whole number of endpoints, at least 1',
  EMAIL_RETRY_SCHEDULE: 'must be a comma-separated list of whole seconds, e.g. 30,120,600',
  EMAIL_MAX_PER_SECOND: 'must be a whole number (0 = no cap)',
  WORKER_HEAP_GROWTH_PERCENT: 'must be a whole number of percent, 0-1000 (0 = V8\'s own heuristic)',
  DKIM_DOMAIN: 'must be a domain name',
  DKIM_SELECTOR: 'must be a DKIM selector (letters, digits, dot, dash, underscore)',
  DKIM_PRIVATE_KEY: 'must be a PEM RSA private key (newlines may be written as \\n)',
  PUBLIC_RATE_LIMIT: 'must be a whole number of requests per minute',
  TRUST_PROXY: 'must be false or a comma list of the proxies\' addresses or CIDRs (e.g. 10.0.0.2,172.16.0.0/12; or loopback, linklocal, uniquelocal); '
    + 'not true or a hop count, which would let a client that reaches the service directly forge its address',
  METRICS_TOKEN: 'must be 32 to 512 characters of A-Z a-z 0-9 . _ ~ + / - (e.g. `openssl rand -base64 32`)',
  PUBLIC_CORS_ORIGINS: 'must be a comma list of origins, each http(s)://host[:port] with no path, e.g. https://ngo.example,https://www.ngo.example '
    + '(not *: every origin allowed is named)',
  BOUNCE_DOMAIN: 'must be a domain name whose MX (or relay route) reaches the bounce listener, e.g. bounces.ngo.example',
  BOUNCE_SMTP_PORT: 'must be a TCP port, 1-65535',
  SES_SNS_TOPIC_ARNS: 'must be a comma list of SNS topic ARNs, e.g. arn:aws:sns:eu-west-1:123456789012:ses-bounces',
  POSTMARK_WEBHOOK_USER: 'must be 1-128 characters without spaces or a colon',
  POSTMARK_WEBHOOK_PASSWORD: 'must be 16-256 characters without spaces (e.g. `openssl rand -base64 24`)',
  MAILGUN_WEBHOOK_SIGNING_KEY: 'must be the HTTP webhook signing key from Mailgun\'s dashboard (16-256 characters, no spaces)',
  SENDGRID_WEBHOOK_PUBLIC_KEY: 'must be the verification key SendGrid shows for the signed event webhook: base64 DER of an ECDSA P-256 public key',
}

const schedule = (s: string) => s.split(',').map((n) => Number(n.trim()))

const PROXY_ADDR_NAMES = ['loopback', 'linklocal', 'uniquelocal']

/**
 * TRUST_PROXY as Fastify's `trustProxy`, or undefined when it is not valid.
 * Each entry must be a literal address (or address/prefix, address/netmask)
 * or a proxy-addr name, and proxy-addr must compile the list: it accepts
 * shorthand such as `1` (= 0.0.0.1), which here would be a hop count in disguise.
 */
function parseTrustProxy(value: string): false | string[] | undefined {
  if (value.trim() === 'false') return false
  const entries = value.split(',').map((entry) => entry.trim())
  const literal = (entry: string) => PROXY_ADDR_NAMES.includes(entry) || isIP(entry.split('/')[0]!) !== 0
  if (!entries.every(literal)) return undefined
  try {
    proxyAddr.compile(entries)
  } catch {
    return undefined
  }
  return entries
}

/**
 * PUBLIC_CORS_ORIGINS as the origins browsers send (scheme, lower-case host,
 * port only when not the default), or undefined when an entry is not an
 * origin: a path, query, fragment, credentials, `*` or `null` are refused,
 * so that what is allowed is exactly what the operator named.
 */
function parsePublicCorsOrigins(value: string): string[] | undefined {
  const origins: string[] = []
  for (const entry of value.split(',').map((e) => e.trim())) {
    if (!/^https?:\/\/[^/?#\s@*]+\/?$/i.test(entry) || !URL.canParse(entry)) return undefined
    const url = new URL(entry)
    if (url.username !== '' || url.password !== '' || url.hostname === '') return undefined
    if (!origins.includes(url.origin)) origins.push(url.origin)
  }
  return origins
}

function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value
  for (const inner of Object.values(value)) deepFreeze(inner)
  return Object.freeze(value)
}

/**
 * Reads the environment. `require` names the variables this command cannot
 * run without; `overrides` fills in what `dev` provides itself. Every bad
 * variable is reported at once, each on one line, never with a secret value.
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  options: { require?: readonly RequiredVariable[]; overrides?: Partial<Env> } = {},
): Readonly<Config> {
  const raw: Record<string, unknown> = {}
  for (const name of CONFIG_VARIABLES) {
    const value = env[name]
    if (value !== undefined && value !== '') raw[name] = value
  }
  Object.assign(raw, options.overrides)
  if (typeof raw.DKIM_PRIVATE_KEY === 'string') {
    raw.DKIM_PRIVATE_KEY = raw.DKIM_PRIVATE_KEY.replace(/\\n/g, '\n') // one-line env files
  }
  const e = Value.Default(EnvSchema, raw) as Env

  const problems = new Map<keyof Env, string>()
  const bad = (name: keyof Env) => {
    if (problems.has(name)) return
    const value = e[name]
    const shown = SECRET_VARIABLES.includes(name) || value === undefined ? '' : ` (got ${JSON.stringify(value)})`
    problems.set(name, `${name}: ${EXPECTED[name]}${shown}`)
  }
  const properties = EnvSchema.properties as unknown as Record<keyof Env, TSchema>
  for (const name of CONFIG_VARIABLES) {
    if (e[name] !== undefined && !Value.Check(properties[name], e[name])) bad(name)
  }
  const port = Number(e.PORT)
  if (!(port >= 1 && port <= 65535)) bad('PORT')
  if (e.SECRETS_KEY && Buffer.from(e.SECRETS_KEY, 'base64').length !== 32) bad('SECRETS_KEY')
  if (!(Number(e.WEBHOOK_TIMEOUT_MS) >= 100)) bad('WEBHOOK_TIMEOUT_MS')
  if (!(Number(e.WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION) >= 1)) bad('WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION')
  if (!(Number(e.WORKER_HEAP_GROWTH_PERCENT) <= 1000)) bad('WORKER_HEAP_GROWTH_PERCENT')
  const trustProxy = parseTrustProxy(e.TRUST_PROXY)
  if (trustProxy === undefined) bad('TRUST_PROXY')
  const corsOrigins = e.PUBLIC_CORS_ORIGINS === undefined ? [] : parsePublicCorsOrigins(e.PUBLIC_CORS_ORIGINS)
  if (corsOrigins === undefined) bad('PUBLIC_CORS_ORIGINS')
  const bounceSmtpPort = e.BOUNCE_SMTP_PORT === undefined ? null : Number(e.BOUNCE_SMTP_PORT)
  if (bounceSmtpPort !== null && !(bounceSmtpPort >= 1 && bounceSmtpPort <= 65535)) bad('BOUNCE_SMTP_PORT')
  for (const name of ['DATABASE_URL', 'SMTP_URL', 'PUBLIC_BASE_URL'] as const) {
    if (e[name] !== undefined && !URL.canParse(e[name]!)) bad(name)
  }
  // Several Redis URLs are the seed nodes of a Redis Cluster (queue/queues.ts connectRedis).
  if (e.REDIS_URL?.split(',').some((u) => !/^rediss?:\/\//.test(u.trim()) || !URL.canParse(u.trim()))) bad('REDIS_URL')
  if (e.DKIM_PRIVATE_KEY && !problems.has('DKIM_PRIVATE_KEY')) {
    // The signer (email/dkim.ts) signs rsa-sha256: another key type would stop the worker at start.
    try { if (createPrivateKey(e.DKIM_PRIVATE_KEY).asymmetricKeyType !== 'rsa') bad('DKIM_PRIVATE_KEY') } catch { bad('DKIM_PRIVATE_KEY') }
  }
  if (e.SENDGRID_WEBHOOK_PUBLIC_KEY && !problems.has('SENDGRID_WEBHOOK_PUBLIC_KEY')) {
    try {
      const key = createPublicKey({ key: Buffer.from(e.SENDGRID_WEBHOOK_PUBLIC_KEY, 'base64'), format: 'der', type: 'spki' })
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') bad('SENDGRID_WEBHOOK_PUBLIC_KEY')
    } catch { bad('SENDGRID_WEBHOOK_PUBLIC_KEY') }
  }
  const lines = [...problems.values()]
  const postmark = (['POSTMARK_WEBHOOK_USER', 'POSTMARK_WEBHOOK_PASSWORD'] as const).filter((name) => e[name])
  if (postmark.length === 1) lines.push(`POSTMARK_WEBHOOK_USER, POSTMARK_WEBHOOK_PASSWORD: set both or neither (only ${postmark[0]} set)`)
  const dkim = (['DKIM_DOMAIN', 'DKIM_SELECTOR', 'DKIM_PRIVATE_KEY'] as const).filter((name) => e[name])
  if (dkim.length !== 0 && dkim.length !== 3) {
    lines.push(`DKIM_DOMAIN, DKIM_SELECTOR, DKIM_PRIVATE_KEY: set all three or none (only ${dkim.join(' and ')} set)`)
  }
  for (const name of options.require ?? []) {
    if (e[name] === undefined) lines.push(`${name}: is required (${EXPECTED[name].replace(/^must be /, '')})`)
  }
  if (lines.length > 0) throw new ConfigError(lines)
  const dkimSet = dkim.length

  return deepFreeze({
    databaseUrl: e.DATABASE_URL ?? '',
    redisUrl: e.REDIS_URL ?? '',
    smtpUrl: e.SMTP_URL ?? '',
    mailFrom: e.MAIL_FROM,
    publicBaseUrl: e.PUBLIC_BASE_URL.replace(/\/+$/, ''),
    host: e.HOST,
    port,
    logLevel: e.LOG_LEVEL,
    secretsKey: e.SECRETS_KEY ? Buffer.from(e.SECRETS_KEY, 'base64') : Buffer.alloc(0),
    webhook: {
      allowPrivateNetworks: e.WEBHOOK_ALLOW_PRIVATE_NETWORKS === 'true',
      timeoutMs: Number(e.WEBHOOK_TIMEOUT_MS),
      retryScheduleSeconds: schedule(e.WEBHOOK_RETRY_SCHEDULE),
      disableAfterSeconds: Number(e.WEBHOOK_DISABLE_AFTER),
      maxEndpointsPerOrganisation: Number(e.WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION),
    },
    email: {
      retryScheduleSeconds: schedule(e.EMAIL_RETRY_SCHEDULE),
      maxPerSecond: Number(e.EMAIL_MAX_PER_SECOND),
      dkim: dkimSet === 3
        ? { domain: e.DKIM_DOMAIN!, selector: e.DKIM_SELECTOR!, privateKey: e.DKIM_PRIVATE_KEY! }
        : null,
      bounce: { domain: e.BOUNCE_DOMAIN?.toLowerCase() ?? null, smtpPort: bounceSmtpPort },
    },
    emailEvents: {
      sesTopicArns: e.SES_SNS_TOPIC_ARNS ? [...new Set(e.SES_SNS_TOPIC_ARNS.split(',').map((arn) => arn.trim()))] : [],
      postmark: postmark.length === 2 ? { user: e.POSTMARK_WEBHOOK_USER!, password: e.POSTMARK_WEBHOOK_PASSWORD! } : null,
      mailgunSigningKey: e.MAILGUN_WEBHOOK_SIGNING_KEY ?? null,
      sendgridPublicKey: e.SENDGRID_WEBHOOK_PUBLIC_KEY ?? null,
    },
    publicRateLimitPerMinute: Number(e.PUBLIC_RATE_LIMIT),
    trustProxy: trustProxy ?? false,
    metricsToken: e.METRICS_TOKEN ?? null,
    publicCorsOrigins: corsOrigins ?? [],
    queuePrefix: 'ua',
    sweepIntervalMs: 1000,
    workerHeapGrowthPercent: Number(e.WORKER_HEAP_GROWTH_PERCENT),
  })
}
