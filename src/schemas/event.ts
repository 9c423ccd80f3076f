// Schemas of the event log (contract §4).
import { Type, type Static } from 'typebox'
import { StringEnum, Timestamp } from './common.js'

export const EVENT_TYPES = ['appeal.published', 'appeal.updated', 'appeal.closed', 'appeal.withdrawn', 'webhook.test'] as const
export type EventType = (typeof EVENT_TYPES)[number]

export const EventId = Type.String({ pattern: '^msg_[0-9A-Za-z]{26}$', description: 'never changes; the `webhook-id` of deliveries' })

export const EventSchema = Type.Object({
  id: EventId,
  type: StringEnum(EVENT_TYPES, { title: 'EventType' }),
  timestamp: Timestamp,
  data: Type.Record(Type.String(), Type.Unknown(), {
    description: '`{ appeal }` for appeal events (plus `changes`, `update`); `{ appealId, reference }` for appeal.withdrawn',
  }),
}, { title: 'Event' })

export const EventPageSchema = Type.Object({
  items: Type.Array(EventSchema),
  nextCursor: Type.Union([EventId, Type.Null()], { description: 'pass as `after` for the next page; null when caught up' }),
}, { title: 'EventPage' })

export const ListEventsQuery = Type.Object({
  after: Type.Optional(EventId),
  types: Type.Optional(Type.String({
    pattern: `^(${EVENT_TYPES.join('|').replace(/\./g, '\\.')})(,(${EVENT_TYPES.join('|').replace(/\./g, '\\.')}))*$`,
    description: 'comma-separated event types',
  })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
}, { additionalProperties: false })
export type ListEventsQuery = Static<typeof ListEventsQuery>
