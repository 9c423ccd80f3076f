// HTTP surface of the feeds (contract §8): Atom and JSON Feed of public
// appeals, each appeal as a CAP 1.2 message, and the Atom index of the
// current CAP messages. Thin: the query is checked here, feeds/service.ts
// renders, and every answer goes through the public-read cache
// (routes/public-read.ts) with ETag, Last-Modified and 304.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { canonicalJson } from '../lib/canonical-json.js'
import { CountryCode, IdParams, LanguageTag, StringEnum, ThemeSlug, Urgency } from '../schemas/common.js'
import type { PublicReadCache } from '../services/public-read-cache.js'
import { checkFeedFilters, type FeedFormat, type FeedService } from '../feeds/service.js'
import { sendPublicRead } from './public-read.js'

/**
 * Shared caches may keep a copy but must ask again every time (a cheap 304
 * from our in-process cache): a withdrawn appeal must leave every copy of
 * a feed at once, not when a max-age runs out.
 */
export const FEED_CACHE_CONTROL = 'public, no-cache'

/**
 * The /appeals page's filters, plus `lang`. Other parameters (a reader's
 * `utm_…`) are ignored, and never part of the cache key.
 */
const FeedQuery = Type.Object({
  country: Type.Optional({ ...CountryCode, description: 'ISO 3166-1 alpha-2; appeals about that country' }),
  theme: Type.Optional(ThemeSlug),
  urgency: Type.Optional(Urgency),
  status: Type.Optional(StringEnum(['published', 'closed'])),
  lang: Type.Optional({ ...LanguageTag, description: 'BCP 47: each appeal in that translation when it has one' }),
})

export async function feedRoutes(fastify: FastifyInstance, opts: { feeds: FeedService; readCache: PublicReadCache | null }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { feeds, readCache: cache } = opts
  const options = { conditional: true, cacheControl: FEED_CACHE_CONTROL }

  for (const format of ['atom', 'json'] as FeedFormat[]) {
    app.get(`/feeds/appeals.${format}`, { schema: { hide: true, querystring: FeedQuery } }, async (request, reply) => {
      const filters = checkFeedFilters(request.query)
      return sendPublicRead(request, reply, cache, `feed:appeals.${format} ${canonicalJson(filters)}`,
        () => feeds.appeals(format, filters), options)
    })
  }

  app.get('/feeds/cap.atom', { schema: { hide: true } }, async (request, reply) =>
    sendPublicRead(request, reply, cache, 'feed:cap.atom', () => feeds.capIndex(), options))

  app.get('/appeals/:id/cap.xml', { schema: { hide: true, params: IdParams } }, async (request, reply) =>
    sendPublicRead(request, reply, cache, `feed:cap ${request.params.id}`, () => feeds.capMessage(request.params.id), options))
}
