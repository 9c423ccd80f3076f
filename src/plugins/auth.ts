// Owns who the caller is and what their role may do: resolves
// `Authorization: Bearer <key>` to an Actor on every request and offers
// `requireRole(...)` to routes. Roles are checked here and nowhere else.
import type { FastifyInstance, FastifyRequest, preHandlerHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import type { Pool } from '../db/pool.js'
import { parseApiKey, secretMatches, type Actor, type Role } from '../auth/api-keys.js'
import { findActiveKeyByPrefix, touchApiKey } from '../repositories/api-keys.js'
import { forbidden, unauthorized } from '../errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor | null
  }
  interface FastifyInstance {
    requireRole(...roles: Role[]): preHandlerHookHandler
  }
}

async function resolveActor(pool: Pool, request: FastifyRequest): Promise<Actor | null> {
  const header = request.headers.authorization
  if (header === undefined) return null
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  const parsed = match ? parseApiKey(match[1]!) : null
  if (!parsed) throw unauthorized('The Authorization header must be `Bearer <api key>`.')
  const row = await findActiveKeyByPrefix(pool, parsed.prefix)
  if (!row || !secretMatches(parsed.secret, row.secretHash)) {
    throw unauthorized('The API key is not valid or has been revoked.')
  }
  touchApiKey(pool, row.id).catch(() => {}) // bookkeeping must never fail a request
  return { keyId: row.id, personId: null, organisationId: row.organisationId, role: row.role }
}

export const auth = fp(async (app: FastifyInstance, opts: { pool: Pool }) => {
  app.decorateRequest('actor', null)
  // Callback style: a keyless request (actor stays null) costs no promise.
  app.addHook('onRequest', (request, _reply, done) => {
    // Routes with their own bearer token (e.g. /metrics) are not API-key routes.
    if (request.headers.authorization === undefined || request.routeOptions.config.apiKey === false) return done()
    resolveActor(opts.pool, request).then((actor) => { request.actor = actor; done() }, done)
  })
  app.decorate('requireRole', (...roles: Role[]): preHandlerHookHandler => {
    const guard = async (request: FastifyRequest) => {
      if (!request.actor) throw unauthorized('This endpoint needs an API key.')
      if (request.actor.role !== 'admin' && !roles.includes(request.actor.role)) {
        throw forbidden(`This action needs the ${roles.join(' or ')} role.`)
      }
    }
    return Object.assign(guard, { [ROLE_GUARD]: true }) as unknown as preHandlerHookHandler
  })
  // Routes name their guard as `preHandler: app.requireRole(...)`, but
  // preHandlers run after validation: a caller without a key (or without the
  // role) would get a 400 describing the input instead of a 401/403. Guards
  // are therefore moved to the route's onRequest, which runs right after the
  // key is resolved and before the body or query is looked at.
  app.addHook('onRoute', (route) => {
    const preHandlers = ([] as unknown[]).concat(route.preHandler ?? [])
    const guards = preHandlers.filter(isRoleGuard)
    if (guards.length === 0) return
    const rest = preHandlers.filter((h) => !isRoleGuard(h))
    route.preHandler = (rest.length > 0 ? rest : undefined) as typeof route.preHandler
    route.onRequest = ([] as unknown[]).concat(route.onRequest ?? [], guards) as typeof route.onRequest
  })
}, { name: 'auth' })

const ROLE_GUARD = Symbol('role guard')
const isRoleGuard = (hook: unknown): boolean =>
  typeof hook === 'function' && (hook as unknown as Record<symbol, unknown>)[ROLE_GUARD] === true

/** Staff are the roles that write appeals and may see drafts. */
export const isStaff = (actor: Actor | null): actor is Actor =>
  actor !== null && (actor.role === 'admin' || actor.role === 'editor')
