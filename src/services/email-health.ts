// Owns the deliverability health of an appeal (contract §10, issue 13):
// its bounce and complaint counts and rates over the alert mails the relay
// accepted, the thresholds, and the warning written ONCE per appeal and
// kind (audit log + appeal_email_warnings) when a report takes a rate past
// its threshold. Counts only: nothing here names a supporter or an address.
//
// The rule (rateOverThreshold): a rate passes its threshold when it is
// strictly above it AND at least MIN_REPORTS reports of that kind exist.
// One report can only be above a threshold on a send smaller than
// 1 / threshold (1 000 mails for complaints, 50 for hard bounces), where a
// single mistaken "spam" click or one stale address says little about the
// list; two say something at any size (2 complaints of 10 warn, 1 of 10
// does not; 2 of 1 500 warn, 2 of 2 000 do not).
import type { Queryable } from '../db/pool.js'
import { recordServiceAudit } from '../repositories/audit-log.js'
import {
  appealOrganisationId, appealReportCount, appealWarned, insertAppealWarning, lockAppealHealth, sentMailsUpTo,
  type AppealReportsAndWarnings, type ReportKind, type WarningKind,
} from '../repositories/email-reports.js'
import type { EmailHealth } from '../schemas/appeal.js'

/** Mailbox providers throttle above 0.3 % complaints (Gmail, Yahoo); warn well before. */
export const COMPLAINT_RATE_THRESHOLD = 0.001
/** A list with more than 2 % dead addresses looks unmaintained to receivers. */
export const HARD_BOUNCE_RATE_THRESHOLD = 0.02
/** Fewer reports than this never warn, whatever the rate (see the header). */
export const MIN_REPORTS = 2
export const WARNING_ACTION = 'appeal.deliverability-warning'

export const THRESHOLDS: Readonly<Record<WarningKind, number>> = { 'hard-bounce': HARD_BOUNCE_RATE_THRESHOLD, complaint: COMPLAINT_RATE_THRESHOLD }

/** 1 / threshold as an integer (50, 1 000): the rule in integers, no float edge at exactly the threshold. */
const perMail = (kind: WarningKind) => Math.round(1 / THRESHOLDS[kind])

/** Whether `reports` of `kind` over `sent` accepted mails pass the threshold (the rule in the header). */
export function rateOverThreshold(kind: WarningKind, reports: number, sent: number): boolean {
  return reports >= MIN_REPORTS && sent > 0 && reports * perMail(kind) > sent
}

/** reports / sent, to 6 decimal places; null when nothing was sent. */
export const rate = (reports: number, sent: number): number | null => (sent > 0 ? Math.round((reports / sent) * 1e6) / 1e6 : null)

/** The health block of GET /v1/appeals/{id}/deliveries from the appeal's reports and warnings (appealReportsAndWarnings) and its email deliveries `sent`. */
export function emailHealthOf(r: AppealReportsAndWarnings, sent: number): EmailHealth {
  return {
    sent,
    hardBounces: r.hardBounces,
    softBounces: r.softBounces,
    complaints: r.complaints,
    hardBounceRate: rate(r.hardBounces, sent),
    softBounceRate: rate(r.softBounces, sent),
    complaintRate: rate(r.complaints, sent),
    thresholds: { hardBounceRate: HARD_BOUNCE_RATE_THRESHOLD, complaintRate: COMPLAINT_RATE_THRESHOLD },
    warnings: r.warnings.map((w) => ({ kind: w.kind, rate: rate(w.reports, w.sent) ?? 0, threshold: w.threshold, reports: w.reports, sent: w.sent, at: w.at })),
  }
}

/**
 * Called by applyEmailReport in the report's transaction, after the report
 * row is in: writes the appeal's warning of this kind if this report takes
 * the rate past its threshold and no warning of the kind exists yet.
 * Soft bounces have no threshold. Cheap when it cannot warn: a warned
 * appeal costs one primary-key read, and the sent mails are counted only
 * as far as could still matter (sentMailsUpTo).
 */
export async function warnIfOverThreshold(tx: Queryable, appealId: string, kind: ReportKind): Promise<boolean> {
  if (kind === 'soft-bounce') return false
  if (await appealWarned(tx, appealId, kind)) return false
  await lockAppealHealth(tx, appealId, kind)
  const reports = await appealReportCount(tx, appealId, kind)
  if (reports < MIN_REPORTS) return false
  const sent = await sentMailsUpTo(tx, appealId, reports * perMail(kind))
  if (!rateOverThreshold(kind, reports, sent)) return false
  const threshold = THRESHOLDS[kind]
  if (!await insertAppealWarning(tx, { appealId, kind, reports, sent, threshold })) return false
  await recordServiceAudit(tx, await appealOrganisationId(tx, appealId), WARNING_ACTION, 'appeal', appealId, {
    kind, rate: rate(reports, sent), threshold, reports, sent,
  })
  return true
}
