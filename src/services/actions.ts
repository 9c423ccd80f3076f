// Owns "I took action" (contract §8): a supporter's anonymous click on a
// published appeal, the counts an organisation reports for its own
// supporters (audited, like every keyed change), and the tally its owners
// read. Counts only: no address, IP, user agent or cookie is ever stored.
import type { Pool } from '../db/pool.js'
import { withTransaction } from '../db/pool.js'
import type { Actor } from '../auth/api-keys.js'
import { AppError, illegalTransition, notFound } from '../errors.js'
import * as repo from '../repositories/actions.js'
import { findAppeal } from '../repositories/appeals.js'
import { recordAudit } from '../repositories/audit-log.js'
import { visibilityFor } from './appeals.js'
import type { AppealActions } from '../schemas/action.js'

/** The public button counts on published appeals only: a closed appeal's call to act is over. */
const PUBLIC_STATUSES = ['published'] as const
/** An organisation may report on what is or was public: actions often arrive after the appeal closed. */
const REPORTABLE_STATUSES = ['published', 'closed'] as const

const appealWithdrawn = () =>
  new AppError(410, 'appeal-withdrawn', 'Appeal withdrawn', 'This appeal has been withdrawn.')

const appealClosed = () =>
  new AppError(409, 'appeal-closed', 'Appeal closed', 'This appeal is closed: the call to act is over.')

export class ActionService {
  constructor(private readonly pool: Pool) {}

  /**
   * One anonymous action from the public button. Drafts (embargoed ones
   * too) and unknown appeals are 404, withdrawn 410, closed 409 — none of
   * them says anything of the appeal. Returns the new total.
   */
  async takeAction(appealId: string): Promise<number> {
    const { status, total } = await repo.addActions(this.pool, appealId, { kind: 'public' }, 1, PUBLIC_STATUSES)
    if (total !== null) return total
    if (status === 'withdrawn') throw appealWithdrawn()
    if (status === 'closed') throw appealClosed()
    throw notFound('This appeal')
  }

  /**
   * `count` actions that the actor's organisation's own supporters took, on
   * an appeal the actor may read that is published or closed. Returns the
   * new total.
   */
  async report(actor: Actor, appealId: string, count: number): Promise<number> {
    return withTransaction(this.pool, async (tx) => {
      const appeal = await findAppeal(tx, appealId, visibilityFor(actor))
      if (!appeal) throw notFound('This appeal')
      if (!(REPORTABLE_STATUSES as readonly string[]).includes(appeal.status)) throw illegalTransition('report actions on', appeal.status)
      const { total } = await repo.addActions(tx, appealId, { kind: 'organisation', organisationId: actor.organisationId }, count, REPORTABLE_STATUSES)
      if (total === null) throw illegalTransition('report actions on', appeal.status) // changed meanwhile: nothing counted
      await recordAudit(tx, actor, 'appeal.report-actions', 'appeal', appealId, { count })
      return total
    })
  }

  /** The tally per UTC day and source, for staff of the owning organisation (admins: any appeal). */
  async tally(actor: Actor, appealId: string): Promise<AppealActions> {
    const owned = await repo.actionsTakenOf(this.pool, [appealId], visibilityFor(actor))
    if (!owned.has(appealId)) throw notFound('This appeal')
    const days = await repo.actionsByDay(this.pool, appealId)
    const sum = (key: 'public' | 'organisations') => days.reduce((n, d) => n + d[key], 0)
    return { appealId, actionsTaken: sum('public') + sum('organisations'), public: sum('public'), organisations: sum('organisations'), days }
  }
}
