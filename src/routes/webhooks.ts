// HTTP surface of partner webhooks (contract §5). Thin: schemas validate,
// WebhookService does the work. The service, with the queue and HTTP client
// behind it, is built by delivery/producers.ts, not here.
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { organisationLimit, PARTNER_ACTION_LIMITS } from '../plugins/public-rate-limit.js'
import { IdParams, problems } from '../schemas/common.js'
import {
  CreateWebhookSchema, DeliveryParams, ListDeliveriesQuery, ListWebhooksQuery, PatchWebhookSchema, RecoverResultSchema, RecoverSchema,
  RotateSecretSchema, WebhookAttemptSchema, WebhookDeliveryPageSchema, WebhookDeliverySchema, WebhookPageSchema, WebhookSchema,
  WebhookWithSecretSchema, type Webhook,
} from '../schemas/webhook.js'
import { etagOf, type WebhookService } from '../services/webhooks.js'

const secured: Record<string, string[]>[] = [{ apiKey: [] }]
const NoBody = Type.Object({}, { additionalProperties: false, description: 'no body, or `{}`' })
const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(Type.String({ description: 'ETag of the version you edited; 412 when it changed meanwhile' })),
})
const tags = ['webhooks']
const emptyBodyIsEmptyObject = async (request: { body: unknown }) => { request.body ??= {} }

function withEtag<T extends Webhook>(reply: FastifyReply, webhook: T): T {
  void reply.header('etag', etagOf(webhook.version))
  return webhook
}

/** `webhooks`: the app's one WebhookService (delivery/producers.ts), shared with the console's partner portal. */
export async function webhookRoutes(fastify: FastifyInstance, opts: { webhooks: WebhookService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { webhooks } = opts

  const partner = app.requireRole('partner')

  app.post('/webhooks', {
    preHandler: partner,
    schema: {
      operationId: 'createWebhook', summary: 'Register a webhook endpoint', tags, security: secured,
      description: 'The response carries the signing `secret` — the only time it is shown. The URL must be `https` and resolve to public addresses only. '
        + 'An organisation may register a limited number of endpoints (the operator sets it, 25 unless changed): '
        + 'one more is a 409 `webhook-limit-reached`. One endpoint can filter by event type, country, theme and urgency.',
      body: CreateWebhookSchema,
      response: { 201: WebhookWithSecretSchema, ...problems(400, 401, 403, 409, 413, 415) },
    },
  }, async (request, reply) => {
    const webhook = await webhooks.create(request.actor!, request.body)
    void reply.code(201).header('location', `/v1/webhooks/${webhook.id}`)
    return withEtag(reply, webhook)
  })

  app.get('/webhooks', {
    preHandler: partner,
    schema: {
      operationId: 'listWebhooks', summary: 'List your organisation\'s webhook endpoints, newest first', tags, security: secured,
      description: 'Admins see every organisation\'s endpoints.',
      querystring: ListWebhooksQuery,
      response: { 200: WebhookPageSchema, ...problems(400, 401, 403) },
    },
  }, async (request) => webhooks.list(request.actor!, request.query))

  app.get('/webhooks/:id', {
    preHandler: partner,
    schema: {
      operationId: 'getWebhook', summary: 'Get one webhook endpoint', tags, security: secured,
      params: IdParams,
      response: { 200: WebhookSchema, ...problems(400, 401, 403, 404) },
    },
  }, async (request, reply) => withEtag(reply, await webhooks.get(request.actor!, request.params.id)))

  app.patch('/webhooks/:id', {
    preHandler: partner,
    schema: {
      operationId: 'updateWebhook', summary: 'Change a webhook endpoint\'s URL, description or filters', tags, security: secured,
      params: IdParams, headers: IfMatchHeaders, body: PatchWebhookSchema,
      response: { 200: WebhookSchema, ...problems(400, 401, 403, 404, 412, 415) },
    },
  }, async (request, reply) =>
    withEtag(reply, await webhooks.patch(request.actor!, request.params.id, request.body, request.headers['if-match'])))

  app.delete('/webhooks/:id', {
    preHandler: partner,
    schema: {
      operationId: 'deleteWebhook', summary: 'Delete a webhook endpoint', tags, security: secured,
      description: 'Its unfinished deliveries are closed as `skipped`.',
      params: IdParams,
      response: { 204: Type.Null({ description: 'deleted' }), ...problems(400, 401, 403, 404) },
    },
  }, async (request, reply) => {
    await webhooks.remove(request.actor!, request.params.id)
    return reply.code(204).send(null)
  })

  app.post('/webhooks/:id/rotate-secret', {
    preHandler: partner,
    preValidation: emptyBodyIsEmptyObject,
    schema: {
      operationId: 'rotateWebhookSecret', summary: 'Issue a new signing secret', tags, security: secured,
      description: 'The old secret keeps signing (a second `v1,` entry in `webhook-signature`) for `graceSeconds` (default 86400, at most 7 days), so receivers can switch without losing a delivery. A secret still in an earlier grace period stops signing at once.',
      params: IdParams, body: RotateSecretSchema,
      response: { 200: WebhookWithSecretSchema, ...problems(400, 401, 403, 404) },
    },
  }, async (request, reply) =>
    withEtag(reply, await webhooks.rotateSecret(request.actor!, request.params.id, request.body.graceSeconds ?? 86_400)))

  app.post('/webhooks/:id/test', {
    preHandler: partner,
    preValidation: emptyBodyIsEmptyObject,
    config: { rateLimit: organisationLimit('test') },
    schema: {
      operationId: 'testWebhook', summary: 'Send a signed `webhook.test` event now and return the attempt', tags, security: secured,
      description: 'Goes through the real delivery path (signing, SSRF guard, deadline, attempt log); a failed test is retried like any delivery. '
        + `At most ${PARTNER_ACTION_LIMITS.test} per minute per organisation (429 \`rate-limited\` with \`Retry-After\`).`,
      params: IdParams, body: NoBody,
      response: { 200: WebhookAttemptSchema, ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request) => webhooks.test(request.actor!, request.params.id))

  app.post('/webhooks/:id/enable', {
    preHandler: partner,
    preValidation: emptyBodyIsEmptyObject,
    schema: {
      operationId: 'enableWebhook', summary: 'Re-enable a disabled endpoint', tags, security: secured,
      description: 'Deliveries skipped while it was disabled are not re-sent by this: use `recover`.',
      params: IdParams, body: NoBody,
      response: { 200: WebhookSchema, ...problems(400, 401, 403, 404) },
    },
  }, async (request, reply) => withEtag(reply, await webhooks.enable(request.actor!, request.params.id)))

  app.get('/webhooks/:id/deliveries', {
    preHandler: partner,
    schema: {
      operationId: 'listWebhookDeliveries', summary: 'The endpoint\'s deliveries with their attempts, newest first', tags, security: secured,
      params: IdParams, querystring: ListDeliveriesQuery,
      response: { 200: WebhookDeliveryPageSchema, ...problems(400, 401, 403, 404) },
    },
  }, async (request) => webhooks.deliveries(request.actor!, request.params.id, request.query))

  app.post('/webhooks/:id/deliveries/:deliveryId/resend', {
    preHandler: partner,
    preValidation: emptyBodyIsEmptyObject,
    config: { rateLimit: organisationLimit('resend') },
    schema: {
      operationId: 'resendWebhookDelivery', summary: 'Attempt one delivery again now', tags, security: secured,
      description: 'Queued ahead of scheduled retries; the answer is the delivery as queued (202). 409 while the endpoint is disabled or the delivery is in flight. '
        + `At most ${PARTNER_ACTION_LIMITS.resend} per minute per organisation (429 \`rate-limited\` with \`Retry-After\`); to re-send many, use \`recover\`.`,
      params: DeliveryParams, body: NoBody,
      response: { 202: WebhookDeliverySchema, ...problems(400, 401, 403, 404, 409, 429) },
    },
  }, async (request, reply) => {
    const delivery = await webhooks.resend(request.actor!, request.params.id, request.params.deliveryId)
    return reply.code(202).send(delivery)
  })

  app.post('/webhooks/:id/recover', {
    preHandler: partner,
    config: { rateLimit: organisationLimit('recover') },
    schema: {
      operationId: 'recoverWebhook', summary: 'Queue again the failed, expired and skipped deliveries of a time window', tags, security: secured,
      description: '`since` ≤ creation time < `until` (default: now). 409 while the endpoint is disabled: enable it first. '
        + `At most ${PARTNER_ACTION_LIMITS.recover} per minute per organisation (429 \`rate-limited\` with \`Retry-After\`).`,
      params: IdParams, body: RecoverSchema,
      response: { 202: RecoverResultSchema, ...problems(400, 401, 403, 404, 409, 429) },
    },
  }, async (request, reply) => reply.code(202).send(await webhooks.recover(request.actor!, request.params.id, request.body)))
}
