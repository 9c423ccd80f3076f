// Schemas of events (contract §4): the body of each event type — what a
// webhook delivery carries and what the event log lists (with its `id`) —
// typed per type, so clients generated from the OpenAPI document can
// narrow an event by `type` and read its `data`. The document lists them
// under `webhooks` too (plugins/openapi.ts).
import { Type, type Static, type TSchema } from 'typebox'
import { StringEnum, Timestamp, Uuid } from './common.js'
import { AppealSchema, FollowUpEntrySchema } from './appeal.js'

export const EVENT_TYPES = ['appeal.published', 'appeal.updated', 'appeal.closed', 'appeal.withdrawn', 'webhook.test'] as const
export type EventType = (typeof EVENT_TYPES)[number]

export const EVENT_ID_PATTERN = '^msg_[0-9A-Za-z]{26}$'
export const EventId = Type.String({ pattern: EVENT_ID_PATTERN, description: 'never changes; the `webhook-id` of deliveries' })

/** What is left of an appeal event once the appeal is withdrawn: no content. */
export const WithdrawnAppealDataSchema = Type.Object({
  appealId: Uuid,
  reference: Type.String({ description: 'e.g. `UA 001/19`' }),
}, {
  title: 'WithdrawnAppealData', additionalProperties: false,
  description: '`appeal.withdrawn` carries only this; once an appeal is withdrawn, its earlier events are reduced to it too',
})

export const AppealEventDataSchema = Type.Object({
  appeal: AppealSchema,
}, { title: 'AppealEventData', description: 'the public appeal as it stood after the change' })

export const AppealUpdatedDataSchema = Type.Object({
  appeal: AppealSchema,
  changes: Type.Array(Type.String(), {
    description: 'what changed: field names (`title`, `asks`, `actionDeadline`…), `updates` when a follow-up was posted, `translations/{language}` when a translation was added or changed',
    examples: [['updates', 'urgency']],
  }),
  update: Type.Optional(FollowUpEntrySchema),
}, { title: 'AppealUpdatedData', description: 'the appeal after the change; `update` is the follow-up when one was posted' })

export const WebhookTestDataSchema = Type.Object({
  endpointId: Uuid,
  message: Type.String(),
}, { title: 'WebhookTestData' })

/** `oneOf` (TypeBox's Union writes `anyOf`): exactly one branch describes a value. */
function OneOf<T extends TSchema[]>(schemas: [...T], options: Record<string, unknown> = {}) {
  return Type.Unsafe<Static<T[number]>>({ ...options, oneOf: schemas })
}

/** The content of an appeal event, or only the stub once the appeal has been withdrawn. */
const appealOrWithdrawn = <T extends TSchema>(data: T) => OneOf([data, WithdrawnAppealDataSchema])

function eventBody<Type extends EventType, Data extends TSchema>(type: Type, data: Data, title: string, description: string) {
  return Type.Object({
    // A one-value enum rather than `const`: what @fastify/swagger writes for `const` anyway.
    type: StringEnum([type] as const),
    timestamp: Timestamp,
    data,
  }, { title, description })
}

export const AppealPublishedEventSchema = eventBody('appeal.published', appealOrWithdrawn(AppealEventDataSchema), 'AppealPublishedEvent',
  'An appeal was published (at once, or when its embargo lifted).')
export const AppealUpdatedEventSchema = eventBody('appeal.updated', appealOrWithdrawn(AppealUpdatedDataSchema), 'AppealUpdatedEvent',
  'A published appeal changed materially, got a follow-up, or a translation was added or changed.')
export const AppealClosedEventSchema = eventBody('appeal.closed', appealOrWithdrawn(AppealEventDataSchema), 'AppealClosedEvent',
  'A published appeal was closed with its outcome (`data.appeal.outcome`).')
export const AppealWithdrawnEventSchema = eventBody('appeal.withdrawn', WithdrawnAppealDataSchema, 'AppealWithdrawnEvent',
  'An appeal was withdrawn: take it down wherever you show it. Carries no content.')
export const WebhookTestEventSchema = eventBody('webhook.test', WebhookTestDataSchema, 'WebhookTestEvent',
  'Sent to one endpoint by `POST /v1/webhooks/{id}/test`; never in other organisations\' logs.')

/** Each event type with the schema of its body, in EVENT_TYPES order. */
export const EVENT_BODY_SCHEMAS = {
  'appeal.published': AppealPublishedEventSchema,
  'appeal.updated': AppealUpdatedEventSchema,
  'appeal.closed': AppealClosedEventSchema,
  'appeal.withdrawn': AppealWithdrawnEventSchema,
  'webhook.test': WebhookTestEventSchema,
} as const satisfies Record<EventType, TSchema>

const EVENT_BODIES = Object.values(EVENT_BODY_SCHEMAS) as [
  typeof AppealPublishedEventSchema, typeof AppealUpdatedEventSchema, typeof AppealClosedEventSchema,
  typeof AppealWithdrawnEventSchema, typeof WebhookTestEventSchema,
]

/**
 * The body of a webhook delivery: one event, told apart by `type` (each
 * branch's `type` is a one-value enum). No OpenAPI `discriminator`: with
 * one, `Event` (an `allOf` of it) would read as a subtype named "Event".
 */
export const WebhookPayloadSchema = OneOf(EVENT_BODIES, {
  title: 'WebhookPayload',
  description: 'The JSON body of a webhook delivery, byte for byte what is signed. The event id is the `webhook-id` header.',
})
export type WebhookPayload = Static<typeof WebhookPayloadSchema>

/** An event of the log: the webhook body with its id. */
export const EventSchema = Type.Intersect([
  Type.Object({ id: EventId }),
  WebhookPayloadSchema,
], { title: 'Event', description: 'One event of the log: `id` and the very body that webhooks carry' })
export type Event = Static<typeof EventSchema>

export const EventPageSchema = Type.Object({
  items: Type.Array(EventSchema),
  nextCursor: Type.Union([EventId, Type.Null()], { description: 'pass as `after` for the next page; null when caught up' }),
}, { title: 'EventPage' })
export type EventPage = Static<typeof EventPageSchema>

export const ListEventsQuery = Type.Object({
  after: Type.Optional(EventId),
  types: Type.Optional(Type.String({
    pattern: `^(${EVENT_TYPES.join('|').replace(/\./g, '\\.')})(,(${EVENT_TYPES.join('|').replace(/\./g, '\\.')}))*$`,
    description: 'comma-separated event types',
  })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
}, { additionalProperties: false })
export type ListEventsQuery = Static<typeof ListEventsQuery>
