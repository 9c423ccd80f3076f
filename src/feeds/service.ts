// Owns answering the feeds (contract §8): which appeals a feed shows and
// in which language, the CAP message of one appeal and the index of the
// current ones, each rendered once into the bytes that routes/feeds.ts
// hands to the public-read cache with their Last-Modified. No Fastify here.
import type { Pool } from '../db/pool.js'
import { badRequest, notFound, type FieldError } from '../errors.js'
import { countryName, localeFor, t, themeLabel } from '../i18n/index.js'
import { canonicalLanguage, isCountry } from '../lib/codes.js'
import { findAppeal, listPublicByChange } from '../repositories/appeals.js'
import { capHistory, capIndex, lastPublicChange } from '../repositories/feeds.js'
import { toApi } from '../services/appeals.js'
import type { Urgency } from '../schemas/common.js'
import { appealEntries, appealPageUrl, capUrl } from './appeal-entries.js'
import { ATOM_TYPE, renderAtom } from './atom.js'
import { CAP_EVENT_TYPES, CAP_TYPE, MSG_TYPE, capTime, renderCapMessage, type CapSnapshot } from './cap.js'
import { JSON_FEED_TYPE, renderJsonFeed } from './json-feed.js'
import type { Feed, FeedEntry } from './model.js'

/** Appeals a feed looks at (the most recently changed), and entries it shows at most. */
const FEED_APPEALS = 50
const FEED_ENTRIES = 100
const CAP_INDEX_ENTRIES = 100

export type FeedFormat = 'atom' | 'json'

export interface FeedFilters {
  status?: 'published' | 'closed'
  country?: string
  theme?: string
  urgency?: Urgency
  /** Canonical BCP 47. */
  lang?: string
}

/** What a feed read renders: the bytes, their type, and the HTTP date of the last change they show. */
export interface RenderedFeed {
  body: string
  type: string
  lastModified?: string
}

/** The filters of the /appeals page, checked like the API's: a typo is a 400, not an empty feed. */
export function checkFeedFilters(q: FeedFilters): FeedFilters {
  const errors: FieldError[] = []
  const out: FeedFilters = {}
  if (q.status !== undefined) out.status = q.status
  if (q.country !== undefined) {
    if (isCountry(q.country)) out.country = q.country
    else errors.push({ pointer: '/country', in: 'query', message: `${q.country} is not an ISO 3166-1 country` })
  }
  if (q.theme !== undefined) out.theme = q.theme
  if (q.urgency !== undefined) out.urgency = q.urgency
  if (q.lang !== undefined) {
    const canonical = canonicalLanguage(q.lang)
    if (canonical) out.lang = canonical
    else errors.push({ pointer: '/lang', in: 'query', message: 'is not a known BCP 47 language' })
  }
  if (errors.length > 0) throw badRequest(`The query string has ${errors.length} invalid value${errors.length === 1 ? '' : 's'}.`, errors)
  return out
}

const httpDate = (iso: string | null) => (iso ? new Date(iso).toUTCString() : undefined)
const EPOCH = '1970-01-01T00:00:00.000Z'

/** `?country=CN&lang=fr` in a fixed order, for the feed's id and links. */
function queryOf(f: FeedFilters): string {
  const params = new URLSearchParams()
  for (const name of ['country', 'theme', 'urgency', 'status', 'lang'] as const) {
    const value = f[name]
    if (value !== undefined) params.set(name, value)
  }
  const query = params.toString()
  return query ? `?${query}` : ''
}

export class FeedService {
  constructor(private readonly pool: Pool, private readonly baseUrl: string) {}

  /** GET /feeds/appeals.atom and .json: `filters` already checked (checkFeedFilters). */
  async appeals(format: FeedFormat, filters: FeedFilters): Promise<RenderedFeed> {
    // Last-Modified first: a change committed between the two reads then
    // shows as newer than what was sent, never as already seen.
    const lastChange = await lastPublicChange(this.pool)
    const rows = await listPublicByChange(this.pool, filters, FEED_APPEALS)
    // Newest first; a follow-up or an outcome shares its instant with the
    // appeal's own change (one transaction): the news goes first.
    const entries = rows.flatMap((row) => appealEntries(toApi(row), { baseUrl: this.baseUrl, ...(filters.lang ? { lang: filters.lang } : {}) })
      .map((entry, i): [FeedEntry, number] => [entry, i === 0 ? 1 : 0]))
    entries.sort(([a, aIsAppeal], [b, bIsAppeal]) =>
      (a.updated < b.updated ? 1 : a.updated > b.updated ? -1 : aIsAppeal - bIsAppeal || (a.id < b.id ? -1 : 1)))
    const locale = localeFor(filters.lang)
    const about = [
      filters.country ? countryName(locale, filters.country) : '',
      filters.theme ? themeLabel(locale, filters.theme) : '',
      filters.urgency ? t(locale, `urgency.label.${filters.urgency}`) : '',
    ].filter(Boolean)
    const query = queryOf(filters)
    const feed: Feed = {
      id: `${this.baseUrl}/feeds/appeals.${format}${query}`,
      title: [t(locale, 'site.name'), ...about].join(' — '),
      subtitle: t(locale, 'site.footer'),
      selfUrl: `${this.baseUrl}/feeds/appeals.${format}${query}`,
      homeUrl: `${this.baseUrl}/appeals${query}`,
      ...(filters.lang ? { language: filters.lang } : {}),
      author: { name: t(locale, 'site.name'), uri: `${this.baseUrl}/` },
      updated: lastChange ?? EPOCH,
      entries: entries.slice(0, FEED_ENTRIES).map(([entry]) => entry),
    }
    const lastModified = httpDate(lastChange)
    return {
      body: format === 'atom' ? renderAtom(feed) : renderJsonFeed(feed),
      type: format === 'atom' ? ATOM_TYPE : JSON_FEED_TYPE,
      ...(lastModified ? { lastModified } : {}),
    }
  }

  /** GET /appeals/{id}/cap.xml: 404 for drafts (scheduled ones too) and unknown ids. */
  async capMessage(appealId: string): Promise<RenderedFeed> {
    const history = await capHistory(this.pool, appealId, CAP_EVENT_TYPES)
    if (!history || !history.wasPublished || history.status === 'draft' || history.messages.length === 0) throw notFound('This appeal')
    const withdrawn = history.status === 'withdrawn'
    let snapshot: CapSnapshot = history.snapshot
    if (!withdrawn && !snapshot.appeal) {
      // Every message event records the appeal; should one not, say what the appeal says now.
      const row = await findAppeal(this.pool, appealId, { kind: 'public' })
      if (!row) throw notFound('This appeal')
      snapshot = { ...snapshot, appeal: toApi(row) }
    }
    const lastModified = httpDate(history.updatedAt)
    return {
      body: renderCapMessage({ appealId, messages: history.messages, snapshot, withdrawn }, this.baseUrl),
      type: CAP_TYPE,
      ...(lastModified ? { lastModified } : {}),
    }
  }

  /**
   * GET /feeds/cap.atom: one entry per published or closed appeal, for its
   * current message, and per withdrawn one, for its Cancel. The entry's id names the message (the cap.xml URL and
   * the message identifier as fragment): a new message is a new entry, so
   * an aggregator that remembers entries it has fetched fetches again.
   */
  async capIndex(): Promise<RenderedFeed> {
    const lastChange = await lastPublicChange(this.pool)
    const rows = await capIndex(this.pool, CAP_EVENT_TYPES, CAP_INDEX_ENTRIES)
    const locale = localeFor('en')
    const feed: Feed = {
      id: `${this.baseUrl}/feeds/cap.atom`,
      title: `${t(locale, 'site.name')} — CAP 1.2`,
      selfUrl: `${this.baseUrl}/feeds/cap.atom`,
      homeUrl: `${this.baseUrl}/appeals`,
      author: { name: t(locale, 'site.name'), uri: `${this.baseUrl}/` },
      updated: lastChange ?? EPOCH,
      entries: rows.map((row) => {
        const url = capUrl(this.baseUrl, row.appealId)
        const msgType = row.withdrawn ? 'Cancel' : MSG_TYPE[row.latest.type]
        return {
          id: `${url}#${row.latest.identifier}`,
          // A withdrawn appeal: its Cancel, and not a word of the appeal.
          title: row.title ?? t(locale, 'pub.gone.title'),
          summary: `CAP ${msgType} ${row.latest.identifier}, sent ${capTime(row.latest.timestamp)}`,
          updated: new Date(row.latest.timestamp).toISOString(),
          published: new Date(row.first.timestamp).toISOString(),
          ...(row.language ? { language: row.language } : {}),
          url: appealPageUrl(this.baseUrl, row.appealId),
          links: [{ rel: 'alternate', type: 'application/cap+xml', href: url }],
          categories: [{ term: msgType, scheme: 'urn:oasis:names:tc:emergency:cap:1.2#msgType' }],
        }
      }),
    }
    const lastModified = httpDate(lastChange)
    return { body: renderAtom(feed), type: ATOM_TYPE, ...(lastModified ? { lastModified } : {}) }
  }
}
