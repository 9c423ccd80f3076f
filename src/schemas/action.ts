// Schemas of "I took action" (contract §8): the public button, the counts
// organisations report for their own supporters, and the staff tally.
import { Type, type Static } from 'typebox'
import { DateOnly, LanguageTag, Uuid } from './common.js'

/** One report may add this many actions at most: a larger total is reported in several calls. */
export const MAX_REPORTED_ACTIONS = 100_000

const Total = Type.Integer({ minimum: 0 })

export const ReportActionsSchema = Type.Object({
  count: Type.Integer({
    minimum: 1, maximum: MAX_REPORTED_ACTIONS,
    description: `actions your organisation's supporters took (letters, emails, signatures on your own site); 1–${MAX_REPORTED_ACTIONS} per report`,
  }),
}, { title: 'ReportActions', additionalProperties: false })
export type ReportActions = Static<typeof ReportActionsSchema>

export const ActionsTakenSchema = Type.Object({
  actionsTaken: { ...Total, description: 'every action taken on the appeal so far: the public button and the organisations\' reports' },
}, { title: 'ActionsTaken' })

export const ActionDaySchema = Type.Object({
  date: { ...DateOnly, description: 'UTC day' },
  public: { ...Total, description: '"I took action" on the appeal page' },
  organisations: { ...Total, description: 'reported by organisations for their own supporters' },
}, { title: 'ActionDay' })

export const AppealActionsSchema = Type.Object({
  appealId: Uuid,
  actionsTaken: Total,
  public: { ...Total, description: 'all days, "I took action" on the appeal page' },
  organisations: { ...Total, description: 'all days, reported by organisations' },
  days: Type.Array(ActionDaySchema, { description: 'days with at least one action, oldest first' }),
}, { title: 'AppealActions', description: 'The appeal\'s action counts per UTC day and source; counts only, nothing about who acted.' })
export type AppealActions = Static<typeof AppealActionsSchema>

export const TakeActionQuery = Type.Object({
  lang: Type.Optional({ ...LanguageTag, description: 'the page language to return to (kept in the redirect of a form post)' }),
}, { additionalProperties: false })
