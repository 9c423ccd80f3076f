// Owns answering a public read from the in-process cache
// (services/public-read-cache.ts): the public JSON reads, the public pages
// and the feeds share one discipline — what is served was rendered after
// the last change to any appeal that this process has heard of, and a read
// that raced a change never stores the old version. On top, for pages and
// feeds: a strong ETag of the bytes (or the caller's), Last-Modified,
// conditional GET answered with 304, and a Cache-Control.
import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { CachedRead, PublicReadCache } from '../services/public-read-cache.js'

/** What a public read renders: the exact bytes, and what describes them. */
export interface Representation {
  body: string
  /** Content-Type; JSON when absent (sent as Fastify would, without serialising again). */
  type?: string
  /** The ETag to send; with `conditional`, one is made from the bytes when absent. */
  etag?: string
  /** When what the body shows last changed (HTTP date). */
  lastModified?: string
}

export interface PublicReadOptions {
  /** Answer If-None-Match / If-Modified-Since with 304, and send a content ETag. */
  conditional?: boolean
  cacheControl?: string
}

const JSON_TYPE = 'application/json; charset=utf-8'

/** A strong validator of exact bytes: 128 bits of SHA-256, quoted. */
const contentEtag = (body: string) => `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`

function notModified(request: FastifyRequest, r: Representation & { etag: string }): boolean {
  const inm = request.headers['if-none-match']
  if (inm !== undefined) return inm.split(',').some((tag) => tag.trim() === '*' || tag.trim().replace(/^W\//, '') === r.etag)
  const ims = request.headers['if-modified-since']
  if (ims === undefined || r.lastModified === undefined) return false
  const since = Date.parse(ims)
  return !Number.isNaN(since) && Date.parse(r.lastModified) <= since
}

/**
 * Sends the cached representation under `key`, or loads, stores and sends
 * it. `load` must not depend on the caller beyond what `key` names (a
 * staff read must not come here). Only a `load` that returns a
 * representation is cached; one that throws (404, 410…) goes to the error
 * handler or the caller's own catch.
 */
export async function sendPublicRead(
  request: FastifyRequest, reply: FastifyReply, cache: PublicReadCache | null, key: string,
  load: () => Promise<Representation>, options: PublicReadOptions = {},
): Promise<FastifyReply> {
  let hit: CachedRead | undefined = cache?.get(key)
  if (hit === undefined) {
    const token = cache?.begin() ?? null // before the query: a change committed meanwhile keeps the result out
    const loaded = await load()
    const etag = loaded.etag ?? (options.conditional ? contentEtag(loaded.body) : undefined)
    hit = { ...loaded, ...(etag === undefined ? {} : { etag }) }
    cache?.set(key, token, hit)
  }
  return send(request, reply, hit, options)
}

/**
 * sendPublicRead's cache hit, without a promise: sends the representation
 * cached under `key` and returns true, or returns false (then call
 * sendPublicRead). For a route whose reads are mostly hits.
 */
export function sendCachedRead(
  request: FastifyRequest, reply: FastifyReply, cache: PublicReadCache, key: string, options: PublicReadOptions = {},
): boolean {
  const hit = cache.get(key)
  if (hit === undefined) return false
  let bytes = encoded.get(hit)
  if (bytes === undefined) encoded.set(hit, bytes = Buffer.from(hit.body))
  void send(request, reply, hit, options, bytes)
  return true
}

/**
 * The UTF-8 bytes of the entries sendCachedRead sends, made on their first
 * hit and gone with the entry: a string body is measured and encoded again
 * for every response, these bytes are written as they are.
 */
const encoded = new WeakMap<CachedRead, Buffer>()

function send(request: FastifyRequest, reply: FastifyReply, hit: CachedRead, options: PublicReadOptions, bytes?: Buffer): FastifyReply {
  if (options.cacheControl) void reply.header('cache-control', options.cacheControl)
  if (hit.lastModified !== undefined) void reply.header('last-modified', hit.lastModified)
  if (hit.etag !== undefined) {
    void reply.header('etag', hit.etag)
    if (options.conditional && notModified(request, hit as Representation & { etag: string })) return reply.code(304).send()
  }
  return reply.type(hit.type ?? JSON_TYPE).send(bytes ?? hit.body)
}
