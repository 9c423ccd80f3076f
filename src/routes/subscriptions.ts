// HTTP surface of supporters (contract §6): the keyless JSON API under /v1
// and the server-rendered pages under /subscriptions, all behind the
// public rate limit (plugins/public-rate-limit.ts). Thin: the
// SubscriptionService does the work; pages answer in the supporter's
// language, visitors we cannot identify by Accept-Language. GET never
// changes state (mail scanners prefetch links); POST, PATCH and DELETE do.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { RedisConnection } from '../queue/queues.js'
import type { Config } from '../config.js'
import type { Pool } from '../db/pool.js'
import { AppError } from '../errors.js'
import { sendProblem } from '../plugins/problem-details.js'
import { problems } from '../schemas/common.js'
import {
  ConfirmedSchema, PatchSubscriptionSchema, SubscribeAcceptedSchema, SubscribeSchema, SUBSCRIBE_ACCEPTED,
  SubscriptionExportSchema, SubscriptionSchema, TokenParams, UnsubscribedSchema, type PatchSubscription,
} from '../schemas/subscription.js'
import { LinkError, SubscriptionService, toSupporterView } from '../services/subscriptions.js'
import { knownThemes } from '../repositories/subscriptions.js'
import { localeFor, negotiateLocale, type Locale } from '../i18n/index.js'
import { acceptForms } from './forms.js'
import {
  cancelledPage, confirmedPage, confirmPage, erasedPage, erasePage, errorPage, offeredThemes, preferencesPage, unsubscribedPage,
  unsubscribePage, type PageOptions,
} from '../pages/supporter-pages.js'

export interface SupporterRoutesOptions {
  config: Readonly<Config>
  pool: Pool
  redis: RedisConnection
  subscriptions: SubscriptionService
}

/** Small forms only: preferences, and whatever a one-click client posts. */
const FORM_BODY_LIMIT = 64 * 1024

const wantsJson = (request: FastifyRequest) => {
  const accept = request.headers.accept ?? ''
  return /application\/(problem\+)?json/.test(accept) && !/text\/html/.test(accept)
}

export async function supporterRoutes(fastify: FastifyInstance, opts: SupporterRoutesOptions) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { config, subscriptions } = opts
  const pages: PageOptions = { basePath: new URL(config.publicBaseUrl).pathname.replace(/\/+$/, '') }

  // Browsers post forms url-encoded; one-click clients (RFC 8058) post
  // `List-Unsubscribe=One-Click` url-encoded or as multipart, and some send
  // nothing or another type: the one-click route ignores its body, so any
  // type is accepted and read no further than the limit.
  acceptForms(app, FORM_BODY_LIMIT)
  app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer', bodyLimit: FORM_BODY_LIMIT },
    (_request, _body, done) => done(null, {}))
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: FORM_BODY_LIMIT }, (_request, _body, done) => done(null, {}))

  const html = (reply: FastifyReply, status: number, page: string) =>
    reply.code(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(page)

  /** Link errors become a friendly page (or a problem for JSON callers); anything else goes to the error handler. */
  const fail = (request: FastifyRequest, reply: FastifyReply, error: unknown) => {
    if (!(error instanceof LinkError)) throw error
    if (wantsJson(request)) return sendProblem(reply.header('cache-control', 'no-store'), error)
    const locale = error.language ? localeFor(error.language) : negotiateLocale(request.headers['accept-language'])
    return html(reply, error.status, errorPage(locale, error.kind))
  }

  const visitorLocale = (request: FastifyRequest): Locale => negotiateLocale(request.headers['accept-language'])
  const tokenOnly = { params: Type.Object({ token: Type.String() }) }

  // ---- JSON API ------------------------------------------------------------

  app.post('/v1/subscriptions', {
    schema: {
      operationId: 'subscribe', summary: 'Ask for alerts: double opt-in by email', tags: ['subscriptions'],
      description: 'Always 202 with the same body, whatever the address\'s state. A confirmation email is sent unless one was sent to that address in the last 24 h, or the address is already subscribed. Defaults: language from `Accept-Language`, every country, every theme, every urgency.',
      body: SubscribeSchema,
      response: { 202: SubscribeAcceptedSchema, ...problems(400, 413, 415, 429) },
    },
  }, async (request, reply) => {
    await subscriptions.subscribe(request.body, { source: 'api', defaultLanguage: visitorLocale(request) })
    return reply.code(202).header('cache-control', 'no-store').send(SUBSCRIBE_ACCEPTED)
  })

  app.get('/v1/subscriptions/:token', {
    schema: {
      operationId: 'getSubscription', summary: 'Read a subscription by its management token', tags: ['subscriptions'],
      params: TokenParams,
      response: { 200: SubscriptionSchema, ...problems(400, 404, 429) },
    },
  }, async (request, reply) => {
    void reply.header('cache-control', 'no-store')
    return toSupporterView(await subscriptions.byManagementToken(request.params.token))
  })

  app.patch('/v1/subscriptions/:token', {
    schema: {
      operationId: 'updateSubscription', summary: 'Change preferences (language, countries, themes, minimum urgency)', tags: ['subscriptions'],
      params: TokenParams, body: PatchSubscriptionSchema,
      response: { 200: SubscriptionSchema, ...problems(400, 404, 415, 429) },
    },
  }, async (request, reply) => {
    void reply.header('cache-control', 'no-store')
    return toSupporterView(await subscriptions.updatePreferences(request.params.token, request.body, 'api'))
  })

  app.get('/v1/subscriptions/:token/export', {
    schema: {
      operationId: 'exportSubscription', summary: 'Everything held about the supporter, as JSON', tags: ['subscriptions'],
      params: TokenParams,
      response: { 200: SubscriptionExportSchema, ...problems(400, 404, 429) },
    },
  }, async (request, reply) => {
    void reply.header('cache-control', 'no-store').header('content-disposition', 'attachment; filename="subscription.json"')
    return subscriptions.export(request.params.token)
  })

  app.delete('/v1/subscriptions/:token', {
    schema: {
      operationId: 'eraseSubscription', summary: 'Erase the supporter: personal data deleted, a keyed hash kept so the address is never mailed again', tags: ['subscriptions'],
      params: TokenParams,
      response: { 204: Type.Null({ description: 'erased' }), ...problems(400, 404, 429) },
    },
  }, async (request, reply) => {
    await subscriptions.erase(request.params.token, 'api')
    return reply.code(204).send(null)
  })

  // ---- Pages and one-click -------------------------------------------------

  app.get('/subscriptions/confirm/:token', { schema: { hide: true, ...tokenOnly } }, async (request, reply) => {
    try {
      const row = await subscriptions.byConfirmationToken(request.params.token)
      const locale = localeFor(row.language)
      // A spent link says so and never shows the management link: the mail may have been forwarded.
      if (row.status !== 'pending') return html(reply, 410, errorPage(locale, 'used'))
      return html(reply, 200, confirmPage(locale, pages, request.params.token, toSupporterView(row), offeredThemes(await knownThemes(opts.pool))))
    } catch (error) { return fail(request, reply, error) }
  })

  app.post('/subscriptions/confirm/:token', {
    schema: {
      operationId: 'confirmSubscription', summary: 'Confirm a subscription (double opt-in)', tags: ['subscriptions'],
      description: 'Answers an HTML page, or JSON with `Accept: application/json`. Accepts an empty or form-encoded body. A link is spent once used: using it again answers 410 `link-used` (never the preferences link); an expired one 410 `link-expired`.',
      ...tokenOnly,
      response: { 200: ConfirmedSchema, ...problems(404, 410, 429) },
    },
  }, async (request, reply) => {
    try {
      const row = await subscriptions.confirm(request.params.token, wantsJson(request) ? 'api' : 'page')
      void reply.header('cache-control', 'no-store')
      if (wantsJson(request)) {
        return { status: row.status, subscription: toSupporterView(row), preferencesUrl: subscriptions.preferencesUrl(row) }
      }
      return html(reply, 200, confirmedPage(localeFor(row.language), pages, subscriptions.managementToken(row)))
    } catch (error) { return fail(request, reply, error) }
  })

  app.post('/subscriptions/confirm/:token/cancel', {
    schema: {
      operationId: 'cancelSubscription', summary: '"This wasn\'t me": delete the pending request and never mail the mailbox again', tags: ['subscriptions'],
      description: 'Acts only on a pending, unexpired request (410 `link-used` or `link-expired` otherwise). The address, in every spelling of its mailbox (`a.b+tag@` forms), is blocked for good.',
      ...tokenOnly,
      response: { 200: Type.Object({ status: Type.Literal('cancelled') }, { title: 'SubscriptionCancelled' }), ...problems(404, 410, 429) },
    },
  }, async (request, reply) => {
    try {
      const language = await subscriptions.cancel(request.params.token, wantsJson(request) ? 'api' : 'page')
      void reply.header('cache-control', 'no-store')
      if (wantsJson(request)) return { status: 'cancelled' as const }
      return html(reply, 200, cancelledPage(localeFor(language)))
    } catch (error) { return fail(request, reply, error) }
  })

  const preferences = async (token: string, notice?: 'saved' | 'invalid' | 'resubscribed') => {
    const row = await subscriptions.byManagementToken(token)
    return preferencesPage(localeFor(row.language), pages, {
      token, subscription: toSupporterView(row), themes: await knownThemes(opts.pool), ...(notice ? { notice } : {}),
    })
  }

  app.get('/subscriptions/:token', { schema: { hide: true, ...tokenOnly } }, async (request, reply) => {
    try { return html(reply, 200, await preferences(request.params.token)) } catch (error) { return fail(request, reply, error) }
  })

  // The preference form (HTML forms cannot PATCH). Unticked boxes are absent: none ticked = all.
  // Themes the page does not name (old rows may hold any slug) are kept while `keepOtherThemes` is ticked.
  app.post('/subscriptions/:token', { schema: { hide: true, ...tokenOnly } }, async (request, reply) => {
    const form = (request.body ?? {}) as Record<string, string[]>
    try {
      const themes = form.themes ?? []
      if (form.keepOtherThemes?.[0]) {
        const [row, known] = await Promise.all([subscriptions.byManagementToken(request.params.token), knownThemes(opts.pool)])
        const offered = offeredThemes(known)
        themes.push(...row.themes.filter((theme) => !offered.has(theme)))
      }
      const changes: PatchSubscription = {
        countries: form.countries ?? [], themes,
        ...(form.language?.[0] ? { language: form.language[0] } : {}),
        ...(form.minUrgency?.[0] ? { minUrgency: form.minUrgency[0] as PatchSubscription['minUrgency'] } : {}),
      }
      const shapeOk = (changes.countries ?? []).length <= 60 && themes.length <= 30
        && themes.every((t) => /^[a-z0-9-]{2,40}$/.test(t))
        && (changes.language === undefined || (changes.language.length <= 35 && /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$/.test(changes.language)))
        && (changes.minUrgency === undefined || ['critical', 'high', 'normal'].includes(changes.minUrgency))
      if (!shapeOk) return html(reply, 400, await preferences(request.params.token, 'invalid'))
      await subscriptions.updatePreferences(request.params.token, changes, 'page')
      return html(reply, 200, await preferences(request.params.token, 'saved'))
    } catch (error) {
      if (error instanceof AppError && error.status === 400) return html(reply, 400, await preferences(request.params.token, 'invalid'))
      return fail(request, reply, error)
    }
  })

  // The visible unsubscribe link of every mail (and what a mail client may open from
  // List-Unsubscribe): a page whose one button posts the one-click route below.
  app.get('/subscriptions/:token/unsubscribe', { schema: { hide: true, ...tokenOnly } }, async (request, reply) => {
    try {
      const row = await subscriptions.byManagementToken(request.params.token)
      return html(reply, 200, unsubscribePage(localeFor(row.language), pages, request.params.token, toSupporterView(row)))
    } catch (error) { return fail(request, reply, error) }
  })

  app.post('/subscriptions/:token/unsubscribe', {
    schema: {
      operationId: 'unsubscribeOneClick', summary: 'One-click unsubscribe (RFC 8058): takes effect at once', tags: ['subscriptions'],
      description: 'The `List-Unsubscribe` target of every alert. Accepts an empty, form-encoded (`List-Unsubscribe=One-Click`) or multipart body and answers 200 without a redirect: an HTML page, or JSON with `Accept: application/json`. Mail still queued for the supporter is cancelled, including in a fan-out already sending. Idempotent.',
      ...tokenOnly,
      response: { 200: UnsubscribedSchema, ...problems(404, 413, 429) },
    },
  }, async (request, reply) => {
    try {
      const row = await subscriptions.unsubscribe(request.params.token, 'one-click')
      void reply.header('cache-control', 'no-store')
      if (wantsJson(request)) return { status: 'unsubscribed' as const }
      return html(reply, 200, unsubscribedPage(localeFor(row.language), pages, request.params.token))
    } catch (error) { return fail(request, reply, error) }
  })

  app.post('/subscriptions/:token/resubscribe', { schema: { hide: true, ...tokenOnly } }, async (request, reply) => {
    try {
      await subscriptions.resubscribe(request.params.token, 'page')
      return html(reply, 200, await preferences(request.params.token, 'resubscribed'))
    } catch (error) {
      if (error instanceof AppError && error.slug === 'subscription-pending') {
        return html(reply, 409, errorPage(visitorLocale(request), 'pending'))
      }
      return fail(request, reply, error)
    }
  })

  // Erasure is asked for twice: this page says what is deleted and kept; its button posts the route below.
  app.get('/subscriptions/:token/erase', { schema: { hide: true, ...tokenOnly } }, async (request, reply) => {
    try {
      const row = await subscriptions.byManagementToken(request.params.token)
      return html(reply, 200, erasePage(localeFor(row.language), pages, request.params.token))
    } catch (error) { return fail(request, reply, error) }
  })

  app.post('/subscriptions/:token/erase', { schema: { hide: true, ...tokenOnly } }, async (request, reply) => {
    try {
      const language = await subscriptions.erase(request.params.token, 'page')
      return html(reply, 200, erasedPage(localeFor(language)))
    } catch (error) { return fail(request, reply, error) }
  })
}
