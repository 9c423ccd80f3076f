// HTTP surface of administration (contract §7): admin only.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Pool } from '../db/pool.js'
import { AdministrationService } from '../services/administration.js'
import {
  ApiKeyPageSchema, AuditPageSchema, AuditQuery, CreateApiKeySchema, CreateOrganisationSchema, ListQuery,
  NewApiKeySchema, OrganisationPageSchema, OrganisationSchema, PatchOrganisationSchema,
} from '../schemas/administration.js'
import { IdParams, problems } from '../schemas/common.js'

const secured: Record<string, string[]>[] = [{ apiKey: [] }]

export async function administrationRoutes(fastify: FastifyInstance, opts: { pool: Pool }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const admin = new AdministrationService(opts.pool)
  const adminOnly = app.requireRole('admin')

  app.post('/organisations', {
    preHandler: adminOnly,
    schema: {
      operationId: 'createOrganisation', summary: 'Create an organisation', tags: ['administration'], security: secured,
      body: CreateOrganisationSchema, response: { 201: OrganisationSchema, ...problems(400, 401, 403, 409) },
    },
  }, async (request, reply) => {
    const organisation = await admin.createOrganisation(request.actor, request.body)
    void reply.code(201)
    return organisation
  })

  app.patch('/organisations/:id', {
    preHandler: adminOnly,
    schema: {
      operationId: 'updateOrganisation', summary: 'Change an organisation\'s contact address, language or approval policy', tags: ['administration'], security: secured,
      params: IdParams, body: PatchOrganisationSchema, response: { 200: OrganisationSchema, ...problems(400, 401, 403, 404, 415) },
    },
  }, async (request) => admin.updateOrganisation(request.actor!, request.params.id, request.body))

  app.get('/organisations', {
    preHandler: adminOnly,
    schema: {
      operationId: 'listOrganisations', summary: 'List organisations, newest first', tags: ['administration'], security: secured,
      querystring: ListQuery, response: { 200: OrganisationPageSchema, ...problems(400, 401, 403) },
    },
  }, async (request) => admin.listOrganisations(request.query.limit ?? 20, request.query.cursor))

  app.post('/api-keys', {
    preHandler: adminOnly,
    schema: {
      operationId: 'createApiKey', summary: 'Issue an API key (shown once)', tags: ['administration'], security: secured,
      body: CreateApiKeySchema, response: { 201: NewApiKeySchema, ...problems(400, 401, 403, 422) },
    },
  }, async (request, reply) => {
    const created = await admin.createApiKey(request.actor, request.body)
    void reply.code(201).header('cache-control', 'no-store')
    return created
  })

  app.get('/api-keys', {
    preHandler: adminOnly,
    schema: {
      operationId: 'listApiKeys', summary: 'List API keys (never their secrets)', tags: ['administration'], security: secured,
      querystring: ListQuery, response: { 200: ApiKeyPageSchema, ...problems(400, 401, 403) },
    },
  }, async (request) => admin.listApiKeys(request.query.limit ?? 20, request.query.cursor))

  app.delete('/api-keys/:id', {
    preHandler: adminOnly,
    schema: {
      operationId: 'revokeApiKey', summary: 'Revoke an API key; it stops working at once', tags: ['administration'], security: secured,
      params: IdParams, response: { 204: Type.Null({ description: 'revoked' }), ...problems(400, 401, 403, 404) },
    },
  }, async (request, reply) => {
    await admin.revokeApiKey(request.actor!, request.params.id)
    return reply.code(204).send(null)
  })

  app.get('/audit-log', {
    preHandler: adminOnly,
    schema: {
      operationId: 'listAuditLog', summary: 'Who did what, when, to which resource (newest first)', tags: ['administration'], security: secured,
      querystring: AuditQuery, response: { 200: AuditPageSchema, ...problems(400, 401, 403) },
    },
  }, async (request) => {
    const { limit, cursor, ...filter } = request.query
    return admin.listAudit(limit ?? 20, cursor, filter)
  })
}
