// Schemas of the appeal resource (contract §3). There is deliberately no
// field for the names of people at risk: counts, age bands and context only.
import { Type, type Static } from 'typebox'
import {
  CountryCode, DateOnly, LanguageTag, Page, PageQuery, StringEnum, SubdivisionCode, Text, ThemeSlug, Timestamp, Urgency, Uuid,
} from './common.js'

const Count = Type.Integer({ minimum: 0, maximum: 1_000_000 })

export const PeopleAtRiskSchema = Type.Object({
  total: Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'how many people are at risk' }),
  atLeast: Type.Optional(Type.Boolean({ description: 'true when `total` is a lower bound' })),
  women: Type.Optional(Count),
  men: Type.Optional(Count),
  girls: Type.Optional(Count),
  boys: Type.Optional(Count),
  minors: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'children whose sex is not stated' })),
  nationality: Type.Optional(Text(100, 1)),
  situation: Type.Optional(Type.Array(Text(200, 1), { maxItems: 20 })),
  risks: Type.Optional(Type.Array(Text(200, 1), { maxItems: 20 })),
  detainedSince: Type.Optional(DateOnly),
}, { title: 'PeopleAtRisk', additionalProperties: false, description: 'Counts only — never names' })
export type PeopleAtRisk = Static<typeof PeopleAtRiskSchema>

export const TargetSchema = Type.Object({
  name: Text(200, 1),
  title: Type.Optional(Text(200, 1)),
  salutation: Type.Optional(Text(200, 1)),
  country: Type.Optional(CountryCode),
  address: Type.Optional(Text(1000, 1)),
  email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
  preferredLanguage: Type.Optional(LanguageTag),
}, { title: 'Target', additionalProperties: false, description: 'An official to write to' })

export const SourceSchema = Type.Object({
  title: Text(300, 1),
  url: Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2000 }),
  publisher: Type.Optional(Text(200, 1)),
  publishedOn: Type.Optional(DateOnly),
}, { title: 'Source', additionalProperties: false })

export const OutcomeCode = StringEnum(
  ['released', 'asylum_granted', 'safe_passage', 'forcibly_returned', 'charges_dropped', 'no_change', 'unknown', 'other'],
  { title: 'OutcomeCode' },
)

const Asks = Type.Array(Text(1000, 1), { maxItems: 30 })
const Reference = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9 ./-]{0,38}[A-Za-z0-9]$', description: 'e.g. `UA 001/19`; generated when absent' })

/** Fields an editor writes; shared by create, patch and follow-up updates. */
const editable = {
  reference: Reference,
  language: LanguageTag,
  title: Text(200, 1),
  summary: Text(1000, 1),
  body: Text(20_000, 0, { description: 'Markdown' }),
  urgency: Urgency,
  countries: Type.Array(CountryCode, { minItems: 1, maxItems: 20, description: 'the first is the primary country' }),
  subdivisions: Type.Array(SubdivisionCode, { maxItems: 50 }),
  themes: Type.Array(ThemeSlug, { maxItems: 20 }),
  peopleAtRisk: PeopleAtRiskSchema,
  targets: Type.Array(TargetSchema, { maxItems: 50 }),
  asks: Asks,
  legalBasis: Type.Array(Text(300, 1), { maxItems: 20 }),
  actionDeadline: DateOnly,
  embargoUntil: Timestamp,
  sources: Type.Array(SourceSchema, { maxItems: 50 }),
  sensitive: Type.Boolean({
    description: 'needs two people to publish when the organisation\'s `approvalPolicy` is `sensitive` (the default). Defaults to true when `peopleAtRisk` counts any girl, boy or minor, and cannot be false while it does; counting a child in a change of `peopleAtRisk` sets it again; an editor may set it on any appeal',
  }),
}
const e = editable
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()])

export const CreateAppealSchema = Type.Object({
  reference: Type.Optional(e.reference), language: e.language, title: e.title, summary: e.summary,
  body: Type.Optional(e.body), urgency: e.urgency, countries: e.countries,
  subdivisions: Type.Optional(e.subdivisions), themes: Type.Optional(e.themes), peopleAtRisk: e.peopleAtRisk,
  targets: Type.Optional(e.targets), asks: Type.Optional(e.asks), legalBasis: Type.Optional(e.legalBasis),
  actionDeadline: Type.Optional(Nullable(e.actionDeadline)), embargoUntil: Type.Optional(Nullable(e.embargoUntil)),
  sources: Type.Optional(e.sources), sensitive: Type.Optional(e.sensitive),
}, { title: 'CreateAppeal', additionalProperties: false })
export type CreateAppeal = Static<typeof CreateAppealSchema>

export const PatchAppealSchema = Type.Object({
  reference: Type.Optional(e.reference), language: Type.Optional(e.language), title: Type.Optional(e.title),
  summary: Type.Optional(e.summary), body: Type.Optional(e.body), urgency: Type.Optional(e.urgency),
  countries: Type.Optional(e.countries), subdivisions: Type.Optional(e.subdivisions), themes: Type.Optional(e.themes),
  peopleAtRisk: Type.Optional(e.peopleAtRisk), targets: Type.Optional(e.targets), asks: Type.Optional(e.asks),
  legalBasis: Type.Optional(e.legalBasis), actionDeadline: Type.Optional(Nullable(e.actionDeadline)),
  embargoUntil: Type.Optional(Nullable(e.embargoUntil)), sources: Type.Optional(e.sources),
  sensitive: Type.Optional(e.sensitive),
}, {
  title: 'PatchAppeal', additionalProperties: false, minProperties: 1,
  description: 'Only the fields given change; `null` clears `actionDeadline` or `embargoUntil`.',
})
export type PatchAppeal = Static<typeof PatchAppealSchema>

export const FollowUpSchema = Type.Object({
  body: Text(20_000, 1, { description: 'Markdown text of the follow-up' }),
  title: Type.Optional(e.title), summary: Type.Optional(e.summary), urgency: Type.Optional(e.urgency),
  peopleAtRisk: Type.Optional(e.peopleAtRisk), targets: Type.Optional(e.targets), asks: Type.Optional(e.asks),
  actionDeadline: Type.Optional(Nullable(e.actionDeadline)),
}, { title: 'FollowUp', additionalProperties: false })
export type FollowUp = Static<typeof FollowUpSchema>

export const TranslationInputSchema = Type.Object({
  title: e.title, summary: e.summary, body: Type.Optional(e.body), asks: Type.Optional(e.asks),
}, { title: 'TranslationInput', additionalProperties: false })
export type TranslationInput = Static<typeof TranslationInputSchema>

export const CloseAppealSchema = Type.Object({
  outcome: Type.Object({ code: OutcomeCode, note: Type.Optional(Text(2000, 1)) }, { additionalProperties: false }),
}, { title: 'CloseAppeal', additionalProperties: false })
export type CloseAppeal = Static<typeof CloseAppealSchema>

export const WithdrawAppealSchema = Type.Object({
  reason: Text(1000, 1, { description: 'kept for staff; never published' }),
}, { title: 'WithdrawAppeal', additionalProperties: false })

export const AppealStatus = StringEnum(['draft', 'published', 'closed', 'withdrawn'], { title: 'AppealStatus' })
export type AppealStatus = Static<typeof AppealStatus>

export const TranslationSchema = Type.Object({
  language: LanguageTag, title: e.title, summary: e.summary, body: e.body, asks: e.asks, updatedAt: Timestamp,
}, { title: 'Translation' })

export const FollowUpEntrySchema = Type.Object({
  number: Type.Integer({ minimum: 1 }), body: Type.String(), publishedAt: Timestamp,
}, { title: 'AppealUpdate' })

export const OutcomeSchema = Type.Object({
  code: OutcomeCode, note: Type.Optional(Type.String()), at: Timestamp,
}, { title: 'Outcome' })

const NullableTimestamp = Type.Union([Timestamp, Type.Null()])

export const AppealSchema = Type.Object({
  id: Uuid,
  reference: Type.String(),
  status: AppealStatus,
  version: Type.Integer({ minimum: 1 }),
  language: LanguageTag,
  title: Type.String(),
  summary: Type.String(),
  body: Type.String(),
  urgency: Urgency,
  countries: Type.Array(CountryCode),
  subdivisions: Type.Array(SubdivisionCode),
  themes: Type.Array(ThemeSlug),
  peopleAtRisk: PeopleAtRiskSchema,
  targets: Type.Array(TargetSchema),
  asks: Type.Array(Type.String()),
  legalBasis: Type.Array(Type.String()),
  actionDeadline: Type.Union([DateOnly, Type.Null()]),
  embargoUntil: NullableTimestamp,
  scheduledPublishAt: Type.Union([Timestamp, Type.Null()], {
    description: 'set while a publish waits for its embargo to lift; the appeal is still a draft',
  }),
  sources: Type.Array(SourceSchema),
  translations: Type.Array(TranslationSchema),
  updates: Type.Array(FollowUpEntrySchema),
  outcome: Type.Union([OutcomeSchema, Type.Null()]),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  publishedAt: NullableTimestamp,
  closedAt: NullableTimestamp,
}, { title: 'Appeal' })
export type Appeal = Static<typeof AppealSchema>

/** Who acted: an API key or (contract §9) a person of the console. */
export const ActorRefSchema = Type.Object({
  kind: StringEnum(['key', 'person']),
  id: Uuid,
  name: Type.Union([Type.String(), Type.Null()], { description: 'the API key\'s name, or the person\'s; null when it cannot be resolved' }),
}, { title: 'ActorRef' })

export const ApprovalSchema = Type.Object({
  approvedBy: ActorRefSchema,
  approvedAt: Timestamp,
  version: Type.Integer({ minimum: 1, description: 'the version approved (the approver\'s `If-Match`); approving does not make a new version' }),
}, { title: 'Approval', description: 'A second person\'s approval of the content for publishing. Void (null) once the content of a draft changes' })

/**
 * What only the owning organisation's staff (and admins) see of an appeal:
 * never in public reads, events, webhooks or feeds — an approver's name
 * is staff business.
 */
const staffOnly = {
  sensitive: Type.Boolean({ description: 'staff only; true when publishing needs a second person\'s approval under the organisation\'s `sensitive` policy (always true when a child is counted)' }),
  approval: Type.Union([ApprovalSchema, Type.Null()], {
    description: 'staff only; set by `POST /v1/appeals/{id}/approve`, void once a draft\'s content (any field but `embargoUntil` and `sensitive`, or a translation) changes. After publication it stays as the record of the approval the publication rested on; later changes neither need nor void it',
  }),
}

/** The appeal as the changes answer it (staff only): `Appeal` with `sensitive` and `approval`. */
export const StaffAppealSchema = Type.Object({
  ...AppealSchema.properties,
  ...staffOnly,
}, { title: 'StaffAppeal', description: 'An appeal as its organisation\'s staff see it: `Appeal`, `sensitive` and `approval`' })
export type StaffAppeal = Static<typeof StaffAppealSchema>

/**
 * An appeal as the reads answer it (GET one, lists): the public
 * representation, plus for staff of the owning organisation (and admins)
 * `sensitive`, `approval` and its "I took action" count. Events, webhooks
 * and public reads carry `Appeal` only.
 */
export const AppealReadSchema = Type.Object({
  ...AppealSchema.properties,
  sensitive: Type.Optional(staffOnly.sensitive),
  approval: Type.Optional(staffOnly.approval),
  actionsTaken: Type.Optional(Type.Integer({
    minimum: 0,
    description: 'response only; "I took action" count — the public button and the organisations\' reports (`POST /v1/appeals/{id}/actions`). Present for staff of the owning organisation and admins; never in public reads, events or webhooks',
  })),
}, { title: 'AppealRead', description: 'An appeal as reads answer it: `Appeal`, and `sensitive`, `approval` and `actionsTaken` for its own organisation\'s staff' })
export type AppealRead = Static<typeof AppealReadSchema>

export const AppealPageSchema = Page(AppealReadSchema, 'AppealPage')

export const ListAppealsQuery = Type.Object({
  ...PageQuery,
  status: Type.Optional(AppealStatus),
  country: Type.Optional({ ...CountryCode, description: 'ISO 3166-1 alpha-2; matches any of the appeal\'s countries' }),
  theme: Type.Optional(ThemeSlug),
  urgency: Type.Optional(Urgency),
  language: Type.Optional({
    ...LanguageTag,
    description: 'BCP 47; matches the original or a translation, and its regional or script variants (`zh` matches `zh-Hant`)',
  }),
  q: Type.Optional(Text(200, 1, {
    description: 'full-text search of title, summary, body and asks, in the original and every translation, stemmed in each version\'s language; web-search syntax: `"exact phrase"`, `or`, `-excluded`',
  })),
  updatedSince: Type.Optional({ ...Timestamp, description: 'only appeals changed at or after this instant' }),
}, { additionalProperties: false })
export type ListAppealsQuery = Static<typeof ListAppealsQuery>

export const TranslationParams = Type.Object({ id: Uuid, language: LanguageTag }, { additionalProperties: false })

const Rate = (what: string) => Type.Union([Type.Number({ minimum: 0 }), Type.Null()], { description: `${what} per alert mail the relay accepted (\`sent\`), 0–1; null while none was sent` })
const WarningKind = StringEnum(['hard-bounce', 'complaint'])

export const EmailHealthSchema = Type.Object({
  sent: Type.Integer({ minimum: 0, description: 'alert mails of this appeal (every event) the relay accepted: the denominator of the rates' }),
  hardBounces: Type.Integer({ minimum: 0, description: 'permanent failures reported later (DSN 5.x.x, provider hard bounce); each address is suppressed' }),
  softBounces: Type.Integer({ minimum: 0, description: 'temporary failures reported later (one per mail)' }),
  complaints: Type.Integer({ minimum: 0, description: 'spam complaints (ARF, provider feedback loops); each supporter is unsubscribed' }),
  hardBounceRate: Rate('hard bounces'),
  softBounceRate: Rate('soft bounces'),
  complaintRate: Rate('complaints'),
  thresholds: Type.Object({
    hardBounceRate: Type.Number({ description: 'a hard-bounce rate above this (0.02 = 2 %) warns' }),
    complaintRate: Type.Number({ description: 'a complaint rate above this (0.001 = 0.1 %) warns' }),
  }, { description: 'a rate warns when above its threshold with at least 2 reports of its kind' }),
  warnings: Type.Array(Type.Object({
    kind: WarningKind,
    rate: Type.Number({ description: 'the rate when the threshold was passed' }),
    threshold: Type.Number(),
    reports: Type.Integer({ minimum: 0 }),
    sent: Type.Integer({ minimum: 0 }),
    at: Timestamp,
  }), { description: 'thresholds this appeal passed, once each (also in the audit log as `appeal.deliverability-warning`)' }),
}, { title: 'EmailHealth', description: 'bounces and complaints reported after the relay accepted the mail (contract §10)' })
export type EmailHealth = Static<typeof EmailHealthSchema>

export const DeliveryProgressSchema = Type.Object({
  appealId: Uuid,
  channels: Type.Object({
    email: Type.Record(Type.String(), Type.Integer(), { description: 'deliveries by status' }),
    webhook: Type.Record(Type.String(), Type.Integer(), { description: 'deliveries by status' }),
  }),
  total: Type.Integer(),
  pending: Type.Integer(),
  ratePerSecond: Type.Union([Type.Number(), Type.Null()], { description: 'completions per second over the last minute' }),
  eta: Type.Union([Timestamp, Type.Null()], { description: 'expected completion while sending' }),
  actionsTaken: Type.Integer({ minimum: 0, description: '"I took action" count so far; per day and source: `GET /v1/appeals/{id}/actions`' }),
  emailHealth: EmailHealthSchema,
}, { title: 'DeliveryProgress' })
export type DeliveryProgress = Static<typeof DeliveryProgressSchema>
