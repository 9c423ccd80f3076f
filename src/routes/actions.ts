// HTTP surface of "I took action" (contract §8). Thin: the ActionService
// does the work.
// - POST /appeals/{id}/actions: the button on the public appeal page. An
//   HTML form (empty or form-encoded body) is answered 303 back to the
//   appeal page — `?acted=1#act` when the action was counted, else the page
//   itself, which says why (closed: its outcome; withdrawn: 410; unknown or
//   draft: 404), so every page a person sees comes from one place. A JSON
//   caller (`Accept: application/json`, or a JSON body) gets 201
//   `{ actionsTaken }` or the problem (404, 409 closed, 410 withdrawn).
//   Anonymous; counted by the public rate limit even with a key
//   (plugins/public-rate-limit.ts); a cross-site post is refused, so that
//   another site cannot make its visitors' browsers add to the count.
// - POST /v1/appeals/{id}/actions: a partner or editor reports `{ count }`
//   actions its own supporters took; idempotent, audited.
// - GET /v1/appeals/{id}/actions: the tally per UTC day and source, for
//   staff of the owning organisation.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { AppError, badRequest } from '../errors.js'
import { IdParams, problems } from '../schemas/common.js'
import { ActionsTakenSchema, AppealActionsSchema, ReportActionsSchema, TakeActionQuery } from '../schemas/action.js'
import type { ActionService } from '../services/actions.js'
import { IdempotencyHeaders } from './appeals.js'

/** A form carries nothing the count needs; read no more than a small form. */
const FORM_BODY_LIMIT = 16 * 1024
const secured: Record<string, string[]>[] = [{ apiKey: [] }]

const isJsonBody = (request: FastifyRequest) => /^application\/json\b/i.test(request.headers['content-type'] ?? '')
const wantsJson = (request: FastifyRequest) => {
  const accept = request.headers.accept ?? ''
  return isJsonBody(request) || (/application\/(problem\+)?json/i.test(accept) && !/text\/html/i.test(accept))
}

/** A JSON body may only be `{}`: unknown properties are refused, as everywhere in the API. */
function checkEmptyJson(body: unknown): void {
  if (body === undefined || body === null) return
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('The body must be empty, `{}` or a form.', [{ pointer: '', in: 'body', message: 'must be an empty object' }])
  }
  const keys = Object.keys(body)
  if (keys.length > 0) {
    throw badRequest(`The request body has ${keys.length} invalid value${keys.length === 1 ? '' : 's'}.`,
      keys.slice(0, 20).map((key) => ({ pointer: `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, in: 'body' as const, message: 'is not a known property' })))
  }
}

const crossSite = () => new AppError(403, 'cross-site-action', 'Cross-site request refused',
  'Actions are counted from this service\'s own pages and API clients, not from another site\'s form or script.')

/** The public button: no prefix, beside the public appeal pages. */
export async function publicActionRoutes(fastify: FastifyInstance, opts: { actions: ActionService; basePath: string }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { actions, basePath } = opts
  // HTML forms post url-encoded (or multipart): the fields are not needed, only read up to the limit.
  for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data']) {
    app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: FORM_BODY_LIMIT }, (_request, _body, done) => done(null, undefined))
  }

  app.post('/appeals/:id/actions', {
    schema: {
      operationId: 'takeAction', summary: '"I took action": count one action on a published appeal', tags: ['appeals'], security: [],
      description: 'The button of the public appeal page; anonymous, and nothing about the caller is stored (no address, IP, user agent or cookie): '
        + 'only the count per appeal, UTC day and source. Accepts an empty body, `{}`, or a form (url-encoded or multipart; its fields are ignored). '
        + 'A JSON caller (`Accept: application/json`, or a JSON body) gets 201 with the new total, or 404 (unknown or draft), 409 `appeal-closed` '
        + '(the call to act is over) or 410 `appeal-withdrawn` — never anything of the appeal. A form post is answered 303 back to the appeal page: '
        + '`/appeals/{id}?acted=1#act` when the action was counted (with `lang` kept when given), else `/appeals/{id}`, which shows why. '
        + 'Counted by the public rate limit even with a key; a cross-site request (`Sec-Fetch-Site: cross-site`) is refused with 403.',
      params: IdParams, querystring: TakeActionQuery,
      response: {
        201: ActionsTakenSchema,
        303: Type.Null({
          description: 'See Other: a form post goes back to the appeal page',
          headers: { location: Type.String({ description: '`/appeals/{id}?acted=1#act` when counted, else `/appeals/{id}`' }) },
        }),
        ...problems(400, 403, 404, 409, 410, 413, 415),
      },
    },
  }, async (request, reply) => {
    void reply.header('cache-control', 'no-store')
    if (request.headers['sec-fetch-site'] === 'cross-site') throw crossSite()
    const json = wantsJson(request)
    if (isJsonBody(request)) checkEmptyJson(request.body)
    const { id } = request.params
    if (json) return reply.code(201).send({ actionsTaken: await actions.takeAction(id) })
    const page = `${basePath}/appeals/${id}`
    try {
      await actions.takeAction(id)
    } catch (error) {
      if (error instanceof AppError && [404, 409, 410].includes(error.status)) return reply.redirect(page, 303)
      throw error
    }
    const lang = request.query.lang ? `&lang=${encodeURIComponent(request.query.lang)}` : ''
    return reply.redirect(`${page}?acted=1${lang}#act`, 303)
  })
}

/** Under /v1: organisations' reports and the staff tally. */
export async function actionRoutes(fastify: FastifyInstance, opts: { actions: ActionService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { actions } = opts

  app.post('/appeals/:id/actions', {
    preHandler: app.requireRole('partner', 'editor'),
    config: { idempotent: true },
    schema: {
      operationId: 'reportActions', summary: 'Report actions your organisation\'s supporters took on an appeal', tags: ['appeals'], security: secured,
      description: 'Adds `count` to the appeal\'s "I took action" total, for actions your own supporters took elsewhere (offline letters, your own site), '
        + 'so that the network\'s total is known. Published and closed appeals you may read; a draft or withdrawn appeal of your own organisation is a 409. '
        + 'Audited with your key; counted per UTC day under your organisation.',
      params: IdParams, headers: IdempotencyHeaders, body: ReportActionsSchema,
      response: { 201: ActionsTakenSchema, ...problems(400, 401, 403, 404, 409, 413, 415, 422) },
    },
  }, async (request, reply) => {
    const total = await actions.report(request.actor!, request.params.id, request.body.count)
    return reply.code(201).send({ actionsTaken: total })
  })

  app.get('/appeals/:id/actions', {
    preHandler: app.requireRole('editor'),
    schema: {
      operationId: 'getAppealActions', summary: '"I took action" counts per day and source', tags: ['appeals'], security: secured,
      description: 'For staff of the owning organisation (admins: any appeal). Counts only: nothing about who acted is stored.',
      params: IdParams,
      response: { 200: AppealActionsSchema, ...problems(400, 401, 403, 404) },
    },
  }, async (request) => actions.tally(request.actor!, request.params.id))
}
