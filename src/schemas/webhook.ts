// Schemas of partner webhooks (contract §5).
import { Type, type Static } from 'typebox'
import { CountryCode, Page, PageQuery, StringEnum, Text, ThemeSlug, Timestamp, Urgency, Uuid } from './common.js'
import { EventId } from './event.js'
import { WEBHOOK_STATUSES } from '../repositories/deliveries.js'

/** The event types an endpoint can subscribe to; `webhook.test` is sent by the test action only. */
export const SUBSCRIBABLE_EVENT_TYPES = ['appeal.published', 'appeal.updated', 'appeal.closed', 'appeal.withdrawn'] as const
export const SubscribableEventType = StringEnum(SUBSCRIBABLE_EVENT_TYPES, { title: 'WebhookEventType' })

export const DESCRIPTION_MAX = 500
export const URL_MAX = 2000
export const GRACE_MAX_SECONDS = 7 * 86_400

const UrlField = Text(URL_MAX, 1, {
  description: '`https` URL (plain `http` only where WEBHOOK_ALLOW_PRIVATE_NETWORKS=true); no credentials; must not resolve to a private, loopback or otherwise reserved address',
  examples: ['https://partner.example.org/hooks/urgent-appeals'],
})
const Filters = {
  description: Type.Optional(Type.Union([Text(DESCRIPTION_MAX), Type.Null()])),
  eventTypes: Type.Array(SubscribableEventType, { minItems: 1, maxItems: 4, uniqueItems: true, description: 'event types to receive' }),
  countries: Type.Optional(Type.Array(CountryCode, { maxItems: 250, uniqueItems: true, description: 'only appeals concerning one of these countries (empty: all)' })),
  themes: Type.Optional(Type.Array(ThemeSlug, { maxItems: 100, uniqueItems: true, description: 'only appeals with one of these themes (empty: all)' })),
  minUrgency: Type.Optional(Type.Union([Urgency, Type.Null()], { description: 'only appeals at least this urgent (null: all)' })),
}

export const CreateWebhookSchema = Type.Object({ url: UrlField, ...Filters }, { title: 'CreateWebhook', additionalProperties: false })
export type CreateWebhook = Static<typeof CreateWebhookSchema>

export const PatchWebhookSchema = Type.Object({
  url: Type.Optional(UrlField),
  description: Filters.description,
  eventTypes: Type.Optional(Filters.eventTypes),
  countries: Filters.countries,
  themes: Filters.themes,
  minUrgency: Filters.minUrgency,
}, { title: 'PatchWebhook', additionalProperties: false, minProperties: 1 })
export type PatchWebhook = Static<typeof PatchWebhookSchema>

export const WebhookSchema = Type.Object({
  id: Uuid,
  organisationId: Uuid,
  url: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  eventTypes: Type.Array(SubscribableEventType),
  countries: Type.Array(Type.String()),
  themes: Type.Array(Type.String()),
  minUrgency: Type.Union([Urgency, Type.Null()]),
  status: StringEnum(['active', 'disabled'], { title: 'WebhookStatus' }),
  disabledReason: Type.Union([StringEnum(['gone', 'failing']), Type.Null()], {
    description: '`gone`: the endpoint answered 410; `failing`: it failed continuously for WEBHOOK_DISABLE_AFTER',
  }),
  disabledAt: Type.Union([Timestamp, Type.Null()]),
  failingSince: Type.Union([Timestamp, Type.Null()], { description: 'start of the current run of failed attempts' }),
  previousSecretExpiresAt: Type.Union([Timestamp, Type.Null()], { description: 'while set, the previous secret also signs' }),
  version: Type.Integer(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
}, { title: 'Webhook' })
export type Webhook = Static<typeof WebhookSchema>

export const WebhookWithSecretSchema = Type.Object({
  ...WebhookSchema.properties,
  secret: Type.String({ pattern: '^whsec_[A-Za-z0-9+/]{43}=$', description: 'the signing secret, shown only in this response' }),
}, { title: 'WebhookWithSecret' })

export const WebhookPageSchema = Page(WebhookSchema, 'WebhookPage')

export const ListWebhooksQuery = Type.Object({ ...PageQuery }, { additionalProperties: false })
export type ListWebhooksQuery = Static<typeof ListWebhooksQuery>

export const RotateSecretSchema = Type.Object({
  graceSeconds: Type.Optional(Type.Integer({
    minimum: 0, maximum: GRACE_MAX_SECONDS, default: 86_400,
    description: 'how long the old secret keeps signing (0: stop at once; at most 7 days)',
  })),
}, { title: 'RotateSecret', additionalProperties: false })

export const ERROR_CLASSES = ['timeout', 'connection', 'dns', 'tls', 'http', 'blocked', 'redirect'] as const
/** A webhook delivery's statuses: the `deliveries` table's vocabulary, declared once in repositories/deliveries.ts. */
export const DELIVERY_STATUSES = WEBHOOK_STATUSES

export const WebhookAttemptSchema = Type.Object({
  id: Type.Integer(),
  deliveryId: Type.Integer(),
  webhookId: EventId,
  trigger: StringEnum(['scheduled', 'manual', 'recover', 'test'], { title: 'AttemptTrigger' }),
  address: Type.Union([Type.String(), Type.Null()], { description: 'the IP address the request went to' }),
  statusCode: Type.Union([Type.Integer(), Type.Null()]),
  errorClass: Type.Union([StringEnum(ERROR_CLASSES, { title: 'AttemptErrorClass' }), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  durationMs: Type.Integer(),
  response: Type.Union([Type.String(), Type.Null()], { description: 'the first 4 KB of the response body' }),
  nextAttemptAt: Type.Union([Timestamp, Type.Null()]),
  at: Timestamp,
}, { title: 'WebhookAttempt' })
export type WebhookAttempt = Static<typeof WebhookAttemptSchema>

export const WebhookDeliverySchema = Type.Object({
  id: Type.Integer(),
  eventId: EventId,
  eventType: Type.String(),
  status: StringEnum(DELIVERY_STATUSES, { title: 'WebhookDeliveryStatus' }),
  attemptCount: Type.Integer(),
  nextAttemptAt: Type.Union([Timestamp, Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  completedAt: Type.Union([Timestamp, Type.Null()]),
  attempts: Type.Array(WebhookAttemptSchema, { description: 'the latest 20 attempts, oldest first' }),
}, { title: 'WebhookDelivery' })
export type WebhookDelivery = Static<typeof WebhookDeliverySchema>

export const WebhookDeliveryPageSchema = Page(WebhookDeliverySchema, 'WebhookDeliveryPage')

export const ListDeliveriesQuery = Type.Object({
  ...PageQuery,
  status: Type.Optional(StringEnum(DELIVERY_STATUSES)),
}, { additionalProperties: false })
export type ListDeliveriesQuery = Static<typeof ListDeliveriesQuery>

export const DeliveryParams = Type.Object({
  id: Uuid,
  deliveryId: Type.Integer({ minimum: 1, description: 'delivery id' }),
}, { additionalProperties: false })

export const RecoverSchema = Type.Object({
  since: Timestamp,
  until: Type.Optional(Timestamp),
}, { title: 'RecoverWebhook', additionalProperties: false })
export type Recover = Static<typeof RecoverSchema>

export const RecoverResultSchema = Type.Object({
  recovered: Type.Integer({ description: 'deliveries queued again' }),
  since: Timestamp,
  until: Timestamp,
}, { title: 'RecoverResult' })
