// Owns the producer side of enrolment mail: what the console calls when an
// admin invites someone or sends a new link (routes/console.ts'
// `mailEnrolment`). It enqueues one `enrolment` job on the email queue
// holding the link's id only; the worker derives the token (sender.ts).
// Best effort and quick: when Redis refuses, the answer is false and the
// console still shows the admin the link to hand over.
import type { Queue } from 'bullmq'
import type { Config } from '../config.js'
import type { Logger } from '../logger.js'
import type { Enrolment } from '../services/people.js'
import { enrolmentJob, type EmailJob } from './queue.js'

export type EnrolmentMailer = (enrolment: Enrolment) => Promise<boolean>

/** `queue` is the API's email queue (delivery/producers.ts creates it on first use and closes it). */
export function enrolmentMailer(o: { config: Readonly<Config>; queue: () => Queue<EmailJob>; logger: Logger }): EnrolmentMailer {
  return async (enrolment) => {
    const job = enrolmentJob(enrolment.enrolmentId, o.config.email.retryScheduleSeconds)
    try {
      await o.queue().add(job.name, job.data, job.opts)
      return true
    } catch (err) {
      o.logger.warn({ err: { message: (err as Error).message }, enrolmentId: enrolment.enrolmentId }, 'enrolment mail not enqueued; the link was shown instead')
      return false
    }
  }
}
