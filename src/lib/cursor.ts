// Owns the opaque list cursors: every list is keyset-paginated on an
// immutable bigint (`seq`, `position`, `id`), never OFFSET.
import { badRequest } from '../errors.js'

function encodeCursor(key: number): string {
  return Buffer.from(`k:${key}`).toString('base64url')
}

/** Decodes `?cursor=`; a forged or foreign cursor is a 400 naming the parameter. */
export function decodeCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined
  const match = /^k:(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))
  if (!match) {
    throw badRequest('The cursor is not one this API issued.', [{ pointer: '/cursor', in: 'query', message: 'is not a valid cursor' }])
  }
  return Number(match[1])
}

/** Fetch `limit + 1` rows; the extra one only says whether there is a next page. */
export function toPage<T>(rows: T[], limit: number, keyOf: (row: T) => number): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit)
  const last = items[items.length - 1]
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null }
}
