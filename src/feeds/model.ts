// Owns the format-neutral shape of a feed: what appeals.atom, appeals.json
// and cap.atom say, before atom.ts or json-feed.ts writes it down.

export interface FeedLink {
  href: string
  rel: 'alternate' | 'related' | 'self'
  type?: string
  hreflang?: string
}

export interface FeedEntry {
  /** A permanent IRI (`urn:uuid:…`); never the page URL, which follows PUBLIC_BASE_URL. */
  id: string
  title: string
  /** Plain text, one line: what a reader's list shows. */
  summary?: string
  /** Sanitised HTML (markdown.ts), or built with the escaping `html` template. */
  contentHtml?: string
  /** ISO 8601 instants. */
  updated: string
  published?: string
  /** BCP 47: the language of title, summary and content. */
  language?: string
  /** The entry's web page (alternate, text/html). */
  url: string
  links?: FeedLink[]
  categories?: { term: string; label?: string; scheme?: string }[]
}

export interface Feed {
  /** A permanent IRI of this feed (its canonical URL, filters included). */
  id: string
  title: string
  subtitle?: string
  /** The feed's own URL (rel=self) and its HTML page (rel=alternate). */
  selfUrl: string
  homeUrl: string
  language?: string
  author: { name: string; uri: string }
  /** ISO 8601; the newest entry's, or the given instant for an empty feed. */
  updated: string
  entries: FeedEntry[]
}
