// Owns the typed errors that services throw; plugins/problem-details.ts turns
// them into RFC 9457 problem documents in one place.

export interface FieldError {
  /** JSON Pointer into the part named by `in` (e.g. `/peopleAtRisk/total`). */
  pointer: string
  in?: 'body' | 'query' | 'path' | 'header'
  message: string
}

export class AppError extends Error {
  constructor(
    readonly status: number,
    /** Stable slug; the problem `type` is `/problems/<slug>`. */
    readonly slug: string,
    readonly title: string,
    detail: string,
    readonly errors?: FieldError[],
    readonly headers?: Record<string, string>,
  ) {
    super(detail)
    this.name = 'AppError'
  }
}

export const badRequest = (detail: string, errors?: FieldError[]) =>
  new AppError(400, 'validation-error', 'Your request is not valid', detail, errors)

export const unauthorized = (detail: string) =>
  new AppError(401, 'unauthorized', 'Authentication required', detail, undefined, {
    'www-authenticate': 'Bearer realm="urgent-appeals"',
  })

export const forbidden = (detail: string) =>
  new AppError(403, 'forbidden', 'Not allowed for this key', detail)

export const notFound = (what: string) =>
  new AppError(404, 'not-found', 'Not found', `${what} does not exist or is not visible to you.`)

export const conflict = (detail: string, slug = 'conflict') =>
  new AppError(409, slug, 'Conflict with the current state', detail)

export const illegalTransition = (action: string, status: string) =>
  new AppError(409, 'illegal-transition', 'Action not allowed in this state',
    `Cannot ${action} an appeal whose status is '${status}'.`)

export const preconditionFailed = (current: number) =>
  new AppError(412, 'precondition-failed', 'The resource has changed',
    `If-Match does not match the current version (${current}); fetch it again and retry.`)

export const preconditionRequired = (detail = 'Changing a published appeal requires an If-Match header with its current ETag.') =>
  new AppError(428, 'precondition-required', 'If-Match required', detail)

export const unprocessable = (detail: string, errors?: FieldError[], slug = 'unprocessable') =>
  new AppError(422, slug, 'The request cannot be applied', detail, errors)
