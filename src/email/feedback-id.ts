// Owns the Feedback-ID header of alert mail (contract §10), in Google's
// format `<campaign>:<kind>:<customer>:<SenderId>`: campaign = the appeal
// reference, kind = what happened to the appeal, customer = the appeal's
// organisation id, sender = a stable id of this service (its List-Id host).
// Gmail's Postmaster Tools then report spam rates per appeal. No personal
// data: every field is an identifier staff already see.
import type { Queryable } from '../db/pool.js'
import { appealOrganisationId } from '../repositories/email-reports.js'

/** Colons separate the fields and headers must stay one ASCII token: anything else becomes '-'. */
const field = (value: string, max = 64) =>
  value.trim().replace(/[^A-Za-z0-9._/-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, max) || '-'

export interface FeedbackFields {
  /** e.g. `UA 001/19` → `UA-001/19`. */
  reference: string
  /** e.g. `appeal.published` → `published`. */
  eventType: string
  organisationId: string
  senderId: string
}

export function feedbackId(f: FeedbackFields): string {
  return [field(f.reference), field(f.eventType.replace(/^appeal\./, '')), field(f.organisationId), field(f.senderId)].join(':')
}

/**
 * The Feedback-ID of an event's alert mails: one query (the appeal's
 * organisation) per chunk, the same header on every mail of the event.
 */
export async function alertFeedbackId(db: Queryable, event: { type: string; appealId: string | null }, reference: string, senderId: string): Promise<string> {
  const organisationId = event.appealId ? await appealOrganisationId(db, event.appealId) : null
  return feedbackId({ reference, eventType: event.type, organisationId: organisationId ?? '-', senderId })
}
