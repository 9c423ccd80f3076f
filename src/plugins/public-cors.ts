// Owns CORS (contract §1.1 PUBLIC_CORS_ORIGINS, §8): pages on the listed
// origins (an NGO's own website) may call, from a browser, exactly the
// public JSON endpoints — POST /v1/subscriptions and the public appeal
// reads GET /v1/appeals and GET /v1/appeals/{id} — without a key and
// without credentials. Nothing else is opened:
// - a preflight is answered only for a listed origin asking for one of
//   those methods on one of those paths, with `Content-Type` as the only
//   request header (never `Authorization`: a key must not be usable from
//   another site's scripts); any other OPTIONS is a 404 as before;
// - an actual request gets `Access-Control-Allow-Origin` only on those
//   routes, from a listed origin, and without an `Authorization` header
//   (a staff read, with drafts and counts, is never shared with a page);
// - every other route gets no CORS header at all (not even `Vary: Origin`).
// @fastify/cors does the protocol; the decisions are made here, per request.
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import cors, { type FastifyCorsOptions } from '@fastify/cors'

/** The routes a listed origin may call, as declared (prefix included), with their methods. */
const CORS_ROUTES: Readonly<Record<string, readonly string[]>> = {
  '/v1/subscriptions': ['POST'],
  '/v1/appeals': ['GET', 'HEAD'],
  '/v1/appeals/:id': ['GET', 'HEAD'],
}

/** The same routes as concrete paths, for preflights (which arrive on the `OPTIONS *` route). */
const CORS_PATHS: readonly { pattern: RegExp; methods: readonly string[] }[] = [
  { pattern: /^\/v1\/subscriptions\/?$/, methods: CORS_ROUTES['/v1/subscriptions']! },
  { pattern: /^\/v1\/appeals\/?$/, methods: CORS_ROUTES['/v1/appeals']! },
  { pattern: /^\/v1\/appeals\/[^/]+\/?$/, methods: CORS_ROUTES['/v1/appeals/:id']! },
]

/** Answers the browser may read beyond the CORS-safelisted ones. */
const EXPOSED_HEADERS = ['ETag', 'Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset']
/** How long a browser may reuse a preflight answer (seconds). */
const PREFLIGHT_MAX_AGE = 600

const NOTE = 'Browsers on an origin listed in `PUBLIC_CORS_ORIGINS` may call this operation without a key (CORS: the preflight is '
  + 'answered, `Access-Control-Allow-Origin` names the calling origin; no credentials, only `Content-Type` as a request header).'

const methodsOf = (route: RouteOptions) => ([] as string[]).concat(route.method)

/** Whether the route (as declared) is one of the CORS-open ones. */
function isOpen(route: RouteOptions): boolean {
  const methods = CORS_ROUTES[route.url]
  return methods !== undefined && methodsOf(route).every((m) => methods.includes(m))
}

export const publicCors = fp(async (app: FastifyInstance, opts: { origins: readonly string[] }) => {
  const origins = new Set(opts.origins)

  // Registered before the routes: every route declared after this plugin
  // that is not CORS-open says so (`config.cors = false`), which makes
  // @fastify/cors pass it by untouched; the open ones say in the OpenAPI
  // document who may call them, whatever this deployment's list.
  app.addHook('onRoute', (route) => {
    if (route.url === '*' && methodsOf(route).includes('OPTIONS')) return // @fastify/cors's own preflight route
    if (!isOpen(route)) {
      route.config = { ...route.config, cors: false } as typeof route.config
      return
    }
    const schema = (route.schema ?? {}) as { description?: string }
    route.schema = { ...schema, description: schema.description ? `${schema.description}\n\n${NOTE}` : NOTE }
  })
  if (origins.size === 0) return // nobody listed: no hook, no preflight route

  const denied: FastifyCorsOptions = { origin: false }
  const allowed = (origin: string, methods: readonly string[]): FastifyCorsOptions => ({
    origin, // the caller's own, echoed: exactly one origin per answer
    methods: [...methods],
    allowedHeaders: ['Content-Type'],
    exposedHeaders: EXPOSED_HEADERS,
    credentials: false,
    maxAge: PREFLIGHT_MAX_AGE,
    strictPreflight: false, // decided below: a malformed preflight is denied (404), never a text/plain 400
  })

  /** Per request: the options for a listed origin calling an open route, else none (origin: false). */
  function decide(request: FastifyRequest): FastifyCorsOptions {
    const origin = request.headers.origin
    if (origin === undefined || !origins.has(origin) || request.headers.authorization !== undefined) return denied
    if (request.method === 'OPTIONS') {
      const asked = request.headers['access-control-request-method']
      const path = request.url.split('?')[0]!
      const target = CORS_PATHS.find((p) => p.pattern.test(path))
      if (typeof asked !== 'string' || !target || !target.methods.includes(asked)) return denied
      const headers = request.headers['access-control-request-headers']
      const unsafe = (typeof headers === 'string' ? headers.split(',') : []).map((h) => h.trim().toLowerCase())
        .filter((h) => h !== '' && h !== 'content-type')
      return unsafe.length > 0 ? denied : allowed(origin, target.methods)
    }
    const methods = CORS_ROUTES[request.routeOptions.url ?? '']
    return methods?.includes(request.method) ? allowed(origin, methods) : denied
  }

  await app.register(cors, {
    hook: 'onRequest',
    delegator: (request, callback) => callback(null, decide(request)),
  })
}, { name: 'public-cors' })
