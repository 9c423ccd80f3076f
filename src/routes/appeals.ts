// HTTP surface of appeals (contract §3). Thin: schemas validate, the
// AppealService does the work, errors become problems in one place.
import type { FastifyInstance, FastifyReply, onSendHookHandler } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { AppealService } from '../services/appeals.js'
import { etagOf } from '../services/appeals.js'
import {
  AppealPageSchema, AppealReadSchema, CloseAppealSchema, CreateAppealSchema, DeliveryProgressSchema, FollowUpSchema,
  ListAppealsQuery, PatchAppealSchema, StaffAppealSchema, TranslationInputSchema, TranslationParams, WithdrawAppealSchema,
} from '../schemas/appeal.js'
import { IdParams, problems } from '../schemas/common.js'
import { isStaff } from '../plugins/auth.js'
import { canonicalJson } from '../lib/canonical-json.js'
import type { PublicReadCache } from '../services/public-read-cache.js'
import { sendCachedRead, sendPublicRead } from './public-read.js'

const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(Type.String({ description: 'ETag of the version you edited; required for published appeals' })),
})

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({
    maxLength: 255,
    description: '1–255 visible ASCII characters, scoped to your API key. A retry within 24 h returns the first successful response (header `idempotent-replayed: true`); a failed request is not remembered, so it can be retried with the same key once its cause is fixed',
  })),
})
const ApproveHeaders = Type.Object({
  'if-match': Type.Optional(Type.String({ description: 'required (428 without it): the ETag of the version you reviewed; `*` names none' })),
  ...IdempotencyHeaders.properties,
})
const NoBody = Type.Object({}, { additionalProperties: false, description: 'no body, or `{}`' })
const secured: Record<string, string[]>[] = [{ apiKey: [] }]
const optionalAuth: Record<string, string[]>[] = [{}, { apiKey: [] }]

function withEtag<T extends { version: number }>(reply: FastifyReply, appeal: T): T {
  void reply.header('etag', etagOf(appeal.version))
  return appeal
}

export async function appealRoutes(fastify: FastifyInstance, opts: { appeals: AppealService; readCache?: PublicReadCache | null }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { appeals } = opts
  const cache = opts.readCache ?? null
  const editor = app.requireRole('editor')
  // Appeal bodies are JSON only: a text/plain body is a 415, not a string that fails validation.
  app.removeContentTypeParser('text/plain')
  if (cache) {
    // A change made through this process is committed when its handler
    // returns: forget public reads before the response leaves, without
    // waiting for the NOTIFY (which covers every other writer). Only on the
    // routes that write (first among their onSend hooks, where a hook of this
    // plugin ran): reads run no onSend hook at all.
    const forget: onSendHookHandler = (request, _reply, payload, done) => {
      if (request.method !== 'GET' && request.method !== 'HEAD') cache.invalidate()
      done(null, payload)
    }
    app.addHook('onRoute', (route) => {
      if (([] as string[]).concat(route.method).every((m) => m === 'GET' || m === 'HEAD')) return
      route.onSend = ([forget] as unknown[]).concat(route.onSend ?? []) as typeof route.onSend
    })
  }

  app.post('/appeals', {
    preHandler: editor,
    config: { idempotent: true },
    schema: {
      operationId: 'createAppeal', summary: 'Create a draft appeal', tags: ['appeals'], security: secured,
      headers: IdempotencyHeaders, body: CreateAppealSchema,
      response: { 201: StaffAppealSchema, ...problems(400, 401, 403, 409, 413, 415, 422) },
    },
  }, async (request, reply) => {
    const appeal = await appeals.create(request.actor!, request.body)
    void reply.code(201).header('location', `/v1/appeals/${appeal.id}`)
    return withEtag(reply, appeal)
  })

  app.get('/appeals', {
    schema: {
      operationId: 'listAppeals', summary: 'List appeals, newest first', tags: ['appeals'], security: optionalAuth,
      description: 'Without a key: published and closed appeals. Editors also see their organisation\'s drafts and withdrawn appeals; admins see all. `q` is full-text search. Staff see `actionsTaken` on their own organisation\'s appeals (admins on all).',
      querystring: ListAppealsQuery,
      response: { 200: AppealPageSchema, ...problems(400, 401) },
    },
  }, async (request, reply) => {
    if (cache === null || isStaff(request.actor)) return appeals.list(request.actor, request.query)
    // A public read (no key, or a partner's: both see published and closed appeals only), serialised with the route's schema.
    return sendPublicRead(request, reply, cache, `list ${canonicalJson(request.query)}`,
      async () => ({ body: reply.serialize(await appeals.list(request.actor, request.query)) as string }))
  })

  app.get('/appeals/:id', {
    schema: {
      operationId: 'getAppeal', summary: 'Get one appeal', tags: ['appeals'], security: optionalAuth,
      description: 'Drafts and withdrawn appeals are visible to their organisation\'s staff only (404 otherwise). Staff of the owning organisation (and admins) also see `actionsTaken`.',
      params: IdParams,
      response: { 200: AppealReadSchema, ...problems(400, 401, 404) },
    },
  }, (request, reply) => {
    // Not an async handler: a public read that the cache answers (most of them) is sent without a promise.
    const publicRead = cache !== null && !isStaff(request.actor)
    if (publicRead && sendCachedRead(request, reply, cache, `one ${request.params.id}`)) return
    return (async () => {
      if (!publicRead) return withEtag(reply, await appeals.get(request.actor, request.params.id))
      return sendPublicRead(request, reply, cache, `one ${request.params.id}`, async () => {
        const appeal = await appeals.get(request.actor, request.params.id)
        return { body: reply.serialize(appeal) as string, etag: etagOf(appeal.version) }
      })
    })()
  })

  app.patch('/appeals/:id', {
    preHandler: editor,
    schema: {
      operationId: 'updateAppeal', summary: 'Edit an appeal', tags: ['appeals'], security: secured,
      description: 'A published appeal needs `If-Match`; a material change emits `appeal.updated`. A change of a draft\'s content (any field but `embargoUntil` and `sensitive`) voids its approval, and cancels its scheduled publish when it then needs an approval it lacks.',
      params: IdParams, headers: IfMatchHeaders, body: PatchAppealSchema,
      response: { 200: StaffAppealSchema, ...problems(400, 401, 403, 404, 409, 412, 415, 422, 428) },
    },
  }, async (request, reply) =>
    withEtag(reply, await appeals.patch(request.actor!, request.params.id, request.body, request.headers['if-match'])))

  app.put('/appeals/:id/translations/:language', {
    preHandler: editor,
    schema: {
      operationId: 'putAppealTranslation', summary: 'Create or replace one translation', tags: ['appeals'], security: secured,
      params: TranslationParams, body: TranslationInputSchema,
      response: { 200: StaffAppealSchema, 201: StaffAppealSchema, ...problems(400, 401, 403, 404, 409, 422) },
    },
  }, async (request, reply) => {
    const { appeal, created } = await appeals.putTranslation(request.actor!, request.params.id, request.params.language, request.body)
    void reply.code(created ? 201 : 200)
    return withEtag(reply, appeal)
  })

  app.post('/appeals/:id/approve', {
    preHandler: editor,
    preValidation: async (request) => { request.body ??= {} },
    config: { idempotent: true },
    schema: {
      operationId: 'approveAppeal', summary: 'Approve a draft\'s current version for publishing (the second person)', tags: ['appeals'], security: secured,
      description: 'Needs `If-Match` with the ETag of the version reviewed (428 without, 412 when the appeal has changed since). The approver must be a different person or API key from whoever made the current version\'s content (409 `/problems/self-approval`). Approving is a judgment about the version, not a change of it: `version` and the ETag stay, and `approval.version` is that version. Any later change of a draft\'s content voids the approval. Approving an approved draft changes nothing.',
      params: IdParams, headers: ApproveHeaders, body: NoBody,
      response: { 200: StaffAppealSchema, ...problems(400, 401, 403, 404, 409, 412, 422, 428) },
    },
  }, async (request, reply) => withEtag(reply, await appeals.approve(request.actor!, request.params.id, request.headers['if-match'])))

  app.post('/appeals/:id/publish', {
    preHandler: editor,
    // A bare POST is the natural call; an empty body is the same as `{}`.
    preValidation: async (request) => { request.body ??= {} },
    config: { idempotent: true },
    schema: {
      operationId: 'publishAppeal', summary: 'Publish a draft (or schedule it behind its embargo)', tags: ['appeals'], security: secured,
      description: 'Emits `appeal.published`. While `embargoUntil` is in the future the appeal stays a draft with `scheduledPublishAt` set and is published when the embargo lifts; asking again while scheduled changes nothing. When the organisation\'s `approvalPolicy` asks for it (`all`, or `sensitive` — the default — for a sensitive appeal), the current content must be approved first: 409 `/problems/approval-required` otherwise, also when scheduling (the rule is applied when publish is asked).',
      params: IdParams, headers: IdempotencyHeaders, body: NoBody,
      response: { 200: StaffAppealSchema, ...problems(400, 401, 403, 404, 409, 422) },
    },
  }, async (request, reply) => withEtag(reply, await appeals.publish(request.actor!, request.params.id)))

  app.post('/appeals/:id/updates', {
    preHandler: editor,
    config: { idempotent: true },
    schema: {
      operationId: 'postAppealUpdate', summary: 'Append a follow-up to a published appeal', tags: ['appeals'], security: secured,
      description: 'Appends follow-up n+1, applies the optional field changes and emits `appeal.updated`.',
      params: IdParams, headers: IdempotencyHeaders, body: FollowUpSchema,
      response: { 201: StaffAppealSchema, ...problems(400, 401, 403, 404, 409) },
    },
  }, async (request, reply) => {
    const appeal = await appeals.postUpdate(request.actor!, request.params.id, request.body)
    void reply.code(201)
    return withEtag(reply, appeal)
  })

  app.post('/appeals/:id/close', {
    preHandler: editor,
    config: { idempotent: true },
    schema: {
      operationId: 'closeAppeal', summary: 'Close a published appeal with its outcome', tags: ['appeals'], security: secured,
      params: IdParams, headers: IdempotencyHeaders, body: CloseAppealSchema,
      response: { 200: StaffAppealSchema, ...problems(400, 401, 403, 404, 409) },
    },
  }, async (request, reply) => withEtag(reply, await appeals.close(request.actor!, request.params.id, request.body)))

  app.post('/appeals/:id/withdraw', {
    preHandler: editor,
    config: { idempotent: true },
    schema: {
      operationId: 'withdrawAppeal', summary: 'Withdraw an appeal from every public read and feed', tags: ['appeals'], security: secured,
      description: 'Emits `appeal.withdrawn` with only `{ appealId, reference }` (not for drafts, which were never public) and strips content from earlier events.',
      params: IdParams, headers: IdempotencyHeaders, body: WithdrawAppealSchema,
      response: { 200: StaffAppealSchema, ...problems(400, 401, 403, 404, 409) },
    },
  }, async (request, reply) => withEtag(reply, await appeals.withdraw(request.actor!, request.params.id, request.body.reason)))

  app.get('/appeals/:id/deliveries', {
    preHandler: editor,
    schema: {
      operationId: 'getAppealDeliveries', summary: 'Fan-out progress: counts per channel and status, ETA while sending', tags: ['appeals'], security: secured,
      params: IdParams,
      response: { 200: DeliveryProgressSchema, ...problems(400, 401, 403, 404) },
    },
  }, async (request) => appeals.deliveryProgress(request.actor!, request.params.id))
}
