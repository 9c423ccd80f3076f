// Owns the one pino logger shared by Fastify and the workers, and what it
// must never print: credentials, supporter tokens and email addresses; and
// the per-request loggers Fastify hands out (with the request id).
import { pino, type Bindings, type ChildLoggerOptions, type Level, type Logger } from 'pino'

const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["idempotency-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  // A secret field at the top level of a line as well as one level down
  // (`*.x` alone does not match a top-level `x`).
  ...['email', 'token', 'secret', 'key', 'password', 'databaseUrl', 'redisUrl', 'smtpUrl'].flatMap((field) => [field, `*.${field}`]),
]

// Supporter tokens travel in URL paths (/subscriptions/{token}/…), and
// console enrolment links too (/console/enrol/{token}/…): keep the route
// shape, drop the token.
const TOKEN_IN_PATH = /(\/subscriptions\/(?:confirm\/)?|\/console\/enrol\/)[^/?#]+/g

function redactUrl(url: string): string {
  return url.replace(TOKEN_IN_PATH, '$1[redacted]')
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: {
        // Method and path only: headers carry keys and cookies.
        req(req: { method?: unknown; url?: unknown }) {
          return { method: req.method, url: typeof req.url === 'string' ? redactUrl(req.url) : undefined }
        },
      },
    },
    destination,
  )
}

type Log = (...args: unknown[]) => void

/**
 * A request's logger (`request.log`): the pino child with the request id,
 * made on the first line the request actually logs. Fastify asks for one per
 * request, and a pino child costs its bindings' serialisation (through the
 * redaction above) whether anything is logged or not; most requests log
 * nothing at the production level. Lines at a disabled level are dropped
 * without making it; every line that is written carries the request id.
 */
class RequestLogger {
  private made: Logger | undefined

  constructor(private readonly parent: Logger, private readonly own: Bindings) {}

  private get logger(): Logger {
    return this.made ??= this.parent.child(this.own)
  }

  private write(level: Level, args: unknown[]): void {
    const logger = this.logger
    if (logger.isLevelEnabled(level)) (logger[level] as Log).apply(logger, args)
  }

  get level(): string { return (this.made ?? this.parent).level }
  set level(level: string) { this.logger.level = level }
  isLevelEnabled(level: string): boolean { return (this.made ?? this.parent).isLevelEnabled(level) }
  bindings(): Bindings { return this.logger.bindings() }
  child(bindings: Bindings, options?: ChildLoggerOptions): Logger { return this.logger.child(bindings, options) }

  // Methods on the prototype (nothing allocated per request but this object);
  // a level the logger would drop makes no child.
  fatal(...args: unknown[]): void { if (this.isLevelEnabled('fatal')) this.write('fatal', args) }
  error(...args: unknown[]): void { if (this.isLevelEnabled('error')) this.write('error', args) }
  warn(...args: unknown[]): void { if (this.isLevelEnabled('warn')) this.write('warn', args) }
  info(...args: unknown[]): void { if (this.isLevelEnabled('info')) this.write('info', args) }
  debug(...args: unknown[]): void { if (this.isLevelEnabled('debug')) this.write('debug', args) }
  trace(...args: unknown[]): void { if (this.isLevelEnabled('trace')) this.write('trace', args) }
  silent(): void {}
}

/**
 * Fastify's `childLoggerFactory`: a RequestLogger, or a plain pino child
 * when the route sets its own log level or serializers.
 */
export function requestLogger(logger: Logger, bindings: Bindings, options: ChildLoggerOptions): Logger {
  if (options.level !== undefined || options.serializers !== undefined) return logger.child(bindings, options)
  return new RequestLogger(logger, bindings) as unknown as Logger
}

export type { Logger }
