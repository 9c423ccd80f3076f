// Owns event identity and shape (contract §4): `msg_<ULID>` ids that never
// change, bodies `{ type, timestamp, data }` written with the change they record.
import { ulid } from 'ulid'
import type { Queryable } from '../db/pool.js'
import { insertEvent, type EventRow } from '../repositories/events.js'
import type { EventType } from '../schemas/event.js'

export { EVENT_TYPES, type EventType } from '../schemas/event.js'


const newEventId = () => `msg_${ulid()}`

export async function appendEvent(
  tx: Queryable, type: EventType, data: Record<string, unknown>,
  scope: { appealId?: string; organisationId?: string } = {},
): Promise<EventRow> {
  return insertEvent(tx, {
    id: newEventId(),
    type,
    payload: { type, timestamp: new Date().toISOString(), data },
    appealId: scope.appealId ?? null,
    organisationId: scope.organisationId ?? null,
  })
}
