// Liveness, readiness and the ops endpoints' OpenAPI entries.
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { RedisConnection } from '../queue/queues.js'
import type { Pool } from '../db/pool.js'
import { AppError } from '../errors.js'
import { problems, StringEnum } from '../schemas/common.js'

const CheckResult = StringEnum(['ok', 'unavailable'])
const ReadinessSchema = Type.Object({
  status: Type.Literal('ready'),
  checks: Type.Object({ postgres: CheckResult, redis: CheckResult }),
}, { title: 'Readiness' })

const withTimeout = <T>(promise: Promise<T>, ms: number) => Promise.race([
  promise,
  new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref()),
])

/**
 * PING through the shared client. A client still making its first connection
 * (just started, or a lazy one) is given the chance to finish; one that is
 * between reconnect attempts fails at once, since Redis is down.
 */
async function pingRedis(redis: RedisConnection): Promise<unknown> {
  if (redis.status === 'wait') await redis.connect()
  else if (redis.status === 'connecting' || redis.status === 'connect') {
    await new Promise<void>((resolve, reject) => {
      const settle = (error?: Error) => {
        redis.off('ready', onReady).off('error', onError).off('close', onClose)
        if (error) reject(error)
        else resolve()
      }
      const onReady = () => settle()
      const onError = (error: Error) => settle(error)
      const onClose = () => settle(new Error('Redis connection closed'))
      redis.once('ready', onReady).once('error', onError).once('close', onClose)
    })
  }
  return redis.ping()
}

export async function healthRoutes(app: FastifyInstance, opts: { pool: Pool; redis: RedisConnection }) {
  app.get('/healthz', {
    schema: {
      operationId: 'getHealth', summary: 'Liveness: the process is up', tags: ['operations'],
      response: { 200: Type.Object({ status: Type.Literal('ok') }, { title: 'Health' }) },
    },
  }, async () => ({ status: 'ok' as const }))

  app.get('/readyz', {
    schema: {
      operationId: 'getReadiness', summary: 'Readiness: Postgres and Redis are reachable', tags: ['operations'],
      description: '503 with a problem document naming what is unavailable.',
      response: { 200: ReadinessSchema, ...problems(503) },
    },
  }, async () => {
    const [postgres, redis] = await Promise.all([
      withTimeout(opts.pool.query('SELECT 1'), 2000).then(() => 'ok' as const, () => 'unavailable' as const),
      withTimeout(pingRedis(opts.redis), 2000).then(() => 'ok' as const, () => 'unavailable' as const),
    ])
    if (postgres !== 'ok' || redis !== 'ok') {
      const down = [postgres !== 'ok' && 'Postgres', redis !== 'ok' && 'Redis'].filter(Boolean).join(' and ')
      throw new AppError(503, 'not-ready', 'Not ready', `${down} unreachable.`, undefined, { 'retry-after': '5' })
    }
    return { status: 'ready' as const, checks: { postgres, redis } }
  })
}
