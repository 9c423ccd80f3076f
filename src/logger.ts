// Owns the one pino logger shared by Fastify and the workers, and what it
// must never print: credentials, supporter tokens and email addresses.
import { pino, type Logger } from 'pino'

const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["idempotency-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.email',
  '*.token',
  '*.secret',
  '*.key',
  '*.password',
  '*.databaseUrl',
  '*.redisUrl',
  '*.smtpUrl',
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

export type { Logger }
