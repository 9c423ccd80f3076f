// Property-based fuzzing (fast-check) of every operation in the app's own
// OpenAPI document — so a new endpoint is fuzzed without touching this file:
// bodies shaped like the operation's schema with some values swapped for
// hostile ones (wrong types, huge and deep values, unicode, prototype keys),
// raw non-JSON bodies, fuzzed query strings and path parameters, any role.
// Properties: never a 5xx; every 4xx is an RFC 9457 problem document; a
// rejected request writes nothing (row counts of every table unchanged).
// Bounded to a few seconds; the seed is fixed (FUZZ_SEED overrides it) and
// printed, so a failure replays exactly.
import tap from 'tap'
import fc from 'fast-check'
import type { InjectOptions } from 'fastify'
import { buildTestApp, type Keys } from './helpers/context.js'
import { createDraft } from './helpers/liaoning.js'
import { seedActiveSubscribers } from './helpers/supporters.js'

const SEED = Number(process.env.FUZZ_SEED ?? 20260527)
const RUNS_PER_OPERATION = Number(process.env.FUZZ_RUNS ?? 12)

type Schema = Record<string, any>
interface Operation { method: string; path: string; op: Schema }

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '__defineGetter__']

/** Keys a hostile client might send: prototype names, unicode, empty, long. */
const hostileKey = fc.oneof(
  fc.constantFrom(...PROTO_KEYS),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.constant(''),
)

/** Values of the wrong type, too big, too deep, or strange unicode. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1e308, -0, 2 ** 53 + 1, '', ' ', '\u0000', '\uFFFF', '\uD800', '🏳️‍🌈', 'ﷺ', 'e\u0301', 'NaN', '1e999'),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer({ min: 2_000, max: 200_000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 100, max: 5_000 }).map((n) => Array.from({ length: n }, (_, i) => i)),
  fc.integer({ min: 50, max: 3_000 }).map((depth) => { let v: unknown = 'deep'; for (let i = 0; i < depth; i++) v = [v]; return v }),
  fc.integer({ min: 50, max: 1_000 }).map((depth) => { let v: unknown = {}; for (let i = 0; i < depth; i++) v = { a: v }; return v }),
  fc.dictionary(hostileKey, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
  fc.jsonValue({ maxDepth: 3 }),
)

/** A value that satisfies `schema` as far as a cheap sampler can (enums, consts, examples, defaults, formats). */
function sample(schema: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 6) return fc.jsonValue({ maxDepth: 1 })
  if (schema.const !== undefined) return fc.constant(schema.const)
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum)
  for (const union of ['anyOf', 'oneOf'] as const) {
    if (Array.isArray(schema[union]) && schema[union].length > 0) return fc.oneof(...schema[union].map((s: Schema) => sample(s, depth + 1)))
  }
  if (Array.isArray(schema.allOf) && schema.allOf.length > 0) return sample(Object.assign({}, ...schema.allOf), depth + 1)
  const type = Array.isArray(schema.type) ? schema.type.find((t: string) => t !== 'null') : schema.type
  const known = [...(schema.examples ?? []), ...(schema.default !== undefined ? [schema.default] : [])]
  switch (type) {
    case 'object': {
      const props: Record<string, fc.Arbitrary<unknown>> = {}
      for (const [name, s] of Object.entries<Schema>(schema.properties ?? {})) props[name] = sample(s, depth + 1)
      const required = (schema.required ?? []) as string[]
      return fc.record(props, { requiredKeys: required.filter((r) => r in props) })
    }
    case 'array':
      return fc.array(sample(schema.items, depth + 1), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 3, 3) })
    case 'integer':
      return fc.integer({ min: schema.minimum ?? 0, max: Math.min(schema.maximum ?? 1000, 1000) })
    case 'number':
      return fc.double({ min: schema.minimum ?? 0, max: schema.maximum ?? 1000, noNaN: true })
    case 'boolean':
      return fc.boolean()
    case 'string': {
      if (known.length > 0) return fc.constantFrom(...known)
      switch (schema.format) {
        case 'uuid': return fc.uuid()
        case 'date-time': return fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString())
        case 'date': return fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10))
        case 'email': return fc.emailAddress()
        case 'uri': return fc.constantFrom('https://example.org/a', 'http://127.0.0.1:9/hook')
        default: return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 30, 30) })
      }
    }
    default:
      return fc.jsonValue({ maxDepth: 1 })
  }
}

/** A schema-shaped value with hostile values swapped in at a few places, prototype keys added. */
function mutated(schema: Schema | undefined): fc.Arbitrary<unknown> {
  return fc.tuple(sample(schema), fc.array(fc.tuple(fc.nat(), hostileKey, hostileValue, fc.boolean()), { maxLength: 3 }))
    .map(([value, swaps]) => {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return swaps.length > 0 ? swaps[0]![2] : value
      const out: Record<string, unknown> = { ...(value as Record<string, unknown>) }
      for (const [n, key, v, replaceExisting] of swaps) {
        const names = Object.keys(out)
        const target = replaceExisting && names.length > 0 ? names[n % names.length]! : key
        Object.defineProperty(out, target, { value: v, enumerable: true, configurable: true, writable: true })
      }
      return out
    })
}

/** A raw body: valid JSON of the wrong shape, malformed JSON, prototype pollution attempts. */
const rawBody = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.constantFrom('', '{', '{"a":', 'null', '[]', '"str"', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}',
    '{"a":1,"a":2}', '\uFEFF{}', '{"title":"\u0000"}', '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]'),
  fc.integer({ min: 1000, max: 20_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.string({ unit: 'binary', maxLength: 60 }),
)

/** A query value: typed-looking, hostile, or malformed percent-encoding (sent raw). */
const queryValue = fc.oneof(
  fc.constantFrom('0', '-1', '1e3', '101', '99999999999999999999', 'true', 'null', '', '%', '%E0%A4%A', '%00', '%uD800', '[]', '{}', '2020-13-45T99:99:99Z', 'CN', 'en', 'published'),
  fc.string({ unit: 'grapheme', maxLength: 30 }).map(encodeURIComponent),
  fc.integer({ min: 1000, max: 20_000 }).map((n) => 'a'.repeat(n)),
)

function operationsOf(spec: Schema): Operation[] {
  const ops: Operation[] = []
  for (const [path, item] of Object.entries<Schema>(spec.paths ?? {})) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete']) {
      if (item[method]) ops.push({ method: method.toUpperCase(), path, op: item[method] })
    }
  }
  return ops
}

tap.test('fuzzing every JSON endpoint and query string from the OpenAPI document', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_RATE_LIMIT: '1000000' })
  // Real resources, so fuzzed requests reach past "not found" into the handlers.
  const appeal = await createDraft(ctx)
  const webhook = (await ctx.request('partner', 'POST', '/v1/webhooks', { url: 'http://127.0.0.1:9/hook', eventTypes: ['appeal.published'] })).json()
  const tokens = await seedActiveSubscribers(ctx, ['fuzz@example.org'])
  const ids = [appeal.id, webhook.id, '00000000-0000-0000-0000-000000000000', ctx.orgIds.ngo].filter(Boolean) as string[]
  const pathValue = fc.oneof(
    fc.constantFrom(...ids, ...tokens.values(), '1', 'en', 'fr', 'zh-Hans'),
    fc.string({ unit: 'grapheme', maxLength: 40 }).map(encodeURIComponent),
    fc.constantFrom('%', '%00', '..', '%2e%2e', '%E0%A4%A', 'x'.repeat(600), '__proto__', 'constructor'),
  )

  const { rows: tables } = await ctx.pool.query<{ name: string }>(
    `SELECT quote_ident(table_name) AS name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'pgmigrations%' ORDER BY 1`)
  const countSql = `SELECT ${tables.map((r) => `(SELECT count(*) FROM ${r.name})::int AS ${r.name}`).join(', ')}`
  const rowCounts = async () => (await ctx.pool.query(countSql)).rows[0] as Record<string, number>

  const spec = ctx.app.swagger() as Schema
  const operations = operationsOf(spec)
  t.ok(operations.length >= 40, `${operations.length} operations discovered`)
  t.comment(`fuzz seed ${SEED} (replay: FUZZ_SEED=${SEED}), ${RUNS_PER_OPERATION} runs per operation, ${operations.length} operations`)

  const roles: (keyof Keys | null)[] = ['admin', 'editor', 'partner', null]
  let requests = 0
  const statuses = new Map<number, number>()
  const started = Date.now()
  for (const { method, path, op } of operations) {
    const params = (op.parameters ?? []) as Schema[]
    const pathParams = params.filter((p) => p.in === 'path').map((p) => p.name as string)
    const queryParams = params.filter((p) => p.in === 'query')
    const jsonSchema = op.requestBody?.content?.['application/json']?.schema as Schema | undefined
    // Supporter links (/subscriptions/…) are pages for people: HTML unless JSON is asked for.
    const servesPages = !path.startsWith('/v1/') && op.responses?.['200']?.content?.['text/html'] !== undefined || /^\/subscriptions\//.test(path)
    const request = fc.record({
      role: fc.constantFrom(...roles),
      accept: fc.constantFrom(undefined, 'application/json', 'text/html', '*/*'),
      path: fc.tuple(...pathParams.map(() => pathValue), fc.constant(null)),
      query: fc.array(fc.tuple(
        fc.oneof(fc.constantFrom(...queryParams.map((p) => p.name as string), ...PROTO_KEYS), hostileKey.map(encodeURIComponent)),
        fc.oneof(queryParams.length > 0 ? sample(queryParams[0]!.schema).map((v) => encodeURIComponent(String(v))) : queryValue, queryValue),
      ), { maxLength: 4 }),
      body: jsonSchema ? fc.oneof(
        mutated(jsonSchema).map((v) => ({ json: v })),
        hostileValue.map((v) => ({ json: v })),
        rawBody.map((raw) => ({ raw })),
      ) : fc.constant(undefined),
    })
    const property = fc.asyncProperty(request, async (r) => {
      let url = path
      pathParams.forEach((name, i) => { url = url.replace(`{${name}}`, String(r.path[i])) })
      if (r.query.length > 0) url += `?${r.query.map(([k, v]) => `${k}=${v}`).join('&')}`
      const headers: Record<string, string> = {}
      if (r.role) headers.authorization = `Bearer ${ctx.keys[r.role]}`
      if (r.accept) headers.accept = r.accept
      let payload: InjectOptions['payload']
      if (r.body) {
        headers['content-type'] = 'application/json'
        payload = 'raw' in r.body ? r.body.raw : JSON.stringify(r.body.json) ?? 'null'
      }
      const before = await rowCounts()
      const res = await ctx.app.inject({ method: method as InjectOptions['method'], url, headers, ...(payload !== undefined ? { payload } : {}) })
      requests++
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      const where = `${method} ${url.slice(0, 160)} as ${r.role ?? 'nobody'} → ${res.statusCode} ${res.body.slice(0, 240)}`
      if (res.statusCode >= 500) throw new Error(`5xx: ${where}`)
      if (res.statusCode >= 400) {
        const type = String(res.headers['content-type'])
        if (servesPages && r.accept !== 'application/json' && /^text\/html/.test(type)) return // an error page for a person
        if (!/^application\/problem\+json/.test(type)) throw new Error(`not a problem document: ${where}`)
        const problem = res.json()
        if (typeof problem.type !== 'string' || typeof problem.title !== 'string' || problem.status !== res.statusCode || typeof problem.detail !== 'string') {
          throw new Error(`incomplete problem document: ${where}`)
        }
        const after = await rowCounts()
        const changed = Object.keys(after).filter((k) => after[k] !== before[k])
        if (changed.length > 0) throw new Error(`rejected but wrote to ${changed.join(', ')}: ${where}`)
      }
    })
    const outcome = await fc.check(property, { seed: SEED, numRuns: RUNS_PER_OPERATION, endOnFailure: true })
    t.notOk(outcome.failed, outcome.failed
      ? `${method} ${path}: ${String((outcome.errorInstance as Error | undefined)?.message ?? outcome.errorInstance).slice(0, 700)}`
        + ` (seed ${SEED}, path ${outcome.counterexamplePath}; replay: FUZZ_SEED=${SEED})`
      : `${method} ${path}: ${RUNS_PER_OPERATION} runs, no 5xx, problem documents, nothing written on rejection`)
  }
  t.comment(`${requests} requests in ${Date.now() - started} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
})
