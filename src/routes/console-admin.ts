// HTTP surface of the console's administration area (contract §7, §9), a
// ConsoleArea registered inside the signed-in scope of routes/console.ts
// (session, CSRF, no-store and error pages come from there):
//   GET  /console/api-keys               admin: keys (older pages by ?cursor=) and the form to issue one
//   POST /console/api-keys               admin: issue; the answer shows the key once (no redirect: it is never stored)
//   GET  /console/api-keys/:id/revoke    admin: what revoking will do, and the button
//   POST /console/api-keys/:id/revoke    admin: revoke, then back to the list (POST-redirect-GET)
//   GET  /console/audit-log              admin: the audit log, filters as GET /v1/audit-log
//   GET  /console/supporters             editor, admin: counts, as GET /v1/subscribers/stats
// Thin: the same services as /v1 decide (AdministrationService,
// SubscriptionService.stats) with the same roles through `requireRole`;
// AdminViews adds the names behind ids; pages/console-admin.ts renders.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { Config } from '../config.js'
import { isUuid } from '../lib/codes.js'
import type { Pool } from '../db/pool.js'
import { ROLES, type Actor, type Role } from '../auth/api-keys.js'
import { AppError, badRequest, notFound } from '../errors.js'
import { Uuid } from '../schemas/common.js'
import { AuditQuery } from '../schemas/administration.js'
import { compileValidator } from '../plugins/problem-details.js'
import { AdministrationService } from '../services/administration.js'
import { AdminViews } from '../services/admin-views.js'
import type { SubscriptionService } from '../services/subscriptions.js'
import type { AuditFilter } from '../repositories/audit-log.js'
import {
  apiKeysPage, auditPage, revokeKeyPage, supportersPage, type ApiKeysData, type AuditFilterForm, type KeyForm, type OrganisationChoice,
} from '../pages/console-admin.js'
import type { ConsoleArea } from './console.js'
import { formValue } from './forms.js'

const HTML = 'text/html; charset=utf-8'
/** A page of keys or audit entries. */
const PAGE_SIZE = 50
/** Organisations offered in the forms' lists (the API's page maximum). */
const ORGANISATIONS_LISTED = 100

const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false })

const queryText = (query: unknown, name: string): string => {
  const value = (query as Record<string, unknown> | undefined)?.[name]
  return typeof value === 'string' ? value.trim() : ''
}

const KEY_NOTICES = { revoked: 'The key is revoked: requests with it are refused from now on.' } as const

const checkAuditQuery = compileValidator(AuditQuery, 'query')

/** The audit filters of GET /v1/audit-log (schemas/administration.ts AuditQuery), from the filter form; blank means absent. */
function auditFilter(query: unknown): { form: AuditFilterForm; filter: AuditFilter } {
  const form: AuditFilterForm = {
    resourceType: queryText(query, 'resourceType'), resourceId: queryText(query, 'resourceId'),
    organisationId: queryText(query, 'organisationId'), action: queryText(query, 'action'),
  }
  // The API's own query schema and validator: the console accepts exactly what GET /v1/audit-log accepts.
  const filter: AuditFilter = Object.fromEntries(Object.entries(form).filter(([, v]) => v !== ''))
  const errors = checkAuditQuery(filter)
  if (errors.length > 0) throw badRequest(`The filter is not valid: ${errors.map((e) => `${e.pointer.slice(1)} ${e.message}`).join('; ')}.`, errors)
  return { form, filter }
}

export function consoleAdministration(deps: { config: Readonly<Config>; pool: Pool; subscriptions: SubscriptionService }): ConsoleArea {
  return async (signed, { site, viewerOf }) => {
    const admin = new AdministrationService(deps.pool)
    const views = new AdminViews(deps.pool)
    const { subscriptions } = deps // the app's one service (delivery/producers.ts); only its stats are read here
    const adminOnly = { preHandler: signed.requireRole('admin') }
    const base = `${site.basePath}/console`
    const actorOf = (request: FastifyRequest): Actor => request.actor!
    const page = (reply: FastifyReply, body: string, status = 200) => reply.code(status).type(HTML).send(body)
    const organisations = async (): Promise<OrganisationChoice[]> =>
      (await admin.listOrganisations(ORGANISATIONS_LISTED)).items.map((o) => ({ id: o.id, name: o.name, kind: o.kind }))

    // ---- API keys ------------------------------------------------------------------

    const keysPage = async (request: FastifyRequest, reply: FastifyReply, extra: Partial<ApiKeysData> = {}, status = 200) => {
      const cursor = queryText(request.query, 'cursor') || undefined
      const [viewer, keys, orgs] = await Promise.all([viewerOf(request), admin.listApiKeys(PAGE_SIZE, cursor), organisations()])
      const shown = extra.created ? [extra.created.apiKey, ...keys.items] : keys.items
      const names = await views.names({ organisations: [...shown.map((k) => k.organisationId), ...orgs.map((o) => o.id)] })
      return page(reply, apiKeysPage(site, {
        viewer, keys: keys.items, names, organisations: orgs,
        older: keys.nextCursor ? `${base}/api-keys?cursor=${encodeURIComponent(keys.nextCursor)}` : null, ...extra,
      }), status)
    }

    signed.get('/console/api-keys', adminOnly, async (request, reply) => {
      const done = queryText(request.query, 'done')
      return keysPage(request, reply, done in KEY_NOTICES ? { notice: KEY_NOTICES[done as keyof typeof KEY_NOTICES] } : {})
    })

    signed.post('/console/api-keys', adminOnly, async (request, reply) => {
      const form: KeyForm = { organisationId: formValue(request.body, 'organisationId'), role: formValue(request.body, 'role'), name: formValue(request.body, 'name').trim() }
      const refuse = (error: string) => keysPage(request, reply, { form: { ...form, error } }, 400)
      // The checks of CreateApiKeySchema, said at the form.
      if (form.name.length < 1 || form.name.length > 200) return refuse('Give the key a name (at most 200 characters).')
      if (!ROLES.includes(form.role as Role)) return refuse('Choose a role: admin, editor or partner.')
      if (!isUuid(form.organisationId)) return refuse('Choose an organisation from the list.')
      try {
        const created = await admin.createApiKey(actorOf(request), { organisationId: form.organisationId, role: form.role as Role, name: form.name })
        return await keysPage(request, reply, { created }, 201)
      } catch (error) {
        // The service's own refusals (an unknown organisation, a non-partner key for a partner) go back to the form.
        if (error instanceof AppError && (error.status === 400 || error.status === 422)) return refuse(error.message)
        throw error
      }
    })

    signed.get('/console/api-keys/:id/revoke', { ...adminOnly, schema: { params: IdParams } }, async (request, reply) => {
      const key = await views.apiKey((request.params as { id: string }).id)
      if (!key) throw notFound('This API key')
      const names = await views.names({ organisations: [key.organisationId] })
      return page(reply, revokeKeyPage(site, { viewer: await viewerOf(request), key, organisationName: names.organisations.get(key.organisationId) ?? '' }))
    })

    signed.post('/console/api-keys/:id/revoke', { ...adminOnly, schema: { params: IdParams } }, async (request, reply) => {
      await admin.revokeApiKey(actorOf(request), (request.params as { id: string }).id)
      return reply.redirect(`${base}/api-keys?done=revoked`, 303)
    })

    // ---- The audit log ------------------------------------------------------------------

    signed.get('/console/audit-log', adminOnly, async (request, reply) => {
      const { form, filter } = auditFilter(request.query)
      const cursor = queryText(request.query, 'cursor') || undefined
      const [viewer, entries, orgs] = await Promise.all([viewerOf(request), admin.listAudit(PAGE_SIZE, cursor, filter), organisations()])
      const names = await views.names({
        people: entries.items.flatMap((e) => (e.personId ? [e.personId] : [])),
        apiKeys: entries.items.flatMap((e) => (e.apiKeyId ? [e.apiKeyId] : [])),
        organisations: entries.items.flatMap((e) => (e.organisationId ? [e.organisationId] : [])),
      })
      const older = entries.nextCursor
        ? `${base}/audit-log?${new URLSearchParams({ ...filter, cursor: entries.nextCursor } as Record<string, string>).toString()}`
        : null
      return page(reply, auditPage(site, { viewer, entries: entries.items, names, organisations: orgs, filter: form, older }))
    })

    // ---- Supporters ------------------------------------------------------------------------

    signed.get('/console/supporters', { preHandler: signed.requireRole('editor') }, async (request, reply) =>
      page(reply, supportersPage(site, { viewer: await viewerOf(request), stats: await subscriptions.stats() })))
  }
}
