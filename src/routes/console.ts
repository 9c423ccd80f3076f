// HTTP surface of console sign-in (contract §9): the sign-in and enrolment
// pages with their passkey ceremonies (JSON, called by console-script.ts),
// the signed-in landing page, passkeys (add, revoke), sign-out (here,
// everywhere) and, for admins, the organisation's people (invite, new
// enrolment link, disable). Thin: ConsoleAuthService and PeopleService
// decide, pages/console-pages.ts renders.
//
// How a browser is trusted here, and only here:
// - the session cookie (`ua_console`: HttpOnly, SameSite=Strict, Secure
//   when PUBLIC_BASE_URL is https, Path=<base>/console) is read by this
//   plugin alone, so it never reaches /v1 — which stays key-only, and a
//   cookie ridden cross-site cannot act through the API. A Bearer key is
//   not read on these routes either (`apiKey: false`);
// - a live session becomes the request's Actor `{ keyId: null, personId,
//   organisationId, role }`, checked by the same `requireRole` as keys;
// - every state change (any method but GET/HEAD) must come from our own
//   origin (`Origin` equal to PUBLIC_BASE_URL's; `Sec-Fetch-Site`, when
//   sent, `same-origin`) and, signed in, carry the session's synchronizer
//   token (`_csrf` field or `x-csrf-token` header), compared in constant
//   time. Two independent checks: the token is the proven OWASP pattern,
//   the origin check also covers the signed-out ceremonies (login CSRF).
// Keyless requests (signing in, enrolling) count against the public rate
// limit per address (plugins/public-rate-limit.ts); signed-in ones, like
// keyed ones, do not.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import cookie from '@fastify/cookie'
import { Type } from 'typebox'
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server'
import type { Config } from '../config.js'
import type { Pool } from '../db/pool.js'
import { ROLES, type Actor, type Role } from '../auth/api-keys.js'
import { sameSecret } from '../auth/console-tokens.js'
import { AppError } from '../errors.js'
import { Uuid } from '../schemas/common.js'
import { ConsoleAuthService, type NewSession } from '../services/console-auth.js'
import { PeopleService, type Enrolment } from '../services/people.js'
import type { LiveSession } from '../repositories/console-sessions.js'
import {
  enrolGonePage, enrolPage, errorPage, landingPage, linkNotice, NOTICES, signInPage, type NoticeKey,
} from '../pages/console-pages.js'
import type { ConsoleSite, Viewer } from '../pages/console-frame.js'
import { PASSKEY_SCRIPT, PASSKEY_SCRIPT_PATH, WEBAUTHN_SCRIPT, WEBAUTHN_SCRIPT_PATH } from '../pages/console-script.js'
import { acceptForms, formValue } from './forms.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The console session behind the request's cookie (signed-in console routes only). */
    consoleSession: LiveSession | null
  }
}

const SESSION_COOKIE = 'ua_console'

/** What a console area's routes get besides their own dependencies. */
export interface ConsoleAreaContext {
  site: ConsoleSite
  /** The signed-in person and the session's CSRF token, for the page frame. */
  viewerOf(request: FastifyRequest): Promise<Viewer>
}

/**
 * A console area (appeals, webhooks, administration…): routes registered
 * inside the signed-in scope, so every one of them has a live session, the
 * person as `request.actor`, the CSRF check on state changes, `no-store`,
 * and the console's error pages. It checks roles with `requireRole`.
 */
export type ConsoleArea = (signed: FastifyInstance, context: ConsoleAreaContext) => Promise<void>

export interface ConsoleRoutesOptions {
  config: Readonly<Config>
  pool: Pool
  /** Mails an enrolment link to its person (the email queue); absent: the link is only shown. */
  mailEnrolment?: (enrolment: Enrolment) => Promise<boolean>
  /** The console's areas beyond the account page, in navigation order. */
  areas?: readonly ConsoleArea[]
}

const HTML = 'text/html; charset=utf-8'
const FORM_BODY_LIMIT = 16 * 1024
const JSON_BODY_LIMIT = 64 * 1024


const wantsJson = (request: FastifyRequest) => /application\/(problem\+)?json/.test(request.headers.accept ?? '')

const csrfRefused = (detail: string) => new AppError(403, 'csrf', 'Cross-site request refused', detail)

const CeremonyAnswer = Type.Object({
  flow: Uuid,
  response: Type.Object({ id: Type.String({ maxLength: 1024 }) }, { additionalProperties: true }),
  name: Type.Optional(Type.String({ maxLength: 200 })),
}, { additionalProperties: false })
const NoBody = Type.Union([Type.Object({}, { additionalProperties: false }), Type.Null()])
const TokenParams = Type.Object({ token: Type.String({ maxLength: 100 }) }, { additionalProperties: false })
const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false })

export async function consoleRoutes(app: FastifyInstance, opts: ConsoleRoutesOptions) {
  const { config, pool } = opts
  const auth = new ConsoleAuthService(pool, config.publicBaseUrl)
  const peopleService = new PeopleService(pool, config.publicBaseUrl, config.secretsKey)
  const basePath = new URL(config.publicBaseUrl).pathname.replace(/\/+$/, '')
  const site: ConsoleSite = { basePath }
  const cookieOptions = {
    path: `${basePath}/console`, httpOnly: true, sameSite: 'strict' as const, secure: config.publicBaseUrl.startsWith('https:'),
  }

  // Registered here, not for the whole app: no other route reads cookies.
  await app.register(cookie)
  app.decorateRequest('consoleSession', null)
  acceptForms(app, FORM_BODY_LIMIT)
  app.addHook('onRoute', (route) => {
    // Never a Bearer key here (the person is the actor), and not in the API's OpenAPI document.
    route.config = { ...route.config, apiKey: false }
    route.schema = { ...route.schema, hide: true }
  })

  // Same-origin state changes only: before anything is parsed or looked up.
  app.addHook('onRequest', async (request) => {
    if (request.method === 'GET' || request.method === 'HEAD') return
    const fetchSite = request.headers['sec-fetch-site']
    if (request.headers.origin !== auth.origin || (fetchSite !== undefined && fetchSite !== 'same-origin')) {
      throw csrfRefused(`State changes are accepted from ${auth.origin} pages only.`)
    }
  })
  // Nothing here may be stored by a browser or a proxy: pages show who is signed in, links carry tokens.
  app.addHook('onSend', async (_request, reply) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
  })
  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    if (wantsJson(request) || !(error instanceof AppError)) throw error // problem documents (plugins/problem-details.ts)
    if (error.headers) void reply.headers(error.headers)
    if (error.status === 401) return reply.redirect(`${basePath}/console/sign-in`, 303)
    return reply.code(error.status).type(HTML).send(errorPage(site, error.title, error.message, request.consoleSession !== null))
  })

  const page = (reply: FastifyReply, body: string, status = 200) => reply.code(status).type(HTML).send(body)
  const startSession = (reply: FastifyReply, session: NewSession) =>
    reply.setCookie(SESSION_COOKIE, session.token, cookieOptions).send({ location: `${basePath}/console` })

  for (const [path, script] of [[PASSKEY_SCRIPT_PATH, PASSKEY_SCRIPT], [WEBAUTHN_SCRIPT_PATH, WEBAUTHN_SCRIPT]] as const) {
    app.get(path, async (_request, reply) =>
      reply.header('cache-control', 'public, max-age=31536000, immutable').type('text/javascript; charset=utf-8').send(script))
  }

  // ---- Signing in ---------------------------------------------------------------

  app.get('/console/sign-in', async (request, reply) => {
    if (await auth.session(request.cookies[SESSION_COOKIE])) return reply.redirect(`${basePath}/console`, 303)
    return page(reply, signInPage(site))
  })
  app.post('/console/sign-in/options', { schema: { body: NoBody }, bodyLimit: 1024 }, async () => auth.signInOptions())
  app.post('/console/sign-in', { schema: { body: CeremonyAnswer }, bodyLimit: JSON_BODY_LIMIT }, async (request, reply) => {
    const body = request.body as { flow: string; response: AuthenticationResponseJSON }
    return startSession(reply, await auth.finishSignIn(body))
  })

  // ---- Enrolment links --------------------------------------------------------------

  app.get('/console/enrol/:token', { schema: { params: TokenParams } }, async (request, reply) => {
    const { token } = request.params as { token: string }
    const state = await auth.enrolment(token)
    if (state.state !== 'open') return page(reply, enrolGonePage(site, state.state), state.state === 'unknown' ? 404 : 410)
    const person = (await peopleService.get(state.person.id))!
    return page(reply, enrolPage(site, person, token))
  })
  app.post('/console/enrol/:token/options', { schema: { params: TokenParams, body: NoBody }, bodyLimit: 1024 }, async (request) =>
    auth.enrolmentOptions((request.params as { token: string }).token))
  app.post('/console/enrol/:token', { schema: { params: TokenParams, body: CeremonyAnswer }, bodyLimit: JSON_BODY_LIMIT }, async (request, reply) => {
    const { token } = request.params as { token: string }
    const body = request.body as { flow: string; response: RegistrationResponseJSON; name?: string }
    const { session } = await auth.finishRegistration(body, { token })
    return startSession(reply, session!)
  })

  // ---- Signed in ------------------------------------------------------------------

  await app.register(async (signed) => {
    signed.addHook('onRequest', async (request, reply) => {
      const session = await auth.session(request.cookies[SESSION_COOKIE])
      if (!session) {
        reply.clearCookie(SESSION_COOKIE, cookieOptions)
        if (request.method === 'GET' && !wantsJson(request)) return reply.redirect(`${basePath}/console/sign-in`, 303)
        throw new AppError(401, 'signed-out', 'Signed out', 'Your session has ended; sign in again.')
      }
      request.consoleSession = session
      request.actor = { keyId: null, personId: session.personId, organisationId: session.organisationId, role: session.role }
    })
    // After the body is parsed: the token may be a form field.
    signed.addHook('preHandler', async (request) => {
      if (request.method === 'GET' || request.method === 'HEAD') return
      const header = request.headers['x-csrf-token']
      const token = typeof header === 'string' && header !== '' ? header : formValue(request.body, '_csrf')
      if (!token || !sameSecret(token, request.consoleSession!.csrfToken)) {
        throw csrfRefused('This form has expired or did not come from the console; reload the page and try again.')
      }
    })
    const actorOf = (request: FastifyRequest): Actor => request.actor!

    const landing = async (request: FastifyRequest, reply: FastifyReply, notice?: Parameters<typeof landingPage>[1]['notice'], status = 200) => {
      const actor = actorOf(request)
      const person = (await peopleService.get(actor.personId!))!
      const viewer: Viewer = { person, csrf: request.consoleSession!.csrfToken }
      const [passkeys, people] = await Promise.all([
        auth.listPasskeys(person.id), actor.role === 'admin' ? peopleService.list(actor) : Promise.resolve(null),
      ])
      return page(reply, landingPage(site, { viewer, passkeys, people, ...(notice ? { notice } : {}) }), status)
    }
    const back = (reply: FastifyReply, done: NoticeKey) => reply.redirect(`${basePath}/console?done=${done}`, 303)

    signed.get('/console', async (request, reply) => {
      const done = (request.query as { done?: string }).done
      return landing(request, reply, done && done in NOTICES ? NOTICES[done as NoticeKey] : undefined)
    })

    signed.post('/console/sign-out', async (request, reply) => {
      await auth.signOut(actorOf(request), request.consoleSession!.id)
      return reply.clearCookie(SESSION_COOKIE, cookieOptions).redirect(`${basePath}/console/sign-in`, 303)
    })
    signed.post('/console/sign-out-everywhere', async (request, reply) => {
      await auth.signOutEverywhere(actorOf(request))
      return reply.clearCookie(SESSION_COOKIE, cookieOptions).redirect(`${basePath}/console/sign-in`, 303)
    })

    signed.post('/console/passkeys/options', { schema: { body: NoBody }, bodyLimit: 1024 }, async (request) =>
      auth.addPasskeyOptions(actorOf(request)))
    signed.post('/console/passkeys', { schema: { body: CeremonyAnswer }, bodyLimit: JSON_BODY_LIMIT }, async (request) => {
      const body = request.body as { flow: string; response: RegistrationResponseJSON; name?: string }
      await auth.finishRegistration(body, { actor: actorOf(request) })
      return { location: `${basePath}/console?done=passkey-added` }
    })
    signed.post('/console/passkeys/:id/revoke', { schema: { params: IdParams } }, async (request, reply) => {
      await auth.revokePasskey(actorOf(request), (request.params as { id: string }).id)
      // Revoking the passkey this session was opened with ends the session: sign in again.
      if (!(await auth.session(request.cookies[SESSION_COOKIE]))) {
        return reply.clearCookie(SESSION_COOKIE, cookieOptions).redirect(`${basePath}/console/sign-in`, 303)
      }
      return back(reply, 'passkey-revoked')
    })

    // ---- People (admins) -----------------------------------------------------------

    const adminOnly = { preHandler: signed.requireRole('admin') }
    const showLink = async (request: FastifyRequest, reply: FastifyReply, enrolment: Enrolment, invited: boolean) => {
      const mailed = opts.mailEnrolment ? await opts.mailEnrolment(enrolment).catch(() => false) : false
      return landing(request, reply, linkNotice({ email: enrolment.person.email, url: enrolment.url, expiresAt: enrolment.expiresAt, mailed, invited }), invited ? 201 : 200)
    }
    signed.post('/console/people', adminOnly, async (request, reply) => {
      const role = formValue(request.body, 'role')
      if (!ROLES.includes(role as Role)) throw new AppError(400, 'validation-error', 'Your request is not valid', 'Choose a role: admin, editor or partner.')
      const enrolment = await peopleService.invite(actorOf(request), {
        email: formValue(request.body, 'email'), role: role as Role, displayName: formValue(request.body, 'displayName').slice(0, 100),
      })
      return showLink(request, reply, enrolment, true)
    })
    signed.post('/console/people/:id/enrolment-link', { ...adminOnly, schema: { params: IdParams } }, async (request, reply) =>
      showLink(request, reply, await peopleService.resendEnrolment(actorOf(request), (request.params as { id: string }).id), false))
    signed.post('/console/people/:id/disable', { ...adminOnly, schema: { params: IdParams } }, async (request, reply) => {
      await peopleService.disable(actorOf(request), (request.params as { id: string }).id)
      return back(reply, 'person-disabled')
    })

    // ---- The other areas ---------------------------------------------------------------

    const context: ConsoleAreaContext = {
      site,
      async viewerOf(request) {
        return { person: (await peopleService.get(actorOf(request).personId!))!, csrf: request.consoleSession!.csrfToken }
      },
    }
    for (const area of opts.areas ?? []) await signed.register(async (scope) => area(scope, context))
  })
}
