// Owns what the console tells a person before a lifecycle action (contract
// §9: "a confirmation that says what will happen and to how many people")
// and when a fan-out is over. The audience is counted with the fan-out's
// own rules, never a copy of them: the event the action would write is
// shaped as AppealService writes it, `isMailworthy` (email/alert-message.ts)
// says whether supporters hear of it, and the SQL predicates that freeze
// the audience (repositories/email-deliveries.ts, webhook-deliveries.ts)
// count it, read-only; SQL stays in repositories. A count is of now: people who subscribe or
// unsubscribe before the action are counted by the freeze, not here.
import type { Pool } from '../db/pool.js'
import { isMailworthy, type AlertEvent } from '../email/alert-message.js'
import { latestEventRows } from '../repositories/deliveries.js'
import { countEmailAudience } from '../repositories/email-deliveries.js'
import { countWebhookAudience } from '../repositories/webhook-deliveries.js'
import { findAppeal } from '../repositories/appeals.js'
import { approvalPolicyOf } from '../repositories/organisations.js'
import type { Appeal, AppealRead } from '../schemas/appeal.js'
import { needsApproval } from './appeals.js'

/** The lifecycle actions that may reach people (approve reaches no one). */
export type AnnouncingAction = 'publish' | 'follow-up' | 'close' | 'withdraw'

export interface Audience {
  /** The event the action writes, or null when it announces nothing (withdrawing a draft). */
  eventType: string | null
  /** Active, unsuppressed supporters whose filters match: they are mailed. */
  supporters: number
  /** Enabled partner endpoints subscribed to the event whose filters match: they are sent it. */
  endpoints: number
  /** Disabled endpoints that would match: they get a `skipped` delivery their partner can recover. */
  disabledEndpoints: number
}

/** The public representation (what events carry) of an appeal as staff read it. */
export function publicAppeal(a: AppealRead): Appeal {
  const { sensitive: _s, approval: _a, actionsTaken: _t, ...appeal } = a
  return appeal as Appeal
}

/** The event `action` would write for `appeal`, shaped as AppealService writes it (the parts the audience depends on). */
function eventOf(appeal: AppealRead, action: AnnouncingAction): AlertEvent | null {
  const data = { appeal: publicAppeal(appeal) }
  switch (action) {
    case 'publish': return { type: 'appeal.published', data }
    case 'follow-up': return { type: 'appeal.updated', data: { ...data, update: { number: appeal.updates.length + 1, body: '' }, changes: ['updates'] } }
    case 'close': return { type: 'appeal.closed', data }
    // A draft was never public: withdrawing it writes no event.
    case 'withdraw': return appeal.status === 'draft' ? null : { type: 'appeal.withdrawn', data: {} }
  }
}

export class AppealAudience {
  constructor(private readonly pool: Pool) {}

  /** Who the event of `action` would reach if it were written now. */
  async of(appeal: AppealRead, action: AnnouncingAction): Promise<Audience> {
    const event = eventOf(appeal, action)
    if (!event) return { eventType: null, supporters: 0, endpoints: 0, disabledEndpoints: 0 }
    const filter = { countries: appeal.countries, themes: appeal.themes ?? [], urgency: appeal.urgency }
    const [supporters, endpoints] = await Promise.all([
      isMailworthy(event) ? countEmailAudience(this.pool, filter) : Promise.resolve(0),
      countWebhookAudience(this.pool, { type: event.type, ...filter }),
    ])
    return { eventType: event.type, supporters, endpoints: endpoints.active, disabledEndpoints: endpoints.disabled }
  }

  /** Whether publishing now would be refused for want of a second person's approval (the service decides; this says so first). */
  async approvalMissing(appealId: string): Promise<boolean> {
    const row = await findAppeal(this.pool, appealId, { kind: 'all' })
    if (!row || row.status !== 'draft' || row.approval !== null) return false
    return needsApproval(await approvalPolicyOf(this.pool, row.organisationId), row.sensitive)
  }

  /**
   * Whether the fan-out of the appeal's latest event is over, given that
   * nothing of the appeal is pending: the event has been handed to the
   * fan-out and each channel has frozen its rows — or has nobody to freeze
   * them for. Right after a publish nothing is pending yet because nothing
   * is frozen yet: that is not "done".
   */
  async fanOutSettled(appealId: string): Promise<boolean> {
    const latest = await latestEventRows<AlertEvent>(this.pool, appealId)
    if (!latest) return true // never announced (a draft, or scheduled): nothing to send
    if (!latest.dispatched) return false
    if (latest.email > 0 && latest.webhook > 0) return true
    const row = await findAppeal(this.pool, appealId, { kind: 'all' })
    const appeal = latest.payload.data.appeal ?? row
    if (!appeal) return true
    const filter = { countries: appeal.countries, themes: appeal.themes ?? [], urgency: appeal.urgency }
    if (latest.email === 0 && isMailworthy(latest.payload) && await countEmailAudience(this.pool, filter) > 0) return false
    if (latest.webhook === 0) {
      const endpoints = await countWebhookAudience(this.pool, { type: latest.type, ...filter })
      if (endpoints.active + endpoints.disabled > 0) return false
    }
    return true
  }
}
