// Owns the security headers of every response (CSP, HSTS, nosniff, ...):
// exactly what helmet sets for the given options, computed once at start-up
// by running helmet's middleware against a recording response, then set per
// request in one `reply.headers()` call. Per request, @fastify/helmet rebuilt
// the whole middleware (options parsing, CSP compilation) and set each header
// on the raw response.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'

/** The headers helmet sets for `options`, as lower-case names and their values. */
function helmetHeaders(options: Readonly<HelmetOptions>): Record<string, string> {
  const headers: Record<string, string> = {}
  const recorder = {
    setHeader(name: string, value: unknown) { headers[name.toLowerCase()] = String(value) },
    removeHeader(name: string) { delete headers[name.toLowerCase()] },
  }
  let failure: unknown
  helmet(options)({} as never, recorder as never, (error?: unknown) => { failure = error })
  if (failure) throw failure
  return headers
}

export const securityHeaders = fp(async (app: FastifyInstance, options: HelmetOptions) => {
  // Computed once: a directive given as a function (per-request value) cannot be.
  const csp = options.contentSecurityPolicy
  const directives: Record<string, unknown> = typeof csp === 'object' ? csp.directives ?? {} : {}
  if (Object.values(directives).some((v) => typeof v === 'function' || (Array.isArray(v) && v.some((e) => typeof e === 'function')))) {
    throw new Error('security headers: per-request CSP directives are not supported')
  }
  const headers = Object.freeze(helmetHeaders(options))
  // Fastify itself never sets X-Powered-By (helmet's hidePoweredBy only removes it).
  app.addHook('onRequest', (_request, reply, done) => {
    void reply.headers(headers)
    done()
  })
}, { name: 'security-headers' })
