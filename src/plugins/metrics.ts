// Owns /metrics: Prometheus text from one registry per process, with HTTP
// request counts and latency by route template (never by raw URL, which
// would leak tokens and explode cardinality).
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry
  }
}

export function createRegistry(): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'ua_' })
  return registry
}

export const metrics = fp(async (app: FastifyInstance, opts: { registry: Registry }) => {
  const { registry } = opts
  app.decorate('metrics', registry)
  const requests = new Counter({
    name: 'ua_http_requests_total', help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const, registers: [registry],
  })
  const duration = new Histogram({
    name: 'ua_http_request_duration_seconds', help: 'HTTP request latency by method and route',
    labelNames: ['method', 'route'] as const, registers: [registry],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  })

  // Callback style: no promise per response.
  app.addHook('onResponse', (request, reply, done) => {
    const method = request.method
    const route = request.routeOptions.url ?? 'unmatched'
    requests.inc({ method, route, status: String(reply.statusCode) })
    duration.observe({ method, route }, reply.elapsedTime / 1000)
    done()
  })

  app.get('/metrics', {
    schema: { hide: true },
  }, async (_request, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics())
  })
}, { name: 'metrics' })
