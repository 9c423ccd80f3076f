// Owns the process configuration: one schema over the environment (contract
// §1.1), validated once at start, reported all at once, then frozen.
import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'

const Digits = (description: string, def: string) =>
  Type.String({ pattern: '^[0-9]{1,9}$', default: def, description })
const Schedule = (description: string, def: string) =>
  Type.String({ pattern: '^[0-9]{1,7}( *, *[0-9]{1,7}){0,49}$', default: def, description })
const Bool = (description: string) =>
  Type.Union([Type.Literal('true'), Type.Literal('false')], { default: 'false', description })

export const EnvSchema = Type.Object({
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://', description: 'Postgres connection string' })),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://', description: 'Redis 6.2+ for BullMQ and rate limits' })),
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
  EMAIL_RETRY_SCHEDULE: Schedule('seconds before each retry of a temporary email failure', '30,120,600,3600,21600'),
  EMAIL_MAX_PER_SECOND: Digits('global email send rate, 0 = no cap', '0'),
  DKIM_DOMAIN: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9.-]{1,253}$' })),
  DKIM_SELECTOR: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,63}$' })),
  DKIM_PRIVATE_KEY: Type.Optional(Type.String({ pattern: 'PRIVATE KEY' })),
  PUBLIC_RATE_LIMIT: Digits('requests per minute per client address on public endpoints', '60'),
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
  }
  email: {
    retryScheduleSeconds: number[]
    maxPerSecond: number
    dkim: { domain: string; selector: string; privateKey: string } | null
  }
  publicRateLimitPerMinute: number
  /** BullMQ key prefix; the hash tag keeps every queue key in one Redis Cluster slot. */
  queuePrefix: string
  /** How often the worker sweeps Postgres for undispatched events and due embargoes. */
  sweepIntervalMs: number
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

const schedule = (s: string) => s.split(',').map((n) => Number(n.trim()))

/**
 * Reads the environment. `require` names the variables this command cannot
 * run without; `overrides` fills in what `dev` provides itself.
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
  const withDefaults = Value.Default(EnvSchema, raw) as Record<string, unknown>

  const problems: string[] = []
  for (const error of Value.Errors(EnvSchema, withDefaults)) {
    const name = error.instancePath.replace(/^\//, '')
    if (!name) continue // additionalProperties noise: every key we copy is known
    const secret = /KEY|URL/.test(name) // never echo a value that may hold a secret
    problems.push(`${name}: ${secret ? 'is malformed' : `${JSON.stringify(withDefaults[name])} ${error.message}`}`)
  }
  for (const name of options.require ?? []) {
    if (withDefaults[name] === undefined) problems.push(`${name}: is required`)
  }
  const e = withDefaults as Env
  if (e.SECRETS_KEY && Buffer.from(e.SECRETS_KEY, 'base64').length !== 32) {
    problems.push('SECRETS_KEY: must be 32 bytes, base64-encoded')
  }
  const dkimSet = [e.DKIM_DOMAIN, e.DKIM_SELECTOR, e.DKIM_PRIVATE_KEY].filter(Boolean).length
  if (dkimSet !== 0 && dkimSet !== 3) {
    problems.push('DKIM_DOMAIN, DKIM_SELECTOR, DKIM_PRIVATE_KEY: set all three or none')
  }
  const port = Number(e.PORT)
  if (port > 65535) problems.push(`PORT: ${port} is not a TCP port`)
  if (Number(e.WEBHOOK_TIMEOUT_MS) < 100) problems.push('WEBHOOK_TIMEOUT_MS: must be at least 100')
  if (problems.length > 0) throw new ConfigError(problems)

  return Object.freeze({
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
    },
    email: {
      retryScheduleSeconds: schedule(e.EMAIL_RETRY_SCHEDULE),
      maxPerSecond: Number(e.EMAIL_MAX_PER_SECOND),
      dkim: dkimSet === 3
        ? { domain: e.DKIM_DOMAIN!, selector: e.DKIM_SELECTOR!, privateKey: e.DKIM_PRIVATE_KEY! }
        : null,
    },
    publicRateLimitPerMinute: Number(e.PUBLIC_RATE_LIMIT),
    queuePrefix: '{ua}',
    sweepIntervalMs: 1000,
  })
}
