// HTTP surface of the event log (contract §4): the polling fallback for
// webhooks, in position order, the same bodies webhooks carry.
//
// The bodies leave exactly as stored (and as webhooks sent them), not
// re-shaped by today's response schema: fast-json-stringify would drop what
// the schema does not name, and a typed union that an older body no longer
// matches (a field made required later) would turn the whole page into a
// 500. The schema documents them; test/openapi-conformance.test.ts checks
// that real bodies match it.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Pool } from '../db/pool.js'
import { badRequest } from '../errors.js'
import { findEventPosition, listEvents } from '../repositories/events.js'
import { EventPageSchema, ListEventsQuery, type EventPage } from '../schemas/event.js'
import { problems } from '../schemas/common.js'

export async function eventRoutes(fastify: FastifyInstance, opts: { pool: Pool }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()

  app.get('/events', {
    preHandler: app.requireRole('partner', 'editor'),
    serializerCompiler: () => (data) => JSON.stringify(data),
    schema: {
      operationId: 'listEvents', summary: 'Read the event log after an event id, oldest first', tags: ['events'],
      security: [{ apiKey: [] }],
      description: 'Poll with `after` = the last id you processed. An event becomes visible only once every earlier one is, so no event is ever skipped.',
      querystring: ListEventsQuery,
      response: { 200: EventPageSchema, ...problems(400, 401, 403) },
    },
  }, async (request) => {
    const { after, types, limit = 20 } = request.query
    const actor = request.actor!
    // Admins read every organisation's events; others their own and the public ones.
    const organisationId = actor.role === 'admin' ? null : actor.organisationId
    let afterPosition = 0
    if (after !== undefined) {
      const position = await findEventPosition(opts.pool, after, organisationId)
      if (position === null) throw badRequest('No event has this id.', [{ pointer: '/after', in: 'query', message: 'is not a known event id' }])
      afterPosition = position
    }
    const rows = await listEvents(opts.pool, {
      afterPosition, limit, types: types ? [...new Set(types.split(','))] : null, organisationId,
    })
    const items = rows.slice(0, limit).map((r) => ({ id: r.id, ...r.payload }) as EventPage['items'][number])
    return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.id : null }
  })
}
