// HTTP surface of the public site (contract §8): `/`, `/appeals`,
// `/appeals/{id}`, the hosted signup `GET`/`POST /subscribe`, and the copy
// button's script. Thin: AppealService.list/get decide what the public may
// read (drafts, embargoed and withdrawn appeals never), SubscriptionService
// subscribes (source `page`, the same rules and neutral answer as
// `POST /v1/subscriptions`), pages/public-pages.ts renders.
//
// Language: `?lang=` (one of ours), else Accept-Language. Every link a page
// carries names its language, so a page's bytes depend only on (page,
// language, query, and the UTC date where it counts days): that is its key
// in the public read cache (routes/public-read.ts), which drops every page
// when any appeal changes. Pages are answered with ETag (and, where they
// show appeals, Last-Modified), 304 and
// `Cache-Control: public, no-cache` (stored, but revalidated each time, so
// a withdrawal shows at once); 404/410 pages, form answers and the
// `?acted=1` thank-you are never stored.
//
// `POST /subscribe` takes a plain form from anywhere (an NGO's own site
// posts its copy here): it changes nothing but sends a double opt-in mail,
// so it carries no CSRF token; our CSP (`form-action 'self'`) governs our
// own pages only.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isUuid } from '../lib/codes.js'
import { Ajv } from 'ajv'
import type { Config } from '../config.js'
import type { Pool } from '../db/pool.js'
import { AppError, type FieldError } from '../errors.js'
import { localeFor, negotiateLocale, type Locale } from '../i18n/index.js'
import { offeredThemes } from '../pages/fields.js'
import { COPY_SCRIPT, COPY_SCRIPT_PATH } from '../pages/copy-button.js'
import {
  appealPage, gonePage, homePage, indexPage, notFoundPage, subscribePage, subscribeSentPage, tooManyPage,
  INDEX_FILTERS, SIGNUP_FIELDS, type IndexFilter, type IndexFilters, type SignupField, type SignupValues, type Site,
} from '../pages/public-pages.js'
import { actionsTaken } from '../repositories/actions.js'
import { wasWithdrawnFromPublic } from '../repositories/appeals.js'
import { lastPublicChange } from '../repositories/feeds.js'
import { knownThemes } from '../repositories/subscriptions.js'
import { ListAppealsQuery, type Appeal } from '../schemas/appeal.js'
import { SubscribeSchema, type Subscribe } from '../schemas/subscription.js'
import { AppealService } from '../services/appeals.js'
import type { PublicReadCache } from '../services/public-read-cache.js'
import type { SubscriptionService } from '../services/subscriptions.js'
import { acceptForms } from './forms.js'
import { sendPublicRead } from './public-read.js'

export interface PublicPagesOptions {
  config: Readonly<Config>
  pool: Pool
  subscriptions: SubscriptionService
  readCache: PublicReadCache | null
}

const HTML = 'text/html; charset=utf-8'
/** Stored by browsers and proxies, revalidated on every use (a 304 when unchanged). */
const PAGE_CACHE_CONTROL = 'public, no-cache'
const FORM_BODY_LIMIT = 64 * 1024
/** Pages of published appeals the home page reads to sort by deadline (100 each). */
const HOME_PAGES = 10
const INDEX_PAGE_SIZE = 20

type Query = Record<string, string | string[] | undefined>
const first = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value)
const all = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : value === undefined || value === null ? [] : [String(value)])

/** `fr`, `fr-CA`, `zh-Hans`, `zh-CN` → one of our catalogues; anything else → null. */
function ourLocale(tag: string | undefined): Locale | null {
  if (!tag || tag.length > 35) return null
  const primary = tag.split('-')[0]!.toLowerCase()
  return ['en', 'fr', 'es', 'ko', 'zh'].includes(primary) ? localeFor(tag) : null
}

/** Today as YYYY-MM-DD (UTC), and 00:00 of it as an HTTP date. */
function utcToday(): { date: string; midnight: string } {
  const date = new Date().toISOString().slice(0, 10)
  return { date, midnight: new Date(`${date}T00:00:00Z`).toUTCString() }
}

const httpDate = (iso: string) => new Date(iso).toUTCString()

/**
 * Last-Modified of a page that lists appeals: the last change to any
 * appeal that was ever public (read before the list, so a change committed
 * in between shows as newer than what was sent), but never before today's
 * midnight, when every "days left" moved.
 */
async function listedSince(pool: Pool, midnight: string): Promise<string> {
  const change = await lastPublicChange(pool)
  return change !== null && Date.parse(change) > Date.parse(midnight) ? httpDate(change) : midnight
}

/** Ajv's pointers (`/countries/3`) → the form's fields. */
function fieldsOf<F extends string>(errors: readonly { pointer: string }[], known: readonly F[]): F[] {
  const fields = new Set<F>()
  for (const e of errors) {
    const name = e.pointer.split('/')[1] as F
    if (known.includes(name)) fields.add(name)
  }
  return [...fields]
}

export async function publicPageRoutes(app: FastifyInstance, opts: PublicPagesOptions) {
  const { config, pool, subscriptions } = opts
  const cache = opts.readCache
  const appeals = new AppealService(pool)
  const baseUrl = config.publicBaseUrl
  const basePath = new URL(baseUrl).pathname.replace(/\/+$/, '')
  // The API's own schemas decide what a value may be: the same rule as the JSON routes.
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false }) // no field a page sends has a format
  const checkListQuery = ajv.compile(ListAppealsQuery)
  const checkSubscribe = ajv.compile(SubscribeSchema)

  // A browser's form post; the fields arrive as lists (`countries=CN&countries=KP`).
  acceptForms(app, FORM_BODY_LIMIT)

  const localeOf = (request: FastifyRequest): Locale =>
    ourLocale(first((request.query as Query).lang)) ?? negotiateLocale(request.headers['accept-language'])
  const siteFor = (locale: Locale, today: string): Site => ({ locale, baseUrl, basePath, today })

  /** The headers of every page: the language, and that it may differ by Accept-Language. */
  const pageHeaders = (reply: FastifyReply, locale: Locale) =>
    reply.header('vary', 'Accept-Language').header('content-language', locale)

  /** A page that is never stored: an error, the answer to a form, the thank-you. */
  const uncached = (reply: FastifyReply, locale: Locale, status: number, page: string) =>
    pageHeaders(reply, locale).code(status).header('cache-control', 'no-store').type(HTML).send(page)

  // Rate-limited requests (429) on these routes get a page, not a problem document.
  app.setErrorHandler((error, request, reply) => {
    if (error instanceof AppError && error.status === 429) {
      if (error.headers) void reply.headers(error.headers)
      const locale = localeOf(request)
      return uncached(reply, locale, 429, tooManyPage(siteFor(locale, utcToday().date), request.url.split('?')[0]!.slice(basePath.length) || '/'))
    }
    throw error // everything else: the problem documents of plugins/problem-details.ts
  })

  app.get(COPY_SCRIPT_PATH, { schema: { hide: true } }, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=31536000, immutable').type('text/javascript; charset=utf-8').send(COPY_SCRIPT))

  // ---- GET / -------------------------------------------------------------------

  /** Every published appeal (up to HOME_PAGES × 100), through the public list and its visibility rule. */
  const openAppeals = async (): Promise<Appeal[]> => {
    const open: Appeal[] = []
    let cursor: string | undefined
    for (let page = 0; page < HOME_PAGES; page++) {
      const result = await appeals.list(null, { status: 'published', limit: 100, ...(cursor ? { cursor } : {}) })
      open.push(...result.items)
      if (!result.nextCursor) break
      cursor = result.nextCursor
    }
    return open
  }

  app.get('/', { schema: { hide: true } }, async (request, reply) => {
    const locale = localeOf(request)
    const { date, midnight } = utcToday()
    pageHeaders(reply, locale)
    return sendPublicRead(request, reply, cache, `page home ${locale} ${date}`, async () => {
      const lastModified = await listedSince(pool, midnight)
      return { body: homePage(siteFor(locale, date), await openAppeals()), type: HTML, lastModified }
    }, { conditional: true, cacheControl: PAGE_CACHE_CONTROL })
  })

  // ---- GET /appeals -----------------------------------------------------------------

  app.get('/appeals', { schema: { hide: true } }, async (request, reply) => {
    const query = request.query as Query
    const locale = localeOf(request)
    const { date, midnight } = utcToday()
    const site = siteFor(locale, date)
    const filters: IndexFilters = {}
    for (const name of [...INDEX_FILTERS, 'cursor'] as const) {
      const value = first(query[name])
      if (value) filters[name] = value
    }
    const themes = async () => offeredThemes(await knownThemes(pool))
    const invalidPage = async (invalid: IndexFilter[], cursor: boolean) => {
      const { cursor: _dropped, ...kept } = filters
      return uncached(reply, locale, 400, indexPage(site, {
        filters: cursor ? kept : filters, items: null, nextCursor: null, invalid, badCursor: cursor, themes: await themes(),
      }))
    }
    // The API's rules (ListAppealsQuery), and one of ours: the public only sees published and closed appeals.
    const invalid: IndexFilter[] = checkListQuery(filters) ? [] : fieldsOf(
      (checkListQuery.errors ?? []).map((e) => ({ pointer: e.instancePath })), INDEX_FILTERS)
    if (filters.status && !['published', 'closed'].includes(filters.status) && !invalid.includes('status')) invalid.push('status')
    if (invalid.length > 0) return invalidPage(invalid, false)

    const key = `page appeals ${locale} ${date} ${JSON.stringify([filters.country, filters.theme, filters.urgency, filters.status, filters.cursor])}`
    pageHeaders(reply, locale)
    try {
      return await sendPublicRead(request, reply, cache, key, async () => {
        const lastModified = await listedSince(pool, midnight)
        const [page, offered] = await Promise.all([
          // Checked above against ListAppealsQuery: the values are of its types.
          appeals.list(null, { ...(filters as ListAppealsQuery), limit: INDEX_PAGE_SIZE }),
          themes(),
        ])
        return { body: indexPage(site, { filters, items: page.items, nextCursor: page.nextCursor, themes: offered }), type: HTML, lastModified }
      }, { conditional: true, cacheControl: PAGE_CACHE_CONTROL })
    } catch (error) {
      // The service's own checks: a country not in ISO 3166-1, a cursor it did not issue.
      if (error instanceof AppError && error.status === 400) {
        const pointers: FieldError[] = error.errors ?? []
        return invalidPage(fieldsOf(pointers, INDEX_FILTERS), pointers.some((e) => e.pointer === '/cursor'))
      }
      throw error
    }
  })

  // ---- GET /appeals/{id} ----------------------------------------------------------------

  app.get('/appeals/:id', { schema: { hide: true } }, async (request, reply) => {
    const { id } = request.params as { id: string }
    const query = request.query as Query
    const locale = localeOf(request)
    const { date, midnight } = utcToday()
    const site = siteFor(locale, date)
    const path = `/appeals/${encodeURIComponent(id)}`
    const missing = async (error: unknown) => {
      if (!(error instanceof AppError && error.status === 404)) throw error
      // Nothing of the appeal is read for either page: only whether it was withdrawn after being public.
      return await wasWithdrawnFromPublic(pool, id)
        ? uncached(reply, locale, 410, gonePage(site, path))
        : uncached(reply, locale, 404, notFoundPage(site, path))
    }
    if (!isUuid(id)) return uncached(reply, locale, 404, notFoundPage(site, path))

    if (first(query.acted) === '1') {
      // Back from "I took action": the thanks and the count, never stored.
      try {
        const [appeal, count] = await Promise.all([appeals.get(null, id), actionsTaken(pool, id)])
        return uncached(reply, locale, 200, appealPage(site, { appeal, acted: true, actionsTaken: Number(count) }))
      } catch (error) { return missing(error) }
    }

    pageHeaders(reply, locale)
    try {
      return await sendPublicRead(request, reply, cache, `page appeal ${id} ${locale} ${date}`, async () => {
        const appeal = await appeals.get(null, id)
        // "Days left" changes at midnight UTC: the page is no older than today.
        const lastModified = Date.parse(appeal.updatedAt) > Date.parse(midnight) ? httpDate(appeal.updatedAt) : midnight
        return { body: appealPage(site, { appeal }), type: HTML, lastModified }
      }, { conditional: true, cacheControl: PAGE_CACHE_CONTROL })
    } catch (error) { return missing(error) }
  })

  // ---- GET and POST /subscribe -------------------------------------------------------------

  app.get('/subscribe', { schema: { hide: true } }, async (request, reply) => {
    const locale = localeOf(request)
    pageHeaders(reply, locale)
    return sendPublicRead(request, reply, cache, `page subscribe ${locale}`, async () => ({
      body: subscribePage(siteFor(locale, utcToday().date), { themes: offeredThemes(await knownThemes(pool)) }), type: HTML,
    }), { conditional: true, cacheControl: PAGE_CACHE_CONTROL })
  })

  app.post('/subscribe', { schema: { hide: true } }, async (request, reply) => {
    const form = (request.body && typeof request.body === 'object' ? request.body : {}) as Record<string, unknown>
    const field = (name: string) => all(form[name])[0]?.trim() ?? ''
    // The answer's language: the page's `?lang=`, else the language chosen for the alerts, else the browser's.
    const locale = ourLocale(first((request.query as Query).lang)) ?? ourLocale(field('language'))
      ?? negotiateLocale(request.headers['accept-language'])
    const site = siteFor(locale, utcToday().date)
    const values: SignupValues = {
      email: field('email'), language: field('language') || locale,
      countries: all(form.countries), themes: all(form.themes), minUrgency: field('minUrgency') || 'normal',
    }
    const input: Subscribe = {
      email: values.email, language: values.language, countries: [...values.countries], themes: [...values.themes],
      minUrgency: values.minUrgency as Subscribe['minUrgency'],
    }
    const again = async (invalid: SignupField[]) =>
      uncached(reply, locale, 400, subscribePage(site, { themes: offeredThemes(await knownThemes(pool)), values, invalid }))

    if (!checkSubscribe(input)) {
      return again(fieldsOf((checkSubscribe.errors ?? []).map((e) => ({ pointer: e.instancePath || `/${String(e.params.missingProperty ?? '')}` })), SIGNUP_FIELDS))
    }
    try {
      await subscriptions.subscribe(input, { source: 'page', defaultLanguage: locale })
    } catch (error) {
      if (error instanceof AppError && error.status === 400) return again(fieldsOf(error.errors ?? [], SIGNUP_FIELDS))
      throw error
    }
    return uncached(reply, locale, 200, subscribeSentPage(site))
  })
}

