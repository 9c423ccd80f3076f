// Owns writing a Feed (model.ts) as JSON Feed 1.1 (jsonfeed.org/version/1.1).
// Not with the `feed` package: its json1() writes version 1 (1.0), the
// singular `author` that 1.1 deprecates, and no `language`.
import type { Feed } from './model.js'

export const JSON_FEED_TYPE = 'application/feed+json; charset=utf-8'
const JSON_FEED_VERSION = 'https://jsonfeed.org/version/1.1'

export function renderJsonFeed(feed: Feed): string {
  return JSON.stringify({
    version: JSON_FEED_VERSION,
    title: feed.title,
    home_page_url: feed.homeUrl,
    feed_url: feed.selfUrl,
    ...(feed.subtitle ? { description: feed.subtitle } : {}),
    ...(feed.language ? { language: feed.language } : {}),
    authors: [{ name: feed.author.name, url: feed.author.uri }],
    items: feed.entries.map((e) => ({
      id: e.id,
      url: e.url,
      title: e.title,
      ...(e.summary ? { summary: e.summary } : {}),
      content_html: e.contentHtml ?? '',
      ...(e.published ? { date_published: e.published } : {}),
      date_modified: e.updated,
      ...(e.language ? { language: e.language } : {}),
      ...(e.categories && e.categories.length > 0 ? { tags: e.categories.map((c) => c.label ?? c.term) } : {}),
    })),
  })
}
