// Owns writing a Feed (model.ts) as Atom 1.0 (RFC 4287). Written by hand
// with xml.ts rather than with the `feed` package: its atom1() has no
// xml:lang (feed or entry), no link types or hreflang, and types every
// title as HTML in CDATA (a title "A < B" would be markup to a reader).
import type { Feed, FeedEntry, FeedLink } from './model.js'
import { attrs, element } from './xml.js'

export const ATOM_TYPE = 'application/atom+xml; charset=utf-8'

const link = (l: FeedLink) => `<link${attrs({ rel: l.rel, type: l.type, hreflang: l.hreflang, href: l.href })}/>`

function entry(e: FeedEntry): string {
  return [
    `<entry${attrs({ 'xml:lang': e.language })}>`,
    element('id', e.id),
    element('title', e.title, ' type="text"'),
    element('updated', e.updated),
    element('published', e.published),
    link({ rel: 'alternate', type: 'text/html', href: e.url }),
    ...(e.links ?? []).map(link),
    ...(e.categories ?? []).map((c) => `<category${attrs({ term: c.term, scheme: c.scheme, label: c.label })}/>`),
    element('summary', e.summary, ' type="text"'),
    element('content', e.contentHtml, ' type="html"'),
    '</entry>',
  ].filter(Boolean).join('\n')
}

export function renderAtom(feed: Feed): string {
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    `<feed xmlns="http://www.w3.org/2005/Atom"${attrs({ 'xml:lang': feed.language })}>`,
    element('id', feed.id),
    element('title', feed.title, ' type="text"'),
    element('subtitle', feed.subtitle, ' type="text"'),
    element('updated', feed.updated),
    `<author>${element('name', feed.author.name)}${element('uri', feed.author.uri)}</author>`,
    link({ rel: 'self', type: 'application/atom+xml', href: feed.selfUrl }),
    link({ rel: 'alternate', type: 'text/html', href: feed.homeUrl }),
    ...feed.entries.map(entry),
    '</feed>',
  ].filter(Boolean).join('\n') + '\n'
}
