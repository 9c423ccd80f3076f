// The console's partner portal (contract §5 and §9): a partner's webhook
// endpoints — list, add, edit URL, description and filters, send a test,
// rotate the signing secret with a grace period, enable after an automatic
// disable, delete — and an endpoint's deliveries with their attempts,
// resend one, recover a time window. A ConsoleArea (routes/console.ts): the
// session, the person as Actor, CSRF and `no-store` come from there.
//
// No rule lives here. Every action calls the API's own WebhookService (the
// same instance as routes/webhooks.ts: delivery/producers.ts), so roles
// (`requireRole('partner')`: partners and admins, editors 403), tenancy
// (partners their organisation's endpoints, in SQL; admins all; another
// organisation's endpoint 404), the URL policy, the endpoint cap, audit
// and the per-organisation action limits (organisationLimit: one budget
// with the API) are the API's. Forms are turned into the API's request
// bodies and checked against the API's schemas with the same validator and
// the same field errors (plugins/problem-details.ts), which the pages show
// at their fields. Secrets are shown once, on the answer to create and
// rotate, never again. Every other POST redirects to a GET with a notice of
// fixed wording (`?done=`).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type, type TSchema } from 'typebox'
import type { Actor } from '../auth/api-keys.js'
import { AppError, badRequest } from '../errors.js'
import { fieldErrors } from '../plugins/problem-details.js'
import { organisationLimit } from '../plugins/public-rate-limit.js'
import { Uuid } from '../schemas/common.js'
import {
  CreateWebhookSchema, DELIVERY_STATUSES, ListDeliveriesQuery, ListWebhooksQuery, PatchWebhookSchema, RecoverSchema, RotateSecretSchema,
  type CreateWebhook, type PatchWebhook, type Recover,
} from '../schemas/webhook.js'
import { etagOf, type WebhookService } from '../services/webhooks.js'
import type { ConsoleArea } from './console.js'
import { formValue, type PostedForm } from './forms.js'
import {
  deletePage, deliveriesPage, endpointFormPage, endpointPage, endpointsPage, noticeFor, secretPage,
  type EndpointValues, type FieldProblems, type RecoverValues,
} from '../pages/console-webhooks.js'

const HTML = 'text/html; charset=utf-8'

const one = (body: unknown, name: string): string => formValue(body, name).trim()
const all = (body: unknown, name: string): string[] => ((body as PostedForm | undefined)?.[name] ?? []).map((v) => v.trim()).filter(Boolean)
/** "CN, KP" or "CN KP" → ['CN', 'KP']. */
const words = (text: string) => text.split(/[\s,]+/).filter(Boolean)

const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false })
const DeliveryParams = Type.Object({ id: Uuid, deliveryId: Type.Integer({ minimum: 1 }) }, { additionalProperties: false })
const Done = { done: Type.Optional(Type.String({ maxLength: 40 })), count: Type.Optional(Type.String({ maxLength: 10 })) }
const ListQuery = Type.Object({ ...ListWebhooksQuery.properties, ...Done }, { additionalProperties: false })
const PageQuery = Type.Object({ ...Done }, { additionalProperties: false })
const DeliveriesQuery = Type.Object({ ...ListDeliveriesQuery.properties, ...Done }, { additionalProperties: false })

/** What was typed in the endpoint form, as the form shows it again. */
function endpointValues(body: unknown): EndpointValues {
  return {
    url: one(body, 'url'), description: one(body, 'description'), eventTypes: all(body, 'eventTypes'),
    countries: one(body, 'countries'), themes: one(body, 'themes'), minUrgency: one(body, 'minUrgency'),
  }
}

/** The API's body for the values (create: empty means absent; edit: every field, empty means none). */
function endpointBody(v: EndpointValues, edit: boolean): Record<string, unknown> {
  const description = v.description === '' ? (edit ? null : undefined) : v.description
  const minUrgency = v.minUrgency === '' ? (edit ? null : undefined) : v.minUrgency
  return {
    url: v.url, eventTypes: v.eventTypes, countries: words(v.countries), themes: words(v.themes),
    ...(description === undefined ? {} : { description }), ...(minUrgency === undefined ? {} : { minUrgency }),
  }
}

/** A `datetime-local` value (no zone; the form says UTC) or an ISO timestamp, as the API's timestamp. */
const asTimestamp = (text: string) => (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(text) ? `${text.length === 16 ? `${text}:00` : text}Z` : text)

/** The answer to a form whose problem the page can show at its fields. */
const fieldProblems = (error: unknown): FieldProblems | null => {
  if (!(error instanceof AppError) || error.status !== 400 || !error.errors?.length) return null
  const byField: Record<string, string[]> = {}
  for (const e of error.errors) {
    const field = e.pointer.split('/')[1] ?? ''
    const at = e.pointer.split('/').slice(2).join('/')
    ;(byField[field] ??= []).push(/^\d+$/.test(at) ? `${e.message} (item ${Number(at) + 1})` : e.message)
  }
  return byField
}

export function consoleWebhooks(deps: { webhooks: WebhookService }): ConsoleArea {
  const { webhooks } = deps
  return async (app: FastifyInstance, { site, viewerOf }) => {
    const partner = { preHandler: app.requireRole('partner') }
    const base = `${site.basePath}/console/webhooks`
    const actorOf = (request: FastifyRequest): Actor => request.actor!
    const page = (reply: FastifyReply, body: string, status = 200) => reply.code(status).type(HTML).send(body)
    const back = (reply: FastifyReply, path: string, done: string) => reply.redirect(`${base}${path}?done=${done}`, 303)

    /** Checks a body built from a form against the API's schema: the same validator, the same field errors. */
    const validated = <T>(request: FastifyRequest, schema: TSchema, body: unknown): T => {
      const validate = request.compileValidationSchema(schema as object, 'body')
      if (!validate(body)) {
        const errors = fieldErrors((validate.errors ?? []) as Parameters<typeof fieldErrors>[0], 'body')
        throw badRequest(`The request body has ${errors.length} invalid value${errors.length === 1 ? '' : 's'}.`, errors)
      }
      return body as T
    }

    // ---- Endpoints ---------------------------------------------------------------------

    app.get('/console/webhooks', { ...partner, schema: { querystring: ListQuery } }, async (request, reply) => {
      const query = request.query as { limit?: number; cursor?: string; done?: string }
      const actor = actorOf(request)
      const list = await webhooks.list(actor, { ...(query.limit ? { limit: query.limit } : {}), ...(query.cursor ? { cursor: query.cursor } : {}) })
      return page(reply, endpointsPage(site, {
        viewer: await viewerOf(request), ...list, allOrganisations: actor.role === 'admin', notice: noticeFor(query),
      }))
    })

    app.get('/console/webhooks/new', partner, async (request, reply) =>
      page(reply, endpointFormPage(site, { viewer: await viewerOf(request) })))

    app.post('/console/webhooks', partner, async (request, reply) => {
      const values = endpointValues(request.body)
      try {
        const input = validated<CreateWebhook>(request, CreateWebhookSchema, endpointBody(values, false))
        const created = await webhooks.create(actorOf(request), input)
        return page(reply, secretPage(site, { viewer: await viewerOf(request), endpoint: created, secret: created.secret, kind: 'created' }), 201)
      } catch (error) {
        const problems = fieldProblems(error)
        if (!problems) throw error
        return page(reply, endpointFormPage(site, { viewer: await viewerOf(request), values, problems }), 400)
      }
    })

    app.get('/console/webhooks/:id', { ...partner, schema: { params: IdParams, querystring: PageQuery } }, async (request, reply) => {
      const endpoint = await webhooks.get(actorOf(request), (request.params as { id: string }).id)
      return page(reply, endpointPage(site, { viewer: await viewerOf(request), endpoint, notice: noticeFor(request.query as { done?: string; count?: string }) }))
    })

    app.get('/console/webhooks/:id/edit', { ...partner, schema: { params: IdParams } }, async (request, reply) => {
      const endpoint = await webhooks.get(actorOf(request), (request.params as { id: string }).id)
      return page(reply, endpointFormPage(site, { viewer: await viewerOf(request), endpoint }))
    })

    app.post('/console/webhooks/:id/edit', { ...partner, schema: { params: IdParams } }, async (request, reply) => {
      const { id } = request.params as { id: string }
      const values = endpointValues(request.body)
      // The version the form was made from: a change meanwhile is the API's 412, not a silent overwrite.
      const version = one(request.body, 'version')
      try {
        const input = validated<PatchWebhook>(request, PatchWebhookSchema, endpointBody(values, true))
        await webhooks.patch(actorOf(request), id, input, /^\d{1,9}$/.test(version) ? etagOf(Number(version)) : undefined)
        return back(reply, `/${id}`, 'saved')
      } catch (error) {
        const problems = fieldProblems(error)
        if (!problems) throw error
        const endpoint = await webhooks.get(actorOf(request), id)
        return page(reply, endpointFormPage(site, { viewer: await viewerOf(request), endpoint, values, problems }), 400)
      }
    })

    app.post('/console/webhooks/:id/test', { ...partner, config: { rateLimit: organisationLimit('test') }, schema: { params: IdParams } }, async (request, reply) => {
      const { id } = request.params as { id: string }
      await webhooks.test(actorOf(request), id)
      return back(reply, `/${id}/deliveries`, 'test-sent')
    })

    app.post('/console/webhooks/:id/rotate-secret', { ...partner, schema: { params: IdParams } }, async (request, reply) => {
      const { id } = request.params as { id: string }
      const grace = one(request.body, 'graceSeconds')
      const input = validated<{ graceSeconds?: number }>(request, RotateSecretSchema, /^\d{1,9}$/.test(grace) ? { graceSeconds: Number(grace) } : {})
      const rotated = await webhooks.rotateSecret(actorOf(request), id, input.graceSeconds ?? 86_400)
      return page(reply, secretPage(site, { viewer: await viewerOf(request), endpoint: rotated, secret: rotated.secret, kind: 'rotated' }))
    })

    app.post('/console/webhooks/:id/enable', { ...partner, schema: { params: IdParams } }, async (request, reply) => {
      const { id } = request.params as { id: string }
      await webhooks.enable(actorOf(request), id)
      return back(reply, `/${id}`, 'enabled')
    })

    app.get('/console/webhooks/:id/delete', { ...partner, schema: { params: IdParams } }, async (request, reply) => {
      const endpoint = await webhooks.get(actorOf(request), (request.params as { id: string }).id)
      return page(reply, deletePage(site, { viewer: await viewerOf(request), endpoint }))
    })

    app.post('/console/webhooks/:id/delete', { ...partner, schema: { params: IdParams } }, async (request, reply) => {
      await webhooks.remove(actorOf(request), (request.params as { id: string }).id)
      return back(reply, '', 'deleted')
    })

    // ---- Deliveries ----------------------------------------------------------------------

    const showDeliveries = async (request: FastifyRequest, reply: FastifyReply, o: { recover?: RecoverValues; problems?: FieldProblems; status?: number } = {}) => {
      const { id } = request.params as { id: string }
      const query = request.method === 'GET' ? request.query as { status?: string; cursor?: string; limit?: number; done?: string; count?: string } : {}
      const actor = actorOf(request)
      const endpoint = await webhooks.get(actor, id)
      const list = await webhooks.deliveries(actor, id, {
        ...(query.limit ? { limit: query.limit } : {}), ...(query.cursor ? { cursor: query.cursor } : {}),
        ...(query.status ? { status: query.status as (typeof DELIVERY_STATUSES)[number] } : {}),
      })
      return page(reply, deliveriesPage(site, {
        viewer: await viewerOf(request), endpoint, ...list, status: query.status ?? '', notice: noticeFor(query),
        ...(o.recover ? { recover: o.recover } : {}), ...(o.problems ? { problems: o.problems } : {}),
      }), o.status)
    }

    app.get('/console/webhooks/:id/deliveries', { ...partner, schema: { params: IdParams, querystring: DeliveriesQuery } }, async (request, reply) =>
      showDeliveries(request, reply))

    app.post('/console/webhooks/:id/deliveries/:deliveryId/resend', {
      ...partner, config: { rateLimit: organisationLimit('resend') }, schema: { params: DeliveryParams },
    }, async (request, reply) => {
      const { id, deliveryId } = request.params as { id: string; deliveryId: number }
      await webhooks.resend(actorOf(request), id, deliveryId)
      return back(reply, `/${id}/deliveries`, 'resent')
    })

    app.post('/console/webhooks/:id/recover', { ...partner, config: { rateLimit: organisationLimit('recover') }, schema: { params: IdParams } }, async (request, reply) => {
      const { id } = request.params as { id: string }
      const values: RecoverValues = { since: one(request.body, 'since'), until: one(request.body, 'until') }
      try {
        const body = { since: asTimestamp(values.since), ...(values.until ? { until: asTimestamp(values.until) } : {}) }
        const result = await webhooks.recover(actorOf(request), id, validated<Recover>(request, RecoverSchema, body))
        return reply.redirect(`${base}/${id}/deliveries?done=recovered&count=${result.recovered}`, 303)
      } catch (error) {
        const problems = fieldProblems(error)
        if (!problems) throw error
        return showDeliveries(request, reply, { recover: values, problems, status: 400 })
      }
    })
  }
}
