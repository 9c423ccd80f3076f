// A signed-in console person for HTTP-level tests of console areas: a
// person of a role in an organisation, enrolled with a software passkey
// (soft-authenticator.ts, through console.ts's ConsoleBrowser), with the
// session cookie, its CSRF token and an `inject`-style request function
// that sends what a browser sends from a console page (form posts with
// repeated fields, `_csrf`, same-origin headers).
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Pool } from '../../src/db/pool.js'
import type { Role } from '../../src/auth/api-keys.js'
import { ConsoleBrowser, createPerson } from './console.js'

/** buildTestApp's organisations: where a person of each role lives unless told otherwise. */
const HOME: Record<Role, string> = { admin: 'Liaoning Watch', editor: 'Liaoning Watch', partner: 'Refugee Desk' }

export type FormFields = Record<string, string | readonly string[]>

export interface ConsoleSession {
  browser: ConsoleBrowser
  person: Awaited<ReturnType<typeof createPerson>>['person']
  /** The `ua_console` cookie's value. */
  cookie: string
  /** The session's synchronizer token, as the console's forms carry it. */
  csrf: string
  /**
   * `app.inject` as the signed-in browser. GET: the cookie. POST: a
   * same-origin form post of `form` (arrays as repeated fields) with the
   * session's `_csrf` added — unless `form._csrf` is given ('' sends none).
   */
  request(method: 'GET' | 'POST', url: string, form?: FormFields, headers?: Record<string, string>): Promise<LightMyRequestResponse>
}

/**
 * Signs in a new person of `role` (email random unless given) in `org`
 * (created when new; by default the organisation of buildTestApp's key of
 * that role: admin and editor Liaoning Watch, partner Refugee Desk).
 */
export async function consoleSession(
  ctx: { app: FastifyInstance; pool: Pool; config: { publicBaseUrl: string } }, role: Role, o: { org?: string; email?: string } = {},
): Promise<ConsoleSession> {
  const email = o.email ?? `${role}-${Math.random().toString(36).slice(2, 10)}@example.org`
  const enrolment = await createPerson(ctx.pool, ctx.config.publicBaseUrl, o.org ?? HOME[role], email, role)
  const browser = new ConsoleBrowser(ctx.app, ctx.config.publicBaseUrl)
  const enrolled = await browser.enrol(enrolment.url)
  if (enrolled.statusCode !== 200 || !browser.cookie) throw new Error(`enrolment of ${email} failed: ${enrolled.statusCode} ${enrolled.body}`)
  const csrf = await browser.csrf()
  return {
    browser, person: enrolment.person, cookie: browser.cookie, csrf,
    async request(method, url, form = {}, headers = {}) {
      if (method === 'GET') return browser.get(url, headers)
      const body = new URLSearchParams()
      for (const [name, value] of Object.entries({ _csrf: csrf, ...form })) {
        for (const v of typeof value === 'string' ? [value] : value) if (!(name === '_csrf' && v === '')) body.append(name, v)
      }
      return ctx.app.inject({
        method, url, payload: body.toString(),
        headers: {
          'content-type': 'application/x-www-form-urlencoded', origin: browser.origin, 'sec-fetch-site': 'same-origin',
          cookie: `ua_console=${browser.cookie}`, ...headers,
        },
      })
    },
  }
}
