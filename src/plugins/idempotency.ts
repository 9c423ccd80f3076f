// Owns the Idempotency-Key header on the POST routes that opt in with
// `config: { idempotent: true }`: a replay within 24 h returns the first
// response; the same key with another request is a 422. Only successes are
// remembered: every action is one transaction, so a request that failed
// changed nothing and may run again once its cause is fixed.
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Pool } from '../db/pool.js'
import { AppError, badRequest, conflict } from '../errors.js'
import { canonicalJson } from '../lib/canonical-json.js'
import {
  claimIdempotencyKey, completeIdempotencyKey, reclaimIdempotencyKey, releaseIdempotencyKey,
} from '../repositories/idempotency.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    idempotent?: boolean
  }
  interface FastifyRequest {
    idempotency: { apiKeyId: string; key: string } | null
  }
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/
const REPLAYED_HEADERS = ['content-type', 'etag', 'location']

export const idempotency = fp(async (app: FastifyInstance, opts: { pool: Pool }) => {
  app.decorateRequest('idempotency', null)

  // Only on the routes that opted in (added as each route is declared, ahead
  // of the route's own preHandlers, as the global hook ran): other requests
  // pay nothing.
  app.addHook('onRoute', (route) => {
    if (route.config?.idempotent !== true) return
    route.preHandler = ([] as unknown[]).concat(claimKey, route.preHandler ?? []) as typeof route.preHandler
    route.onSend = ([] as unknown[]).concat(route.onSend ?? [], completeKey) as typeof route.onSend
  })

  async function claimKey(request: FastifyRequest, reply: FastifyReply) {
    const key = request.headers['idempotency-key']
    // Keys only: a person's console requests are one-shot form posts, not retried by a client library.
    if (key === undefined || request.method !== 'POST' || !request.actor || request.actor.keyId === null) return
    if (typeof key !== 'string' || !KEY_PATTERN.test(key)) {
      throw badRequest('Idempotency-Key must be 1–255 visible ASCII characters.',
        [{ pointer: '/idempotency-key', in: 'header', message: 'is malformed' }])
    }
    const path = request.url.split('?')[0]!
    const requestHash = createHash('sha256').update(`${request.method} ${path}\n${canonicalJson(request.body ?? null)}`).digest('hex')
    const claim = { apiKeyId: request.actor.keyId, key, method: request.method, path, requestHash }
    const existing = await claimIdempotencyKey(opts.pool, claim)
    if (existing === null) {
      request.idempotency = { apiKeyId: claim.apiKeyId, key }
      return
    }
    if (existing.requestHash !== requestHash) {
      throw new AppError(422, 'idempotency-key-reused', 'Idempotency-Key already used',
        'This Idempotency-Key was used with a different request in the last 24 hours.',
        [{ pointer: '/idempotency-key', in: 'header', message: 'was used for another request' }])
    }
    if (existing.responseStatus === null) {
      if (await reclaimIdempotencyKey(opts.pool, claim.apiKeyId, key)) {
        request.idempotency = { apiKeyId: claim.apiKeyId, key }
        return
      }
      const error = conflict('A request with this Idempotency-Key is still being processed.', 'idempotency-key-in-flight')
      throw Object.assign(error, { headers: { 'retry-after': '1' } })
    }
    void reply.headers(existing.responseHeaders ?? {}).header('idempotent-replayed', 'true')
    return reply.code(existing.responseStatus).send(existing.responseBody)
  }

  async function completeKey(request: FastifyRequest, reply: FastifyReply, payload: unknown) {
    const claim = request.idempotency
    if (!claim) return payload
    request.idempotency = null
    if (reply.statusCode >= 400) {
      await releaseIdempotencyKey(opts.pool, claim.apiKeyId, claim.key)
      return payload
    }
    const headers: Record<string, string> = {}
    for (const name of REPLAYED_HEADERS) {
      const value = reply.getHeader(name)
      if (value !== undefined) headers[name] = String(value)
    }
    await completeIdempotencyKey(opts.pool, claim.apiKeyId, claim.key, { status: reply.statusCode, body: String(payload ?? ''), headers })
    return payload
  }
}, { name: 'idempotency', dependencies: ['auth'] })
