// Owns how every failure leaves the API: RFC 9457 problem documents, one
// error handler, schema validation without silent coercion or stripping.
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { Ajv, type Options as AjvOptions } from 'ajv'
import * as ajvFormats from 'ajv-formats'
import { AppError, type FieldError } from '../errors.js'
import { STORABLE_TEXT_MESSAGE, STORABLE_TEXT_PATTERN } from '../schemas/common.js'

// ajv-formats is CommonJS; under ESM its plugin sits on `default` (twice, via interop).
type FormatsPlugin = (ajv: Ajv) => Ajv
const formatsExport = ajvFormats as unknown as { default: FormatsPlugin | { default: FormatsPlugin } }
const addFormats: FormatsPlugin = typeof formatsExport.default === 'function' ? formatsExport.default : formatsExport.default.default

const PROBLEM_TYPE_BASE = '/problems/'
const PART: Record<string, FieldError['in']> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' }

interface AjvError {
  keyword: string
  instancePath: string
  message?: string
  params: Record<string, unknown>
}

function makeAjv(coerceTypes: AjvOptions['coerceTypes']): Ajv {
  const ajv = new Ajv({
    allErrors: true, removeAdditional: false, useDefaults: true, coerceTypes, strict: false,
  })
  addFormats(ajv)
  return ajv
}

const TYPE_MESSAGE = /^must be (string|null|number|integer|boolean|object|array)$/

/** Turns Ajv errors into one precise message per offending value. */
export function fieldErrors(errors: AjvError[], part: FieldError['in']): FieldError[] {
  const byPointer = new Map<string, { messages: string[]; allowed: unknown[] }>()
  const add = (pointer: string, message: string, allowed?: unknown) => {
    const entry = byPointer.get(pointer) ?? { messages: [], allowed: [] }
    if (allowed !== undefined) entry.allowed.push(allowed)
    else if (!entry.messages.includes(message)) entry.messages.push(message)
    byPointer.set(pointer, entry)
  }
  for (const error of errors) {
    const at = error.instancePath
    switch (error.keyword) {
      case 'required':
        add(`${at}/${String(error.params.missingProperty)}`, 'is required')
        break
      case 'additionalProperties':
        add(`${at}/${String(error.params.additionalProperty)}`, 'is not a known property')
        break
      case 'const':
        add(at, '', error.params.allowedValue)
        break
      case 'enum':
        add(at, `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`)
        break
      case 'anyOf':
        break // its branches already reported what was wrong
      case 'pattern':
        // The guard of every free-text field: say what is wrong, not the regex.
        add(at, error.params.pattern === STORABLE_TEXT_PATTERN ? STORABLE_TEXT_MESSAGE : error.message ?? 'is not valid')
        break
      default:
        add(at, error.message ?? 'is not valid')
    }
  }
  return [...byPointer].map(([pointer, { messages: all, allowed }]) => {
    // A value of the right type for one branch of a union (a nullable text) is
    // wrong for what that branch says, not for not being another branch's type.
    const messages = all.some((m) => !TYPE_MESSAGE.test(m)) ? all.filter((m) => !TYPE_MESSAGE.test(m)) : all
    return {
      pointer,
      in: part,
      message: allowed.length > 0 && messages.every((m) => /must be (string|null)/.test(m))
        ? `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`
        : messages.join('; ') || `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`,
    }
  })
}

const validators: Partial<Record<'body' | 'query', Ajv>> = {}

/**
 * The API's own validation of a value against a schema, for a caller that
 * builds a request's body or query itself (the console's forms become the
 * same bodies the JSON routes take): the same Ajv options as the routes
 * (below) and the same field errors as their 400 problems.
 */
export function compileValidator(schema: object, part: 'body' | 'query'): (value: unknown) => FieldError[] {
  const ajv = validators[part] ??= makeAjv(part === 'body' ? false : 'array')
  const validate = ajv.compile(schema)
  return (value) => (validate(value) ? [] : fieldErrors(validate.errors as AjvError[], part))
}

export function sendProblem(reply: FastifyReply, error: AppError): FastifyReply {
  if (error.headers) void reply.headers(error.headers)
  return reply.code(error.status).type('application/problem+json').send({
    type: PROBLEM_TYPE_BASE + error.slug,
    title: error.title,
    status: error.status,
    detail: error.message,
    ...(error.errors ? { errors: error.errors } : {}),
  })
}

/** Maps Fastify's own errors (parsing, limits, media types) to our problems. */
function fromFastifyError(error: FastifyError): AppError | null {
  if (error.validation) {
    const part = PART[error.validationContext ?? 'body'] ?? 'body'
    const errors = fieldErrors(error.validation as AjvError[], part)
    const where = part === 'query' ? 'query string' : part === 'path' ? 'path' : part === 'header' ? 'headers' : 'request body'
    return new AppError(400, 'validation-error', 'Your request is not valid',
      `The ${where} has ${errors.length} invalid value${errors.length === 1 ? '' : 's'}.`, errors)
  }
  switch (error.code) {
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError(400, 'malformed-body', 'Malformed request body', 'The body is empty but Content-Type says JSON.')
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError(400, 'malformed-body', 'Malformed request body', 'The body is not valid JSON.')
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError(413, 'body-too-large', 'Request body too large', 'The body exceeds the size limit of this endpoint.')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError(415, 'unsupported-media-type', 'Unsupported media type', 'Send the body as application/json.')
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError(400, 'malformed-body', 'Malformed request body', 'Content-Length does not match the body.')
    default:
      break
  }
  if (error.name === 'SyntaxError' || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new AppError(400, 'malformed-body', 'Malformed request body', 'The body is not valid JSON.')
  }
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return new AppError(error.statusCode, 'bad-request', 'Bad request', error.message)
  }
  return null
}

// One pair per process, like `validators` above: Ajv keeps what it compiled per schema
// object, so another app built in the process (the tests build hundreds) compiles none again.
let routeAjv: { body: Ajv; param: Ajv } | undefined

export const problemDetails = fp(async (app: FastifyInstance) => {
  routeAjv ??= {
    body: makeAjv(false), // a JSON body must carry the right types
    param: makeAjv('array'), // query strings and paths arrive as text
  }
  const { body: bodyAjv, param: paramAjv } = routeAjv
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyAjv : paramAjv).compile(schema as object))

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof AppError) return sendProblem(reply, error)
    const mapped = fromFastifyError(error)
    if (mapped) return sendProblem(reply, mapped)
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'database unavailable')
      return sendProblem(reply, new AppError(503, 'service-unavailable', 'Service temporarily unavailable',
        'The database is not reachable; retry shortly.', undefined, { 'retry-after': '5' }))
    }
    request.log.error({ err: error }, 'unhandled error')
    return sendProblem(reply, new AppError(500, 'internal-error', 'Internal error',
      'Something went wrong on our side; it has been logged.'))
  })

  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, new AppError(404, 'not-found', 'Not found', `No route ${request.method} ${request.url.split('?')[0]}.`)))
}, { name: 'problem-details' })

/** Connection-level failures of Postgres: an outage, not a bug. */
function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { code?: string; message?: string }
  return ['ECONNREFUSED', 'ECONNRESET', '57P01', '57P02', '57P03', '08006', '08001', '08003'].includes(e.code ?? '')
    || /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(e.message ?? '')
}
