// The console as a browser uses it, over app.inject: a cookie jar, the
// page's CSRF token, same-origin headers, and a software passkey for the
// WebAuthn ceremonies (soft-authenticator.ts); `consoleSession`, a
// signed-in person of a role for the HTTP tests of console areas; and the
// fields of a page's forms as a browser would submit them.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Pool } from '../../src/db/pool.js'
import type { Role } from '../../src/auth/api-keys.js'
import { PeopleService } from '../../src/services/people.js'
import { SoftAuthenticator } from './soft-authenticator.js'

export interface CookieSeen { name: string; value: string; attributes: Record<string, string | true> }

/** Parses one Set-Cookie header value. */
export function parseSetCookie(header: string): CookieSeen {
  const [pair, ...attrs] = header.split(';').map((s) => s.trim())
  const [name, ...value] = pair!.split('=')
  const attributes: Record<string, string | true> = {}
  for (const a of attrs) {
    const [k, ...v] = a.split('=')
    attributes[k!.toLowerCase()] = v.length > 0 ? v.join('=') : true
  }
  return { name: name!, value: value.join('='), attributes }
}

export async function createPerson(pool: Pool, publicBaseUrl: string, org: string, email: string, role: Role) {
  return new PeopleService(pool, publicBaseUrl).createUserForOrganisationName(org, { email, role })
}

export class ConsoleBrowser {
  cookie: string | null = null
  readonly authenticator: SoftAuthenticator
  readonly origin: string

  constructor(private readonly app: FastifyInstance, publicBaseUrl: string, authenticator?: SoftAuthenticator) {
    this.origin = new URL(publicBaseUrl).origin
    this.authenticator = authenticator ?? new SoftAuthenticator(this.origin)
  }

  private remember(res: LightMyRequestResponse) {
    const set = res.headers['set-cookie']
    for (const header of ([] as string[]).concat(set ?? [])) {
      const c = parseSetCookie(header)
      if (c.name === 'ua_console') this.cookie = c.value === '' ? null : c.value
    }
    return res
  }

  async get(url: string, headers: Record<string, string> = {}) {
    return this.remember(await this.app.inject({ method: 'GET', url, headers: { ...(this.cookie ? { cookie: `ua_console=${this.cookie}` } : {}), ...headers } }))
  }

  /** A JSON POST as console-script.ts makes it (same origin, the CSRF header when given). */
  async postJson(url: string, body: unknown, o: { csrf?: string; headers?: Record<string, string> } = {}) {
    return this.remember(await this.app.inject({
      method: 'POST', url, payload: body as object,
      headers: {
        origin: this.origin, 'sec-fetch-site': 'same-origin', accept: 'application/json',
        ...(this.cookie ? { cookie: `ua_console=${this.cookie}` } : {}), ...(o.csrf ? { 'x-csrf-token': o.csrf } : {}), ...o.headers,
      },
    }))
  }

  /** A form POST as the browser sends it from a console page. */
  async postForm(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
    return this.remember(await this.app.inject({
      method: 'POST', url, payload: new URLSearchParams(fields).toString(),
      headers: {
        'content-type': 'application/x-www-form-urlencoded', origin: this.origin, 'sec-fetch-site': 'same-origin',
        ...(this.cookie ? { cookie: `ua_console=${this.cookie}` } : {}), ...headers,
      },
    }))
  }

  /** The CSRF token of the landing page (its forms carry it). */
  async csrf(): Promise<string> {
    const page = await this.get('/console')
    const match = /name="_csrf" value="([^"]+)"/.exec(page.body)
    if (!match) throw new Error(`no CSRF token on /console (${page.statusCode})`)
    return match[1]!
  }

  /** Opens an enrolment link and registers a passkey through it (signed in afterwards). */
  async enrol(url: string, name = 'Test passkey') {
    const path = new URL(url).pathname
    const started = await this.postJson(`${path}/options`, {})
    if (started.statusCode !== 200) return started
    const { flow, options } = started.json()
    return this.postJson(path, { flow, response: this.authenticator.register(options), name })
  }

  async signIn(o: { credential?: SoftAuthenticator['credentials'][number] } = {}) {
    const started = await this.postJson('/console/sign-in/options', {})
    if (started.statusCode !== 200) return started
    const { flow, options } = started.json()
    return this.postJson('/console/sign-in', { flow, response: this.authenticator.authenticate(options, o) })
  }
}

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

// ---- Forms of console pages, as a browser would submit them --------------------------------

const decodeEntities = (text: string) => text.replace(/&(amp|lt|gt|quot|#39);/g, (_m, e: string) =>
  ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e]!)

function attributesOf(source: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of source.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:="([^"]*)")?/g)) out[m[1]!.toLowerCase()] = decodeEntities(m[2] ?? '')
  return out
}

/**
 * The fields the form `formId` of a page would submit, in document order
 * (successful controls: text, hidden, checked boxes, selected options,
 * text areas; no submit buttons — add the one "clicked"). For the
 * console's own server-rendered markup, which quotes every attribute.
 */
export function formFields(page: string, formId: string): [string, string][] {
  const start = page.indexOf(`id="${formId}"`)
  if (start < 0) throw new Error(`no form #${formId} on the page`)
  const open = page.lastIndexOf('<form', start)
  const end = page.indexOf('</form>', start)
  const form = page.slice(open, end)
  const fields: [string, string][] = []
  let select: { name: string; chosen: string | null; first: string | null } | null = null
  const tags = /<(input|textarea|select|option|\/select)\b([^>]*)>/g
  for (let m = tags.exec(form); m; m = tags.exec(form)) {
    const [, tag, rest] = m
    const a = attributesOf(rest!)
    if (tag === 'input') {
      if (!a.name || a.disabled !== undefined) continue
      const type = (a.type ?? 'text').toLowerCase()
      if (['submit', 'button', 'image', 'reset'].includes(type)) continue
      if ((type === 'checkbox' || type === 'radio') && a.checked === undefined) continue
      fields.push([a.name, a.value ?? (type === 'checkbox' ? 'on' : '')])
    } else if (tag === 'textarea') {
      const close = form.indexOf('</textarea>', tags.lastIndex)
      // A newline right after <textarea> is not part of the value.
      if (a.name) fields.push([a.name, decodeEntities(form.slice(tags.lastIndex, close).replace(/^\r?\n/, ''))])
      tags.lastIndex = close
    } else if (tag === 'select') {
      select = { name: a.name ?? '', chosen: null, first: null }
    } else if (tag === 'option' && select) {
      const value = a.value ?? ''
      select.first ??= value
      if (a.selected !== undefined) select.chosen = value
    } else if (tag === '/select' && select) {
      if (select.name && (select.chosen ?? select.first) !== null) fields.push([select.name, (select.chosen ?? select.first)!])
      select = null
    }
  }
  return fields
}

/** Sets (replaces every value of) a field in a list of form fields. */
export function setField(fields: [string, string][], name: string, value: string | string[]): [string, string][] {
  const values = ([] as string[]).concat(value)
  const at = fields.findIndex(([n]) => n === name)
  const rest = fields.filter(([n]) => n !== name)
  rest.splice(at < 0 ? rest.length : at, 0, ...values.map((v) => [name, v] as [string, string]))
  return rest
}

/** Posts form fields (repeated names allowed) as the browser does from a console page. */
export async function submitFields(app: FastifyInstance, browser: ConsoleBrowser, url: string, fields: [string, string][], headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST', url, payload: new URLSearchParams(fields).toString(),
    headers: {
      'content-type': 'application/x-www-form-urlencoded', origin: browser.origin, 'sec-fetch-site': 'same-origin',
      ...(browser.cookie ? { cookie: `ua_console=${browser.cookie}` } : {}), ...headers,
    },
  })
}
