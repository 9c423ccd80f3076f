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
  return { keyId: row.id, organisationId: row.organisationId, role: row.role }
}

export const auth = fp(async (app: FastifyInstance, opts: { pool: Pool }) => {
  app.decorateRequest('actor', null)
  app.addHook('onRequest', async (request) => {
    request.actor = await resolveActor(opts.pool, request)
  })
  app.decorate('requireRole', (...roles: Role[]): preHandlerHookHandler => async (request) => {
    if (!request.actor) throw unauthorized('This endpoint needs an API key.')
    if (request.actor.role !== 'admin' && !roles.includes(request.actor.role)) {
      throw forbidden(`This action needs the ${roles.join(' or ')} role.`)
    }
  })
}, { name: 'auth' })

/** Staff are the roles that write appeals and may see drafts. */
export const isStaff = (actor: Actor | null): actor is Actor =>
  actor !== null && (actor.role === 'admin' || actor.role === 'editor')
