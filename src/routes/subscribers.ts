// Staff views of supporters (contract §6): the list and erasure are admin
// only (addresses are personal data); editors see counts only.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { IdParams, problems } from '../schemas/common.js'
import { ListSubscribersQuery, SubscriberPageSchema, SubscriberStatsSchema } from '../schemas/subscription.js'
import type { SubscriptionService } from '../services/subscriptions.js'

const secured: Record<string, string[]>[] = [{ apiKey: [] }]

export async function subscriberRoutes(fastify: FastifyInstance, opts: { subscriptions: SubscriptionService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { subscriptions } = opts

  app.get('/subscribers', {
    preHandler: app.requireRole('admin'),
    schema: {
      operationId: 'listSubscribers', summary: 'List supporters, newest first', tags: ['subscriptions'], security: secured,
      description: 'Admin only. `q` matches part of the address (case-insensitive); `status` filters.',
      querystring: ListSubscribersQuery,
      response: { 200: SubscriberPageSchema, ...problems(400, 401, 403) },
    },
  }, async (request, reply) => {
    void reply.header('cache-control', 'no-store')
    return subscriptions.list(request.query)
  })

  app.get('/subscribers/stats', {
    preHandler: app.requireRole('editor'),
    schema: {
      operationId: 'getSubscriberStats', summary: 'Supporter counts by status, language and suppression reason', tags: ['subscriptions'], security: secured,
      response: { 200: SubscriberStatsSchema, ...problems(401, 403) },
    },
  }, async () => subscriptions.stats())

  app.delete('/subscribers/:id', {
    preHandler: app.requireRole('admin'),
    schema: {
      operationId: 'eraseSubscriber', summary: 'Erase a supporter (admin): personal data deleted, keyed hash kept in the suppression list', tags: ['subscriptions'], security: secured,
      params: IdParams,
      response: { 204: Type.Null({ description: 'erased' }), ...problems(400, 401, 403, 404) },
    },
  }, async (request, reply) => {
    await subscriptions.eraseById(request.actor!, request.params.id)
    return reply.code(204).send(null)
  })
}
