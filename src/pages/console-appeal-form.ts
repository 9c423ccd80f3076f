// Owns the console's appeal form as data (contract §3, §9): what a browser
// posts ⇄ the values a form shows ⇄ the body the API takes
// (CreateAppeal / PatchAppeal / TranslationInput), so that the console's
// saves are checked by the API's own schemas and services and their field
// errors (JSON pointers into that body) land at the form's fields. Also
// the fingerprint of each field of the version a form was loaded with,
// which tells "what I changed" from "what someone else changed" when a
// save meets a newer version (412). No HTML here: console-appeal-editor.ts
// renders these values.
import { createHash } from 'node:crypto'
import { canonicalJson } from '../lib/canonical-json.js'
import type { FieldError } from '../errors.js'
import type { Appeal } from '../schemas/appeal.js'

/** A posted form: every field as a list (`countries=CN&countries=KP`). */
export type PostedForm = Record<string, string[] | undefined>

const PEOPLE_COUNTS = ['total', 'women', 'men', 'girls', 'boys', 'minors'] as const
const TARGET_FIELDS = ['name', 'title', 'salutation', 'country', 'address', 'email', 'preferredLanguage'] as const
const SOURCE_FIELDS = ['title', 'url', 'publisher', 'publishedOn'] as const

export type TargetValues = Record<(typeof TARGET_FIELDS)[number], string>
export type SourceValues = Record<(typeof SOURCE_FIELDS)[number], string>

/** What the editor shows, as text: a wrong value stays as it was typed, so that it can be corrected. */
export interface AppealFormValues {
  reference: string
  language: string
  title: string
  summary: string
  body: string
  urgency: string
  /** `countries[0]`: the primary country. */
  primaryCountry: string
  /** The rest of `countries`, from the region picker. */
  otherCountries: string[]
  /** ISO 3166-2 codes separated by spaces or commas. */
  subdivisions: string
  themes: string[]
  people: Record<(typeof PEOPLE_COUNTS)[number] | 'nationality' | 'detainedSince' | 'situation' | 'risks', string> & { atLeast: boolean }
  targets: TargetValues[]
  asks: string[]
  /** One per line. */
  legalBasis: string
  actionDeadline: string
  /** `YYYY-MM-DDTHH:MM`, read as UTC. */
  embargoUntil: string
  sources: SourceValues[]
  sensitive: boolean
}

/** The appeal's fields an editor writes, in the form's order: the keys of a PATCH. */
const EDITABLE_FIELDS = [
  'reference', 'language', 'title', 'summary', 'body', 'urgency', 'countries', 'subdivisions', 'themes', 'peopleAtRisk',
  'targets', 'asks', 'legalBasis', 'actionDeadline', 'embargoUntil', 'sources', 'sensitive',
] as const
export type EditableField = (typeof EDITABLE_FIELDS)[number]

export const FIELD_LABELS: Record<EditableField, string> = {
  reference: 'Reference', language: 'Language of the original', title: 'Title', summary: 'Summary', body: 'Body',
  urgency: 'Urgency', countries: 'Countries', subdivisions: 'Subdivisions', themes: 'Themes', peopleAtRisk: 'People at risk',
  targets: 'Targets', asks: 'Asks', legalBasis: 'Legal basis', actionDeadline: 'Action deadline', embargoUntil: 'Embargo until',
  sources: 'Sources', sensitive: 'Sensitive',
}

const one = (form: PostedForm, name: string) => form[name]?.[0] ?? ''
const lines = (text: string) => text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '')
const blank = (o: Record<string, string>) => Object.values(o).every((v) => v.trim() === '')

/** Indexed groups (`target-0-name`, `target-3-email`) in index order; wholly blank ones dropped. */
function groups<K extends string>(form: PostedForm, prefix: string, keys: readonly K[]): Record<K, string>[] {
  const indices = new Set<number>()
  const pattern = new RegExp(`^${prefix}-(\\d{1,3})-`)
  for (const name of Object.keys(form)) {
    const m = pattern.exec(name)
    if (m) indices.add(Number(m[1]))
  }
  return [...indices].sort((a, b) => a - b)
    .map((i) => Object.fromEntries(keys.map((k) => [k, one(form, `${prefix}-${i}-${k}`)])) as Record<K, string>)
    .filter((g) => !blank(g))
}

export function emptyForm(): AppealFormValues {
  return {
    reference: '', language: 'en', title: '', summary: '', body: '', urgency: 'high', primaryCountry: '', otherCountries: [],
    subdivisions: '', themes: [],
    people: { total: '', women: '', men: '', girls: '', boys: '', minors: '', nationality: '', detainedSince: '', situation: '', risks: '', atLeast: false },
    targets: [], asks: [], legalBasis: '', actionDeadline: '', embargoUntil: '', sources: [], sensitive: false,
  }
}

/** The values a browser posted (unknown fields are ignored: the form is ours). */
export function valuesFromForm(form: PostedForm): AppealFormValues {
  const people = Object.fromEntries([...PEOPLE_COUNTS, 'nationality', 'detainedSince', 'situation', 'risks']
    .map((k) => [k, one(form, `people-${k}`)])) as unknown as AppealFormValues['people']
  people.atLeast = one(form, 'people-atLeast') === 'true'
  const themesOther = one(form, 'themesOther').split(/[\s,]+/).filter((s) => s !== '')
  return {
    reference: one(form, 'reference'), language: one(form, 'language'), title: one(form, 'title'), summary: one(form, 'summary'),
    body: one(form, 'body'), urgency: one(form, 'urgency'), primaryCountry: one(form, 'primaryCountry'),
    otherCountries: form.countries ?? [], subdivisions: one(form, 'subdivisions'),
    themes: [...new Set([...(form.themes ?? []), ...themesOther])],
    people,
    targets: groups(form, 'target', TARGET_FIELDS),
    asks: (form.asks ?? []).filter((a) => a.trim() !== ''),
    legalBasis: one(form, 'legalBasis'), actionDeadline: one(form, 'actionDeadline'), embargoUntil: one(form, 'embargoUntil'),
    sources: groups(form, 'source', SOURCE_FIELDS),
    sensitive: one(form, 'sensitive') === 'true',
  }
}

/** The values of an appeal as the API answers it. */
export function valuesFromAppeal(appeal: Appeal & { sensitive?: boolean }): AppealFormValues {
  const p = appeal.peopleAtRisk
  const count = (n: number | undefined) => (n === undefined ? '' : String(n))
  return {
    reference: appeal.reference, language: appeal.language, title: appeal.title, summary: appeal.summary, body: appeal.body,
    urgency: appeal.urgency, primaryCountry: appeal.countries[0] ?? '', otherCountries: appeal.countries.slice(1),
    subdivisions: appeal.subdivisions.join(' '), themes: [...appeal.themes],
    people: {
      total: count(p.total), women: count(p.women), men: count(p.men), girls: count(p.girls), boys: count(p.boys), minors: count(p.minors),
      nationality: p.nationality ?? '', detainedSince: p.detainedSince ?? '', situation: (p.situation ?? []).join('\n'),
      risks: (p.risks ?? []).join('\n'), atLeast: p.atLeast === true,
    },
    targets: appeal.targets.map((t) => Object.fromEntries(TARGET_FIELDS.map((k) => [k, t[k] ?? ''])) as TargetValues),
    asks: [...appeal.asks],
    legalBasis: appeal.legalBasis.join('\n'),
    actionDeadline: appeal.actionDeadline ?? '',
    embargoUntil: appeal.embargoUntil ? appeal.embargoUntil.slice(0, 16) : '',
    sources: appeal.sources.map((s) => Object.fromEntries(SOURCE_FIELDS.map((k) => [k, s[k] ?? ''])) as SourceValues),
    sensitive: appeal.sensitive === true,
  }
}

/** A count as typed: digits become a number; anything else stays text, for the schema to name. */
const countValue = (text: string): number | string => (/^\d{1,9}$/.test(text.trim()) ? Number(text.trim()) : text.trim())

/** `2026-05-01T09:30` (a datetime-local field, UTC) → an ISO timestamp; anything else as typed. */
function timestampValue(text: string): string {
  const v = text.trim()
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(v)) return `${v}:00Z`
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(v)) return `${v}Z`
  return v
}

/** Only the members with a value: an empty optional field is absent, as the API expects. */
function present(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v.trim()]).filter(([, v]) => v !== ''))
}

/**
 * The API body of every editable field (a full `CreateAppeal`, or the
 * candidate values of a `PatchAppeal`). Required text is sent even when
 * empty so that the schema names it; a wrong value is sent as typed.
 */
export function inputFromValues(v: AppealFormValues): Record<EditableField, unknown> {
  const p = v.people
  const peopleAtRisk: Record<string, unknown> = {}
  for (const k of PEOPLE_COUNTS) if (p[k].trim() !== '') peopleAtRisk[k] = countValue(p[k])
  if (p.atLeast) peopleAtRisk.atLeast = true
  if (p.nationality.trim() !== '') peopleAtRisk.nationality = p.nationality.trim()
  if (lines(p.situation).length > 0) peopleAtRisk.situation = lines(p.situation)
  if (lines(p.risks).length > 0) peopleAtRisk.risks = lines(p.risks)
  if (p.detainedSince.trim() !== '') peopleAtRisk.detainedSince = p.detainedSince.trim()
  const primary = v.primaryCountry.trim()
  return {
    reference: v.reference.trim() === '' ? undefined : v.reference.trim(),
    language: v.language.trim(),
    title: v.title.trim(),
    summary: v.summary.trim(),
    body: v.body.replace(/\r\n/g, '\n'),
    urgency: v.urgency,
    countries: [...(primary ? [primary] : []), ...v.otherCountries.filter((c) => c !== primary)],
    subdivisions: v.subdivisions.split(/[\s,]+/).filter((s) => s !== ''),
    themes: [...new Set(v.themes)],
    peopleAtRisk,
    // A target or source always carries its required member, empty or not: the schema says which one is missing.
    targets: v.targets.map((t) => ({ name: t.name.trim(), ...present(t) })),
    asks: v.asks.map((a) => a.replace(/\r\n/g, '\n').trim()).filter((a) => a !== ''),
    legalBasis: lines(v.legalBasis),
    actionDeadline: v.actionDeadline.trim() === '' ? null : v.actionDeadline.trim(),
    embargoUntil: v.embargoUntil.trim() === '' ? null : timestampValue(v.embargoUntil),
    sources: v.sources.map((s) => ({ title: s.title.trim(), url: s.url.trim(), ...present(s) })),
    sensitive: v.sensitive,
  }
}

/** The body of `POST /v1/appeals`: absent optional fields left out (an unticked "sensitive" lets the API decide). */
export function createInput(v: AppealFormValues): Record<string, unknown> {
  const input = inputFromValues(v) as Record<string, unknown>
  for (const k of ['reference', 'actionDeadline', 'embargoUntil'] as const) if (input[k] === undefined || input[k] === null) delete input[k]
  if (input.sensitive === false) delete input.sensitive
  return input
}

// ---- What changed ---------------------------------------------------------------

const fingerprint = (value: unknown) => createHash('sha256').update(canonicalJson(value ?? null)).digest('base64url').slice(0, 16)

/** Each field's fingerprint, as the form shows it (the same round trip as a save, so an untouched field compares equal). */
export type Fingerprints = Record<EditableField, string>

export function fingerprints(v: AppealFormValues): Fingerprints {
  const input = inputFromValues(v)
  // The pickers post in their own order (regions, labels): only the primary country's place means something.
  const countries = input.countries as string[]
  const unordered = { ...input, countries: [countries[0], ...countries.slice(1).sort()], themes: [...(input.themes as string[])].sort() }
  return Object.fromEntries(EDITABLE_FIELDS.map((f) => [f, fingerprint(unordered[f])])) as Fingerprints
}

export const encodeFingerprints = (f: Fingerprints) => Buffer.from(JSON.stringify(f)).toString('base64url')

export function decodeFingerprints(text: string): Fingerprints | null {
  try {
    const parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Record<string, unknown>
    return EDITABLE_FIELDS.every((f) => typeof parsed[f] === 'string') ? parsed as Fingerprints : null
  } catch {
    return null
  }
}

/** The fields whose values differ from `base`. */
export function changedSince(base: Fingerprints, v: AppealFormValues): EditableField[] {
  const now = fingerprints(v)
  return EDITABLE_FIELDS.filter((f) => now[f] !== base[f])
}

/** The body of `PATCH /v1/appeals/{id}` with `fields` only. */
export function patchInput(v: AppealFormValues, fields: readonly EditableField[]): Record<string, unknown> {
  const input = inputFromValues(v)
  // A cleared reference is sent empty: the schema says what a reference must be.
  return Object.fromEntries(fields.map((f) => [f, f === 'reference' && input[f] === undefined ? '' : input[f]]))
}

/**
 * `mine` re-applied on `current`: my value of each field in `mine`, the
 * current value of every other field.
 */
export function merged(current: AppealFormValues, mine: AppealFormValues, fields: readonly EditableField[]): AppealFormValues {
  const out: AppealFormValues = structuredClone(current)
  const take = new Set(fields)
  if (take.has('reference')) out.reference = mine.reference
  if (take.has('language')) out.language = mine.language
  if (take.has('title')) out.title = mine.title
  if (take.has('summary')) out.summary = mine.summary
  if (take.has('body')) out.body = mine.body
  if (take.has('urgency')) out.urgency = mine.urgency
  if (take.has('countries')) { out.primaryCountry = mine.primaryCountry; out.otherCountries = [...mine.otherCountries] }
  if (take.has('subdivisions')) out.subdivisions = mine.subdivisions
  if (take.has('themes')) out.themes = [...mine.themes]
  if (take.has('peopleAtRisk')) out.people = { ...mine.people }
  if (take.has('targets')) out.targets = structuredClone(mine.targets)
  if (take.has('asks')) out.asks = [...mine.asks]
  if (take.has('legalBasis')) out.legalBasis = mine.legalBasis
  if (take.has('actionDeadline')) out.actionDeadline = mine.actionDeadline
  if (take.has('embargoUntil')) out.embargoUntil = mine.embargoUntil
  if (take.has('sources')) out.sources = structuredClone(mine.sources)
  if (take.has('sensitive')) out.sensitive = mine.sensitive
  return out
}

// ---- Where an error goes ----------------------------------------------------------

/**
 * The id of the form control (or group legend) that a field error's JSON
 * pointer names; `form` when none does (the error summary still lists it).
 */
function controlFor(pointer: string): string {
  const [field, index, member] = pointer.split('/').slice(1)
  switch (field) {
    case 'reference': case 'language': case 'title': case 'summary': case 'body': case 'urgency':
    case 'subdivisions': case 'legalBasis': case 'actionDeadline': case 'embargoUntil': case 'sensitive':
      return `f-${field}`
    case 'countries':
      return index === undefined || index === '0' ? 'f-primaryCountry' : 'f-countries'
    case 'themes':
      return 'f-themes'
    case 'peopleAtRisk':
      return index && (PEOPLE_COUNTS as readonly string[]).concat(['nationality', 'detainedSince', 'situation', 'risks', 'atLeast']).includes(index)
        ? `f-people-${index}` : 'f-people-total'
    case 'targets':
      return index === undefined ? 'f-targets' : `f-target-${index}-${member && (TARGET_FIELDS as readonly string[]).includes(member) ? member : 'name'}`
    case 'sources':
      return index === undefined ? 'f-sources' : `f-source-${index}-${member && (SOURCE_FIELDS as readonly string[]).includes(member) ? member : 'title'}`
    case 'asks':
      return index === undefined ? 'f-ask-0' : `f-ask-${index}`
    default:
      return 'form'
  }
}

/** Field errors grouped by the control they belong to, messages worded for a person. */
export function errorsByControl(errors: readonly FieldError[], controlOf: (pointer: string) => string = controlFor): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const e of errors) {
    const id = controlOf(e.pointer)
    const message = humanise(e.message)
    const list = out.get(id) ?? []
    if (!list.includes(message)) list.push(message)
    out.set(id, list)
  }
  return out
}

/** Ajv's wording, where a person would say it otherwise. */
function humanise(message: string): string {
  if (/^must NOT have fewer than 1 characters?$/.test(message)) return 'must not be empty'
  if (/^must NOT have fewer than 1 items?$/.test(message)) return 'needs at least one'
  if (/^must match pattern /.test(message)) return 'is not in the expected form'
  return message.replace(/must NOT/g, 'must not').replace(/^must match format "date"$/, 'must be a date (YYYY-MM-DD)')
    .replace(/^must match format "date-time"$/, 'must be a date and time')
    .replace(/^must match format "uri"$/, 'must be a web address')
    .replace(/^must match format "email"$/, 'must be an email address')
}
