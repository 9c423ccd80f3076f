// `npm run openapi`: writes openapi/openapi.json from the routes' schemas.
// The app is built on a pool and a Redis client that never connect, so the
// document can be generated (and checked for drift in tests) with no servers.
import { writeFileSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { loadConfig } from '../config.js'
import { createPool } from '../db/pool.js'
import { createLogger } from '../logger.js'
import { buildApp } from '../app.js'
import { connectRedis } from '../queue/queues.js'

export const OPENAPI_FILE = fileURLToPath(new URL('../../openapi/openapi.json', import.meta.url))

// Nothing may connect: a closed port and lazy clients make any attempt fail loudly.
const UNUSED_DATABASE_URL = 'postgres://openapi@127.0.0.1:1/unused'
const UNUSED_REDIS_URL = 'redis://127.0.0.1:1'

/**
 * The app on a pool and a Redis client that are never used: enough to serve
 * the document and the docs UI, with no servers running.
 */
export async function buildOfflineApp(urls: { databaseUrl?: string; redisUrl?: string } = {}): Promise<{ app: FastifyInstance; close(): Promise<void> }> {
  const config = loadConfig({}, {
    overrides: { DATABASE_URL: urls.databaseUrl ?? UNUSED_DATABASE_URL, REDIS_URL: urls.redisUrl ?? UNUSED_REDIS_URL },
  })
  const pool = createPool(config.databaseUrl, { max: 1 })
  const redis = connectRedis(config.redisUrl, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
  redis.on('error', () => {})
  const app = await buildApp({ config, pool, redis, logger: createLogger('silent'), readCache: false, gaugeRefreshMs: 0 })
  await app.ready()
  return {
    app,
    async close() {
      await app.close()
      redis.disconnect()
      await pool.end()
    },
  }
}

/** The OpenAPI document the routes describe, as the app serves it on /openapi.json. */
export async function generateOpenApiDocument(urls: { databaseUrl?: string; redisUrl?: string } = {}): Promise<Record<string, unknown>> {
  const { app, close } = await buildOfflineApp(urls)
  try {
    // A deep copy: the caller owns it (validators dereference in place).
    return JSON.parse(JSON.stringify(app.swagger())) as Record<string, unknown>
  } finally {
    await close()
  }
}

const METHOD_ORDER = ['get', 'put', 'post', 'patch', 'delete', 'options', 'head', 'trace']

/**
 * Serialises the document with a stable order where routes' registration
 * order would otherwise leak in: paths sorted, methods in HTTP order.
 * Schema property order is kept as written (it is the order readers expect).
 */
export function renderOpenApi(document: Record<string, unknown>): string {
  const paths = (document.paths ?? {}) as Record<string, Record<string, unknown>>
  const sortedPaths = Object.fromEntries(Object.keys(paths).sort().map((path) => {
    const item = paths[path]!
    const keys = Object.keys(item).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    return [path, Object.fromEntries(keys.map((k) => [k, item[k]]))]
  }))
  return `${JSON.stringify({ ...document, paths: sortedPaths }, null, 2)}\n`
}

const rank = (key: string) => {
  const i = METHOD_ORDER.indexOf(key)
  return i === -1 ? -1 : i // non-method keys (parameters, summary) first
}

export async function writeOpenApi(file = OPENAPI_FILE): Promise<string> {
  const text = renderOpenApi(await generateOpenApiDocument())
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, text)
  return file
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = await writeOpenApi()
  console.log(`wrote ${file}`)
}
