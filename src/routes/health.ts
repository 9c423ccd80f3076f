// Liveness, readiness and the ops endpoints' OpenAPI entries.
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { Redis } from 'ioredis'
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

export async function healthRoutes(app: FastifyInstance, opts: { pool: Pool; redis: Redis }) {
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
      withTimeout(opts.redis.ping(), 2000).then(() => 'ok' as const, () => 'unavailable' as const),
    ])
    if (postgres !== 'ok' || redis !== 'ok') {
      const down = [postgres !== 'ok' && 'Postgres', redis !== 'ok' && 'Redis'].filter(Boolean).join(' and ')
      throw new AppError(503, 'not-ready', 'Not ready', `${down} unreachable.`, undefined, { 'retry-after': '5' })
    }
    return { status: 'ready' as const, checks: { postgres, redis } }
  })
}
