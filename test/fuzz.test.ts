// Property-based fuzzing (fast-check) of every operation in the app's own
// OpenAPI document — so a new endpoint is fuzzed without touching this file:
// bodies shaped like the operation's schema with some values swapped for
// hostile ones (wrong types, huge and deep values, unicode, prototype keys),
// raw non-JSON bodies, fuzzed query strings and path parameters, any role.
// Properties: never a 5xx; every 4xx is an RFC 9457 problem document; a
// rejected request writes nothing (row counts of every table unchanged).
// Text Postgres cannot store — U+0000, and unpaired UTF-16 surrogates — goes
// into strings, keys, query strings and path parameters at random, and then
// into every string field of every body in turn: always a 400, never stored.
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

/** What Postgres text and jsonb cannot hold: U+0000, and lone surrogates (jsonb refuses them, text mangles them). */
const UNSTORABLE = ['\u0000', '\uD800', '\uDFFF', '\uDBFF\u0000', '\uDC00\uD800']
const unstorable = fc.constantFrom(...UNSTORABLE)
/** A string with one of them somewhere in it. */
const poisonedString = fc.tuple(fc.string({ maxLength: 8 }), unstorable, fc.string({ maxLength: 8 })).map(([a, bad, b]) => a + bad + b)

/**
 * Percent-encoding that keeps lone surrogates (encodeURIComponent throws on
 * them): each becomes its three WTF-8 bytes, as a sloppy client would send.
 */
function percentEncode(text: string): string {
  let out = ''
  for (const char of text) {
    const unit = char.charCodeAt(0)
    if (char.length === 1 && unit >= 0xd800 && unit <= 0xdfff) {
      out += [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('')
    } else {
      out += encodeURIComponent(char)
    }
  }
  return out
}

/** Keys a hostile client might send: prototype names, unicode, unstorable text, empty, long. */
const hostileKey = fc.oneof(
  fc.constantFrom(...PROTO_KEYS),
  poisonedString,
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.constant(''),
)

/** Values of the wrong type, too big, too deep, or strange unicode. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1e308, -0, 2 ** 53 + 1, '', ' ', '\u0000', '\uFFFF', '\uD800', '🏳️‍🌈', 'ﷺ', 'e\u0301', 'NaN', '1e999'),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  poisonedString,
  fc.integer({ min: 2_000, max: 200_000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 100, max: 5_000 }).map((n) => Array.from({ length: n }, (_, i) => i)),
  fc.integer({ min: 50, max: 3_000 }).map((depth) => { let v: unknown = 'deep'; for (let i = 0; i < depth; i++) v = [v]; return v }),
  fc.integer({ min: 50, max: 1_000 }).map((depth) => { let v: unknown = {}; for (let i = 0; i < depth; i++) v = { a: v }; return v }),
  fc.dictionary(hostileKey, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
  fc.jsonValue({ maxDepth: 3 }),
)

/** The document's named schemas: request bodies are `$ref`s to them. */
const components: Record<string, Schema> = {}
const deref = (schema: Schema | undefined): Schema | undefined =>
  typeof schema?.$ref === 'string' ? components[schema.$ref.split('/').pop()!] : schema

/** A value that satisfies `schema` as far as a cheap sampler can (enums, consts, examples, defaults, formats). */
function sample(schema: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (schema?.$ref) return sample(deref(schema), depth + 1)
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

/** Where each string of a JSON value is, as paths of keys and indexes. */
function stringPaths(value: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (typeof value === 'string') out.push(at)
  else if (Array.isArray(value)) value.forEach((v, i) => stringPaths(v, [...at, i], out))
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) stringPaths(v, [...at, k], out)
  return out
}

/** A copy of `value` with the string at `path` replaced by `replace(old)`. */
function withStringAt(value: unknown, path: (string | number)[], replace: (old: string) => string): unknown {
  if (path.length === 0) return replace(value as string)
  const [head, ...rest] = path
  if (Array.isArray(value)) return value.map((v, i) => (i === head ? withStringAt(v, rest, replace) : v))
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    Object.defineProperty(out, k, { value: k === head ? withStringAt(v, rest, replace) : v, enumerable: true, configurable: true, writable: true })
  }
  return out
}

/**
 * One value with every property present and one item in every array: the
 * value with the most string fields the schema allows, for the pass that
 * poisons each in turn.
 */
function exemplar(schema: Schema | undefined, depth = 0): unknown {
  if (schema?.$ref) return exemplar(deref(schema), depth + 1)
  if (!schema || depth > 8) return 'x'
  if (schema.const !== undefined) return schema.const
  if (Array.isArray(schema.enum)) return schema.enum[0]
  for (const union of ['anyOf', 'oneOf'] as const) {
    if (Array.isArray(schema[union])) return exemplar(schema[union].find((s: Schema) => s.type !== 'null') ?? schema[union][0], depth + 1)
  }
  if (Array.isArray(schema.allOf)) return exemplar(Object.assign({}, ...schema.allOf.map(deref)), depth + 1)
  const type = Array.isArray(schema.type) ? schema.type.find((t: string) => t !== 'null') : schema.type
  switch (type) {
    case 'object': return Object.fromEntries(Object.entries<Schema>(schema.properties ?? {}).map(([k, s]) => [k, exemplar(s, depth + 1)]))
    case 'array': return [exemplar(schema.items, depth + 1)]
    case 'integer': case 'number': return schema.minimum ?? 1
    case 'boolean': return true
    case 'string': {
      const known = schema.examples?.[0] ?? schema.default
      if (typeof known === 'string') return known
      const formats: Record<string, string> = { uuid: '00000000-0000-4000-8000-000000000000', 'date-time': '2030-01-01T00:00:00.000Z', date: '2030-01-01', email: 'fuzz@example.org', uri: 'https://example.org/a' }
      return formats[schema.format] ?? 'x'.repeat(Math.max(1, schema.minLength ?? 1))
    }
    default: return null
  }
}

/** A schema-shaped value with hostile values swapped in at a few places, prototype keys added, maybe one string poisoned. */
function mutated(schema: Schema | undefined): fc.Arbitrary<unknown> {
  const poison = fc.option(fc.tuple(fc.nat(), fc.nat(), unstorable), { freq: 3 })
  return fc.tuple(sample(schema), fc.array(fc.tuple(fc.nat(), hostileKey, hostileValue, fc.boolean()), { maxLength: 3 }), poison)
    .map(([sampled, swaps, poisonAt]) => {
      let value = sampled
      if (poisonAt) {
        const [which, where, bad] = poisonAt
        const paths = stringPaths(value)
        if (paths.length > 0) value = withStringAt(value, paths[which % paths.length]!, (old) => old.slice(0, where % (old.length + 1)) + bad + old.slice(where % (old.length + 1)))
      }
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
  fc.constantFrom('0', '-1', '1e3', '101', '99999999999999999999', 'true', 'null', '', '%', '%E0%A4%A', '%00', '%uD800', '[]', '{}', '2020-13-45T99:99:99Z', 'CN', 'en', 'published',
    'a%00b', '%ED%A0%80', 'x%ED%B0%80', '%F0%9F%8F%B3%00'),
  fc.string({ unit: 'grapheme', maxLength: 30 }).map(percentEncode),
  poisonedString.map(percentEncode),
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
    fc.string({ unit: 'grapheme', maxLength: 40 }).map(percentEncode),
    fc.constantFrom('%', '%00', '..', '%2e%2e', '%E0%A4%A', 'x'.repeat(600), '__proto__', 'constructor', 'a%00b', '%ED%A0%80', `${ids[0]}%00`),
    poisonedString.map(percentEncode),
  )

  const { rows: tables } = await ctx.pool.query<{ name: string }>(
    `SELECT quote_ident(table_name) AS name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'pgmigrations%' ORDER BY 1`)
  const countSql = `SELECT ${tables.map((r) => `(SELECT count(*) FROM ${r.name})::int AS ${r.name}`).join(', ')}`
  const rowCounts = async () => (await ctx.pool.query(countSql)).rows[0] as Record<string, number>

  const spec = ctx.app.swagger() as Schema
  Object.assign(components, spec.components?.schemas ?? {})
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
        fc.oneof(fc.constantFrom(...queryParams.map((p) => p.name as string), ...PROTO_KEYS), hostileKey.map(percentEncode)),
        fc.oneof(queryParams.length > 0 ? sample(queryParams[0]!.schema).map((v) => percentEncode(String(v))) : queryValue, queryValue),
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

    // Then every string field of the fullest body the schema allows, in turn, with each unstorable
    // character: a 400 problem naming that field, every time, and nothing written. (The outside
    // fuzz run's 500 was PATCH /v1/webhooks/{id} with {"description":"a\u0000b"}.)
    const security = (op.security ?? []) as Schema[]
    const role = security.length === 0 ? null : 'admin' // admin passes every role guard, so validation decides
    // The real resource of each path, so a poisoned body gets past "not found" on the old code too.
    const ownId = path.startsWith('/v1/webhooks/') ? webhook.id : path.startsWith('/v1/appeals/') ? appeal.id : ids[2]!
    const fill = (name: string) => (name === 'deliveryId' ? '1' : name === 'language' ? 'fr' : name === 'token' ? [...tokens.values()][0]! : ownId)
    let url = path
    pathParams.forEach((name) => { url = url.replace(`{${name}}`, fill(name)) })
    const auth = role ? { authorization: `Bearer ${ctx.keys[role]}` } : {}
    // Each query and path parameter with U+0000 and with a lone surrogate (as WTF-8 bytes): never a 5xx.
    const parameterFailures: string[] = []
    for (const bad of ['a%00b', '%ED%A0%80']) {
      const urls = [
        ...queryParams.map((p) => `${url}?${p.name as string}=${bad}`),
        ...pathParams.map((name) => pathParams.reduce((u, other) => u.replace(`{${other}}`, other === name ? bad : fill(other)), path)),
      ]
      for (const target of urls) {
        const res = await ctx.app.inject({ method: method as InjectOptions['method'], url: target, headers: { accept: 'application/json', ...auth }, ...(jsonSchema ? { payload: {} } : {}) })
        requests++
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
        if (res.statusCode >= 500 || (res.statusCode >= 400 && !/^application\/problem\+json/.test(String(res.headers['content-type'])))) {
          parameterFailures.push(`${target} → ${res.statusCode} ${res.body.slice(0, 200)}`)
        }
      }
    }
    if (queryParams.length + pathParams.length > 0) {
      t.same(parameterFailures.slice(0, 5), [], `${method} ${path}: U+0000 and a lone surrogate in each of its ${queryParams.length + pathParams.length} query and path parameter(s): no 5xx, problem documents`)
    }
    const body = jsonSchema ? exemplar(jsonSchema) : undefined
    if (jsonSchema && stringPaths(body).length > 0) {
      const failures: string[] = []
      const before = await rowCounts()
      let poisoned = 0
      for (const at of stringPaths(body)) {
        for (const bad of ['\u0000', '\uD800', '\uDC00x']) {
          const payload = JSON.stringify(withStringAt(body, at, (old) => old + bad))
          const res = await ctx.app.inject({
            method: method as InjectOptions['method'], url, payload,
            headers: { 'content-type': 'application/json', accept: 'application/json', ...auth },
          })
          requests++
          poisoned++
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
          const pointer = `/${at.join('/')}`
          const named = res.statusCode === 400 && /^application\/problem\+json/.test(String(res.headers['content-type']))
            && (res.json().errors ?? []).some((e: { pointer: string }) => e.pointer === pointer || pointer.startsWith(`${e.pointer}/`))
          if (!named) failures.push(`${pointer} + ${JSON.stringify(bad)} → ${res.statusCode} ${res.body.slice(0, 200)}`)
        }
      }
      const after = await rowCounts()
      const changed = Object.keys(after).filter((k) => after[k] !== before[k])
      t.same({ failures: failures.slice(0, 5), changed }, { failures: [], changed: [] },
        `${method} ${path}: ${poisoned} bodies with U+0000 or a lone surrogate in one string field each: 400 naming the field, nothing written`)
    }
  }
  t.comment(`${requests} requests in ${Date.now() - started} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
})
