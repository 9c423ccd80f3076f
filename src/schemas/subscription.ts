// Schemas of the supporter surface (contract §6) and the staff views of
// subscribers. Supporter responses mask the address; staff see it.
import { Type, type Static } from 'typebox'
import { CountryCode, LanguageTag, Page, PageQuery, StringEnum, Text, ThemeSlug, Timestamp, Urgency, Uuid } from './common.js'

export const SUBSCRIPTION_STATUSES = ['pending', 'active', 'unsubscribed'] as const
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number]
export const SubscriptionStatus = StringEnum(SUBSCRIPTION_STATUSES, { title: 'SubscriptionStatus' })

export const SUPPRESSION_REASONS = ['unsubscribed', 'erased', 'soft-bounce', 'hard-bounce', 'complaint'] as const
export type SuppressionReason = (typeof SUPPRESSION_REASONS)[number]

export const MAX_FILTER_COUNTRIES = 60
export const MAX_FILTER_THEMES = 30

const Countries = Type.Array(CountryCode, {
  maxItems: MAX_FILTER_COUNTRIES, description: 'ISO 3166-1 alpha-2 codes; empty or absent = every country',
})
const Themes = Type.Array(ThemeSlug, { maxItems: MAX_FILTER_THEMES, description: 'theme slugs; empty or absent = every theme' })
const MinUrgency = StringEnum(['critical', 'high', 'normal'], {
  description: 'the least urgent appeals to receive: `normal` = all, `high` = high and critical, `critical` = critical only',
})

export const SubscribeSchema = Type.Object({
  email: Text(254, 3, { description: 'the address to alert', examples: ['supporter@example.org'] }),
  language: Type.Optional(LanguageTag),
  countries: Type.Optional(Countries),
  themes: Type.Optional(Themes),
  minUrgency: Type.Optional(MinUrgency),
}, { title: 'SubscribeRequest', additionalProperties: false })
export type Subscribe = Static<typeof SubscribeSchema>

export const SubscribeAcceptedSchema = Type.Object({
  status: Type.Literal('accepted'),
  detail: Type.String(),
}, { title: 'SubscribeAccepted', description: 'The same body for every address, whatever its state' })

export const SUBSCRIBE_ACCEPTED = Object.freeze({
  status: 'accepted' as const,
  detail: 'If this address can receive alerts, a confirmation email is on its way. Follow its link to start receiving alerts.',
})

export const PatchSubscriptionSchema = Type.Object({
  language: Type.Optional(LanguageTag),
  countries: Type.Optional(Countries),
  themes: Type.Optional(Themes),
  minUrgency: Type.Optional(MinUrgency),
}, { title: 'SubscriptionPatch', additionalProperties: false, minProperties: 1 })
export type PatchSubscription = Static<typeof PatchSubscriptionSchema>

export const SubscriptionSchema = Type.Object({
  email: Type.String({ description: 'masked, e.g. `j•••@e•••.org`' }),
  language: LanguageTag,
  countries: Type.Array(CountryCode),
  themes: Type.Array(ThemeSlug),
  minUrgency: Urgency,
  status: SubscriptionStatus,
  createdAt: Timestamp,
  confirmedAt: Type.Union([Timestamp, Type.Null()]),
  unsubscribedAt: Type.Union([Timestamp, Type.Null()]),
}, { title: 'Subscription' })
export type Subscription = Static<typeof SubscriptionSchema>

export const ConfirmedSchema = Type.Object({
  status: SubscriptionStatus,
  subscription: SubscriptionSchema,
  preferencesUrl: Type.String({ description: 'the supporter\'s preference page (carries the management token)' }),
}, { title: 'SubscriptionConfirmed' })

export const UnsubscribedSchema = Type.Object({
  status: Type.Literal('unsubscribed'),
}, { title: 'Unsubscribed' })

export const ConsentEntrySchema = Type.Object({
  at: Timestamp,
  action: Type.String(),
  source: Type.String(),
  consentTextVersion: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown()),
}, { title: 'ConsentEntry' })

export const SubscriptionExportSchema = Type.Object({
  exportedAt: Timestamp,
  subscription: Type.Object({
    id: Uuid,
    email: Type.String(),
    language: LanguageTag,
    countries: Type.Array(CountryCode),
    themes: Type.Array(ThemeSlug),
    minUrgency: Urgency,
    status: SubscriptionStatus,
    createdAt: Timestamp,
    updatedAt: Timestamp,
    confirmedAt: Type.Union([Timestamp, Type.Null()]),
    unsubscribedAt: Type.Union([Timestamp, Type.Null()]),
    confirmationSentAt: Type.Union([Timestamp, Type.Null()]),
  }),
  suppressed: Type.Union([StringEnum(SUPPRESSION_REASONS), Type.Null()], { description: 'why this address is not mailed, if it is not' }),
  consent: Type.Array(ConsentEntrySchema),
  deliveries: Type.Array(Type.Object({
    eventId: Type.String(),
    appealId: Type.Union([Uuid, Type.Null()]),
    eventType: Type.String(),
    status: Type.String(),
    attempts: Type.Integer(),
    createdAt: Timestamp,
    completedAt: Type.Union([Timestamp, Type.Null()]),
  })),
}, { title: 'SubscriptionExport', description: 'Everything held about the supporter' })
export type SubscriptionExport = Static<typeof SubscriptionExportSchema>

export const TokenParams = Type.Object({
  token: Text(200, 0, { description: 'confirmation or management token from an email' }),
}, { additionalProperties: false })

// ---------------------------------------------------------------------------
// Staff

export const SubscriberSchema = Type.Object({
  id: Uuid,
  email: Type.String(),
  language: LanguageTag,
  countries: Type.Array(CountryCode),
  themes: Type.Array(ThemeSlug),
  minUrgency: Urgency,
  status: SubscriptionStatus,
  suppressed: Type.Union([StringEnum(SUPPRESSION_REASONS), Type.Null()]),
  createdAt: Timestamp,
  confirmedAt: Type.Union([Timestamp, Type.Null()]),
  unsubscribedAt: Type.Union([Timestamp, Type.Null()]),
}, { title: 'Subscriber' })
export type Subscriber = Static<typeof SubscriberSchema>

export const SubscriberPageSchema = Page(SubscriberSchema, 'SubscriberPage')

export const ListSubscribersQuery = Type.Object({
  ...PageQuery,
  q: Type.Optional(Text(254, 1, { description: 'case-insensitive part of the address' })),
  status: Type.Optional(SubscriptionStatus),
}, { additionalProperties: false })
export type ListSubscribersQuery = Static<typeof ListSubscribersQuery>

export const SubscriberStatsSchema = Type.Object({
  total: Type.Integer(),
  byStatus: Type.Object({ pending: Type.Integer(), active: Type.Integer(), unsubscribed: Type.Integer() }),
  activeByLanguage: Type.Record(Type.String(), Type.Integer(), { description: 'active subscribers per language' }),
  suppressed: Type.Record(Type.String(), Type.Integer(), { description: 'suppressed addresses per reason' }),
}, { title: 'SubscriberStats', description: 'Counts only' })
export type SubscriberStats = Static<typeof SubscriberStatsSchema>
