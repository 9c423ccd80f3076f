// Text that Postgres cannot store is a 400, never a 500 (contract §6 "Text
// fields refuse U+0000"): U+0000 anywhere, and unpaired UTF-16 surrogates
// (jsonb refuses "\ud800"; text would silently turn them into U+FFFD).
// One rule, checked on every operation: each free string a request carries
// (body, query, path) is guarded by the shared pattern, or constrained by an
// enum, a format or an anchored pattern that refuses them as well.
import t from 'tap'
import { Ajv } from 'ajv'
import * as ajvFormats from 'ajv-formats'
import { generateOpenApiDocument } from '../src/scripts/write-openapi.js'
import { STORABLE_TEXT_MESSAGE, STORABLE_TEXT_PATTERN } from '../src/schemas/common.js'
import { buildTestApp } from './helpers/context.js'
import { anAppeal, createDraft, expectInvalid, expectStatus } from './helpers/liaoning.js'

type Json = Record<string, any>

// ajv-formats is CommonJS; under ESM its plugin sits on `default` (as in plugins/problem-details.ts).
type FormatsPlugin = (ajv: Ajv) => Ajv
const formatsExport = ajvFormats as unknown as { default: FormatsPlugin | { default: FormatsPlugin } }
const addFormats: FormatsPlugin = typeof formatsExport.default === 'function' ? formatsExport.default : formatsExport.default.default
// As the app compiles request schemas (plugins/problem-details.ts): patterns with the `u` flag, formats on.
const ajv = new Ajv({ strict: false, allErrors: true })
addFormats(ajv)

/**
 * Path tokens of the supporter pages (/subscriptions/…): hashed for the
 * look-up and never stored, and a damaged link must still get the friendly
 * HTML page rather than a 400 problem document. The JSON API's tokens
 * (/v1/subscriptions/{token}) are guarded.
 */
const EXEMPT = new Set(['POST /subscriptions/confirm/{token} path token', 'POST /subscriptions/confirm/{token}/cancel path token', 'POST /subscriptions/{token}/unsubscribe path token'])

const BAD = ['\u0000', '\uD800', '\uDFFF', '\uDBFF\u0000']

/** Values that satisfy the field apart from the probe: its enum, examples, default, a sample of its format, short text. */
function bases(schema: Json): string[] {
  const formats: Record<string, string> = {
    uuid: '00000000-0000-4000-8000-000000000000', email: 'a@example.org', date: '2026-01-01',
    'date-time': '2026-01-01T00:00:00Z', uri: 'https://example.org/a',
  }
  return [
    ...(schema.enum ?? []), ...(schema.examples ?? []), ...(schema.default !== undefined ? [schema.default] : []),
    ...(schema.format && formats[schema.format] ? [formats[schema.format]!] : []),
    '', 'x', 'a'.repeat(Math.max(2, schema.minLength ?? 0)), 'UA 001/19', 'msg_01M8FHV543N7M9VJGS8PCASNPX',
  ].filter((v): v is string => typeof v === 'string')
}

/** Does the string schema accept some value holding U+0000 or a lone surrogate? Returns one such value, or null. */
function acceptsUnstorable(schema: Json): string | null {
  const validate = ajv.compile({ ...schema, description: undefined, examples: undefined })
  for (const base of bases(schema)) {
    for (const bad of BAD) {
      const middle = Math.floor(base.length / 2)
      for (const probe of [bad, base + bad, bad + base, base.slice(0, middle) + bad + base.slice(middle)]) {
        if (validate(probe)) return probe
      }
    }
  }
  return null
}

/** Every string field of a request schema, with where it is. */
function stringFields(document: Json, schema: Json | undefined, at: string, out: { at: string; schema: Json }[], seen = new Set<string>()): void {
  if (!schema || typeof schema !== 'object') return
  if (typeof schema.$ref === 'string') {
    if (seen.has(schema.$ref)) return
    const name = schema.$ref.split('/').pop()!
    stringFields(document, document.components.schemas[name], at, out, new Set([...seen, schema.$ref]))
    return
  }
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    for (const branch of schema[key] ?? []) stringFields(document, branch, at, out, seen)
  }
  const types: string[] = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : []
  if (types.includes('string')) out.push({ at, schema })
  for (const [name, property] of Object.entries<Json>(schema.properties ?? {})) stringFields(document, property, `${at}/${name}`, out, seen)
  if (schema.items) stringFields(document, schema.items, `${at}/-`, out, seen)
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') stringFields(document, schema.additionalProperties, `${at}/*`, out, seen)
  for (const property of Object.values<Json>(schema.patternProperties ?? {})) stringFields(document, property, `${at}/*`, out, seen)
}

/** The unguarded string fields of every operation's body, query and path (headers never carry U+0000: HTTP parsers refuse it). */
function unguardedFields(document: Json): { fields: number; unguarded: string[] } {
  const fields: { at: string; schema: Json }[] = []
  const METHODS = ['get', 'put', 'post', 'patch', 'delete']
  for (const [path, item] of Object.entries<Json>(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method] as Json | undefined
      if (!operation) continue
      const name = `${method.toUpperCase()} ${path}`
      for (const parameter of operation.parameters ?? []) {
        if (parameter.in === 'query' || parameter.in === 'path') stringFields(document, parameter.schema, `${name} ${parameter.in} ${parameter.name}`, fields)
      }
      for (const media of Object.values<Json>(operation.requestBody?.content ?? {})) stringFields(document, media.schema, `${name} body `, fields)
    }
  }
  const unguarded: string[] = []
  for (const { at, schema } of fields) {
    if (EXEMPT.has(at)) continue
    const probe = acceptsUnstorable(schema)
    if (probe !== null) unguarded.push(`${at} accepts ${JSON.stringify(probe)}`)
  }
  return { fields: fields.length, unguarded }
}

t.test('every free string of every request refuses U+0000 and lone surrogates by schema', async (t) => {
  const document = await generateOpenApiDocument() as Json
  const { fields, unguarded } = unguardedFields(document)
  t.ok(fields > 60, `${fields} string fields in request bodies, queries and paths`)
  t.same(unguarded, [], 'no unguarded string field (use Text() from src/schemas/common.ts, or an enum, a format or an anchored pattern)')

  // The walk is not a rubber stamp: a field without the guard is named.
  const weakened = structuredClone(document)
  delete weakened.components.schemas.PatchWebhook.properties.description.anyOf[0].pattern
  t.same(unguardedFields(weakened).unguarded, ['PATCH /v1/webhooks/{id} body /description accepts "\\u0000"'])
})

t.test('the guard lets every well-formed character through, emoji and astral-plane scripts included', async (t) => {
  const validate = ajv.compile({ type: 'string', pattern: STORABLE_TEXT_PATTERN })
  for (const ok of ['', 'plain', '중국: 북한 주민 7명', '中文', 'ﷺ', 'e\u0301', '🏳️‍🌈', '𠀀𝄞', '\uFFFF', '\t\n\u0001']) {
    t.ok(validate(ok), `${JSON.stringify(ok)} is storable`)
  }
  for (const bad of ['\u0000', 'a\u0000', '\uD800', 'a\uDC00b', '\uDBFF', '\uDC00\uD800']) t.notOk(validate(bad), `${JSON.stringify(bad)} is refused`)
})

t.test('U+0000 and lone surrogates are a 400 naming the field, never a 500, and nothing is written', async (t) => {
  const ctx = await buildTestApp(t)
  const webhook = expectStatus(t, await ctx.request('partner', 'POST', '/v1/webhooks',
    { url: 'http://127.0.0.1:9/hook', description: 'Press desk', eventTypes: ['appeal.published'] }), 201)

  // The outside fuzz run's 500: PATCH /v1/webhooks/{id} {"description":"a\u0000b"}.
  const nul = await ctx.app.inject({
    method: 'PATCH', url: `/v1/webhooks/${webhook.id}`,
    headers: { authorization: `Bearer ${ctx.keys.partner}`, 'content-type': 'application/json' },
    payload: '{"description":"a\\u0000b"}',
  })
  const problem = expectInvalid(t, nul, '/description')
  t.equal(problem.errors[0].message, STORABLE_TEXT_MESSAGE, 'says what is wrong, not the regex')
  t.equal(expectStatus(t, await ctx.request('partner', 'GET', `/v1/webhooks/${webhook.id}`), 200).description, 'Press desk', 'unchanged')

  const appeal = await createDraft(ctx)
  const cases: [string, string, string, unknown, string][] = [
    ['lone surrogate in a text column', 'PATCH', `/v1/appeals/${appeal.id}`, { title: 'China: \uDC00seven' }, '/title'],
    ['lone surrogate in jsonb', 'PATCH', `/v1/appeals/${appeal.id}`, { peopleAtRisk: { total: 7, nationality: 'North\uD800Korean' } }, '/peopleAtRisk/nationality'],
    ['NUL in a list of text', 'PATCH', `/v1/appeals/${appeal.id}`, { asks: ['Release them\u0000'] }, '/asks/0'],
    ['NUL in Markdown', 'POST', '/v1/appeals', anAppeal({ body: '**28 April**\u0000' }), '/body'],
    ['NUL in a target', 'POST', '/v1/appeals', anAppeal({ targets: [{ name: 'Xi\u0000Jinping' }] }), '/targets/0/name'],
    ['NUL in an organisation name', 'POST', '/v1/organisations', { name: 'NGO\u0000', kind: 'ngo', contactEmail: 'a@example.org' }, '/name'],
    ['NUL in a webhook URL', 'POST', '/v1/webhooks', { url: 'https://partner.example.org/\u0000', eventTypes: ['appeal.published'] }, '/url'],
    ['NUL in a withdrawal reason', 'POST', `/v1/appeals/${appeal.id}/withdraw`, { reason: 'duplicate\u0000' }, '/reason'],
  ]
  const before = (await ctx.pool.query('SELECT (SELECT count(*) FROM appeals) AS a, (SELECT max(version) FROM appeals) AS v, (SELECT count(*) FROM organisations) AS o, (SELECT count(*) FROM webhook_endpoints) AS w')).rows[0]
  for (const [what, method, url, body, pointer] of cases) {
    const as = url.startsWith('/v1/organisations') ? 'admin' : url.startsWith('/v1/webhooks') ? 'partner' : 'editor'
    const res = await ctx.request(as, method as 'POST', url, body)
    t.equal(res.statusCode, 400, `${what}: 400 (${res.body.slice(0, 160)})`)
    if (res.statusCode === 400) t.ok(res.json().errors?.some((e: Json) => e.pointer === pointer && e.message === STORABLE_TEXT_MESSAGE), `${what}: names ${pointer}`)
  }
  const after = (await ctx.pool.query('SELECT (SELECT count(*) FROM appeals) AS a, (SELECT max(version) FROM appeals) AS v, (SELECT count(*) FROM organisations) AS o, (SELECT count(*) FROM webhook_endpoints) AS w')).rows[0]
  t.same(after, before, 'nothing was written')

  // Query strings: a full-text search, an address search, an audit filter.
  for (const [as, url, pointer] of [
    [null, '/v1/appeals?q=torture%00', '/q'],
    ['admin', '/v1/subscribers?q=%00', '/q'],
    ['admin', '/v1/audit-log?resourceId=a%00b', '/resourceId'],
  ] as const) {
    const res = await ctx.request(as, 'GET', url)
    expectInvalid(t, res, pointer, 'query')
  }

  // Well-formed text of every plane still goes through unchanged.
  const title = 'China: 북한 주민 7명 🏳️‍🌈 𠀀'
  const created = expectStatus(t, await ctx.request('editor', 'POST', '/v1/appeals', anAppeal({ title })), 201)
  t.equal(created.title, title, 'stored and returned as sent')
})
