// Owns reading HTML form posts (application/x-www-form-urlencoded) for the
// routes that take them — the supporters' pages, the public site, the
// console: the fields as lists (`countries=CN&countries=KP`), a scope's
// parser with its own body limit, and a field's first value.
import type { FastifyInstance } from 'fastify'

/** A parsed form: every field as the list of its values. */
export type PostedForm = Record<string, string[] | undefined>

/** `a=1&b=2&b=3` → `{ a: ['1'], b: ['2', '3'] }`. */
export function parseForm(body: string): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const [key, value] of new URLSearchParams(body)) (out[key] ??= []).push(value)
  return out
}

/**
 * Parses form posts in `scope` (and what it registers) up to `bodyLimit`
 * bytes; `replace` swaps the parser a parent scope set (a console area
 * whose forms are bigger than the console's own).
 */
export function acceptForms(scope: FastifyInstance, bodyLimit: number, o: { replace?: boolean } = {}): void {
  if (o.replace) scope.removeContentTypeParser('application/x-www-form-urlencoded')
  scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit },
    (_request, body, done) => done(null, parseForm(body as string)))
}

/** A field's first value ('' when absent): what a text input or a select sends. */
export const formValue = (form: unknown, name: string): string => ((form as PostedForm | undefined)?.[name]?.[0] ?? '')
