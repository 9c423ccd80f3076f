// Shared schema primitives. A schema with a `title` becomes a named
// component in the generated OpenAPI document (plugins/openapi.ts).
import { Type, type Static, type TSchema } from 'typebox'

export const Uuid = Type.String({ format: 'uuid', description: 'UUID' })
export const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601 UTC timestamp' })
export const DateOnly = Type.String({ format: 'date', description: 'ISO 8601 date' })
export const LanguageTag = Type.String({
  pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$', maxLength: 35,
  description: 'BCP 47 language tag, e.g. `en`, `ko`, `zh-Hans`', examples: ['en'],
})
export const CountryCode = Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2', examples: ['CN'] })
export const SubdivisionCode = Type.String({ pattern: '^[A-Z]{2}-[A-Z0-9]{1,3}$', description: 'ISO 3166-2', examples: ['CN-LN'] })
export const ThemeSlug = Type.String({ pattern: '^[a-z0-9-]{2,40}$', examples: ['refoulement'] })
/** A string enum: `{ type: 'string', enum: [...] }` in the schema, a literal union in TypeScript. */
export function StringEnum<const T extends readonly string[]>(values: T, options: Record<string, unknown> = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options })
}

export const URGENCIES = ['critical', 'high', 'normal'] as const
export const Urgency = StringEnum(URGENCIES, { title: 'Urgency', description: 'How fast supporters and partners must act' })
export type Urgency = Static<typeof Urgency>

/**
 * What every free-text value must be to be stored: no U+0000 (Postgres text
 * and jsonb refuse it: a 500 otherwise) and no unpaired UTF-16 surrogate
 * (jsonb refuses `"\ud800"`; text would turn it into U+FFFD unasked). Ajv
 * compiles patterns with the `u` flag, so a well-formed pair (an emoji) is
 * one code point and passes. The error message is in problem-details.ts.
 */
export const STORABLE_TEXT_PATTERN = '^[^\\u0000\\uD800-\\uDFFF]*$'
export const STORABLE_TEXT_MESSAGE = 'must not contain U+0000 (NUL) or an unpaired UTF-16 surrogate'

/**
 * Free text of a request (body, query or path): bounded and storable. Every
 * free string a request carries is one of these, or is constrained by an
 * enum, a format or an anchored pattern instead (test/text-guard.test.ts walks
 * every operation and fails otherwise).
 */
export const Text = (maxLength: number, minLength = 0, extra: Record<string, unknown> = {}) =>
  Type.String({ minLength, maxLength, pattern: STORABLE_TEXT_PATTERN, ...extra })

export const FieldErrorSchema = Type.Object({
  pointer: Type.String({ description: 'JSON Pointer to the offending value' }),
  in: Type.Optional(StringEnum(['body', 'query', 'path', 'header'])),
  message: Type.String(),
}, { title: 'FieldError' })

export const ProblemSchema = Type.Object({
  type: Type.String({ description: 'URI reference naming the problem type, e.g. `/problems/not-found`' }),
  title: Type.String(),
  status: Type.Integer({ minimum: 400, maximum: 599 }),
  detail: Type.String(),
  instance: Type.Optional(Type.String()),
  errors: Type.Optional(Type.Array(FieldErrorSchema)),
}, { title: 'Problem', description: 'RFC 9457 problem details', additionalProperties: true })
export type Problem = Static<typeof ProblemSchema>

/** The error responses an operation can produce, for its OpenAPI description. */
export function problems(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {}
  for (const status of statuses) out[status] = ProblemSchema
  return out
}

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'page size' })),
  cursor: Type.Optional(Text(200, 0, { description: 'opaque cursor from `nextCursor`' })),
}

export function Page<T extends TSchema>(item: T, title: string) {
  return Type.Object({
    items: Type.Array(item),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'pass as `cursor` for the next page; null on the last' }),
  }, { title })
}

export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false })
