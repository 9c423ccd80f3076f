// Owns handing the notices an endpoint owes its organisation's contact
// (disabled, recovered) to the email queue. The owed notice is a flag on the
// endpoint, set with the transition in the outcome transaction; the mail
// job (email/sender.ts) reads it, sends it and clears it, so no SMTP call
// ever happens under a row lock. Job ids are per endpoint and kind: handing
// over the same notice twice while it waits queues one mail.
import type { Queue } from 'bullmq'
import type { Queryable } from '../db/pool.js'
import { noticeJob, type EmailJob } from '../email/queue.js'
import { owedNotices, type NoticeKind } from '../repositories/webhook-deliveries.js'

const OWED_PER_SWEEP = 200

export async function queueNotices(queue: Queue<EmailJob>, notices: { endpointId: string; kind: NoticeKind }[], retryScheduleSeconds: readonly number[]): Promise<number> {
  if (notices.length > 0) await queue.addBulk(notices.map((n) => noticeJob(n.endpointId, n.kind, retryScheduleSeconds)))
  return notices.length
}

/** The reconciler's sweep: every notice still owed is queued again (a lost job, a Redis flush). */
export async function queueOwedNotices(db: Queryable, queue: Queue<EmailJob>, retryScheduleSeconds: readonly number[]): Promise<number> {
  return queueNotices(queue, await owedNotices(db, OWED_PER_SWEEP), retryScheduleSeconds)
}
