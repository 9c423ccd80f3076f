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

/** Short free text: trimmed by nobody, so bounds are the only guard. */
export const Text = (maxLength: number, minLength = 0, extra: Record<string, unknown> = {}) =>
  Type.String({ minLength, maxLength, ...extra })

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
  cursor: Type.Optional(Type.String({ maxLength: 200, description: 'opaque cursor from `nextCursor`' })),
}

export function Page<T extends TSchema>(item: T, title: string) {
  return Type.Object({
    items: Type.Array(item),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'pass as `cursor` for the next page; null on the last' }),
  }, { title })
}

export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false })
