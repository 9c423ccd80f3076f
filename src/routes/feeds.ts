// HTTP surface of the feeds (contract §8): Atom and JSON Feed of public
// appeals, each appeal as a CAP 1.2 message, and the Atom index of the
// current CAP messages. Thin: the query is checked here, feeds/service.ts
// renders, and every answer goes through the public-read cache
// (routes/public-read.ts) with ETag, Last-Modified and 304.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type, type TSchema } from 'typebox'
import { canonicalJson } from '../lib/canonical-json.js'
import { CountryCode, IdParams, LanguageTag, StringEnum, ThemeSlug, Urgency, problems } from '../schemas/common.js'
import type { PublicReadCache } from '../services/public-read-cache.js'
import { checkFeedFilters, type FeedFormat, type FeedService } from '../feeds/service.js'
import { sendPublicRead } from './public-read.js'

/**
 * Shared caches may keep a copy but must ask again every time (a cheap 304
 * from our in-process cache): a withdrawn appeal must leave every copy of
 * a feed at once, not when a max-age runs out.
 */
const FEED_CACHE_CONTROL = 'public, no-cache'

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

/** A feed's 200 in the OpenAPI document: its media type, and the 304 of a conditional GET. */
const served = (mediaType: string, description: string, schema: TSchema = Type.String()) => ({
  200: { description, content: { [mediaType]: { schema } } },
  304: Type.Null({ description: 'Not Modified: the `If-None-Match` ETag (or `If-Modified-Since` date) is still current' }),
})

/** JSON Feed 1.1 (jsonfeed.org), in outline: what a reader relies on. */
const JsonFeedSchema = Type.Object({
  version: Type.Literal('https://jsonfeed.org/version/1.1'),
  title: Type.String(),
  home_page_url: Type.String(),
  feed_url: Type.String(),
  language: Type.Optional(Type.String()),
  items: Type.Array(Type.Object({
    id: Type.String(), url: Type.String(), title: Type.String(), content_html: Type.String(),
    date_modified: Type.String(), language: Type.Optional(Type.String()),
  }, { additionalProperties: true })),
}, { title: 'JsonFeed', additionalProperties: true })

const CONDITIONAL = ' Answers `ETag` and `Last-Modified`, and 304 to a conditional request; `Cache-Control: public, no-cache` (kept, but revalidated on every use: a withdrawn appeal leaves every copy at once).'

export async function feedRoutes(fastify: FastifyInstance, opts: { feeds: FeedService; readCache: PublicReadCache | null }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { feeds, readCache: cache } = opts
  const options = { conditional: true, cacheControl: FEED_CACHE_CONTROL }
  const appealsFeed = {
    atom: { operationId: 'appealsAtomFeed', summary: 'Public appeals as an Atom 1.0 feed (RFC 4287)', response: served('application/atom+xml', 'Atom 1.0') },
    json: { operationId: 'appealsJsonFeed', summary: 'Public appeals as JSON Feed 1.1', response: served('application/feed+json', 'JSON Feed 1.1', JsonFeedSchema) },
  } as const

  for (const format of ['atom', 'json'] as FeedFormat[]) {
    const doc = appealsFeed[format]
    app.get(`/feeds/appeals.${format}`, {
      schema: {
        operationId: doc.operationId, summary: doc.summary, tags: ['feeds'], security: [],
        description: 'Published and closed appeals, the most recently changed first (50 appeals); each appeal\'s follow-ups and outcome are entries of their own. '
          + 'The filters of the `/appeals` page, plus `lang` (each appeal in that translation when it has one). Drafts, embargoed and withdrawn appeals never appear.' + CONDITIONAL,
        querystring: FeedQuery,
        response: { ...doc.response, ...problems(400) },
      },
    }, async (request, reply) => {
      const filters = checkFeedFilters(request.query)
      return sendPublicRead(request, reply, cache, `feed:appeals.${format} ${canonicalJson(filters)}`,
        () => feeds.appeals(format, filters), options)
    })
  }

  app.get('/feeds/cap.atom', {
    schema: {
      operationId: 'capIndexFeed', summary: 'Atom index of the current CAP 1.2 messages', tags: ['feeds'], security: [],
      description: 'One entry per public appeal (and per withdrawn one, whose Cancel carries no content), each linking to its `cap.xml`.' + CONDITIONAL,
      response: { ...served('application/atom+xml', 'Atom 1.0 index of CAP messages') },
    },
  }, async (request, reply) =>
    sendPublicRead(request, reply, cache, 'feed:cap.atom', () => feeds.capIndex(), options))

  app.get('/appeals/:id/cap.xml', {
    schema: {
      operationId: 'appealCapMessage', summary: 'The appeal as an OASIS CAP 1.2 message', tags: ['feeds'], security: [],
      description: 'The appeal\'s current message: `Alert` when published, `Update` for each follow-up or change, `Cancel` when closed or withdrawn '
        + '(withdrawn: no `info`, only the references), with `references` to every earlier message and one `info` per language. '
        + 'How urgency, severity, certainty and area are mapped: README, "CAP 1.2". Drafts, embargoed and unknown appeals are 404.' + CONDITIONAL,
      params: IdParams,
      response: { ...served('application/cap+xml', 'CAP 1.2 alert message'), ...problems(400, 404) },
    },
  }, async (request, reply) =>
    sendPublicRead(request, reply, cache, `feed:cap ${request.params.id}`, () => feeds.capMessage(request.params.id), options))
}
