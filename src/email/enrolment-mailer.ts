// Owns the producer side of enrolment mail: what the console calls when an
// admin invites someone or sends a new link (routes/console.ts'
// `mailEnrolment`). It enqueues one `enrolment` job on the email queue
// holding the link's id only; the worker derives the token (sender.ts).
// Best effort and quick: when Redis refuses, the answer is false and the
// console still shows the admin the link to hand over.
import type { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import type { Config } from '../config.js'
import type { Logger } from '../logger.js'
import type { Enrolment } from '../services/people.js'
import { createEmailQueue, enrolmentJob, type EmailJob } from './queue.js'

export interface EnrolmentMailer {
  (enrolment: Enrolment): Promise<boolean>
  /** Closes the queue's connection use (the app's onClose). */
  close(): Promise<void>
}

export function enrolmentMailer(o: { config: Readonly<Config>; redis: Redis; logger: Logger }): EnrolmentMailer {
  // Created on first use: building the app (the OpenAPI document) connects to nothing.
  let queue: Queue<EmailJob> | undefined
  const mail = async (enrolment: Enrolment) => {
    queue ??= createEmailQueue(o.redis, o.config.queuePrefix)
    const job = enrolmentJob(enrolment.enrolmentId, o.config.email.retryScheduleSeconds)
    try {
      await queue.add(job.name, job.data, job.opts)
      return true
    } catch (err) {
      o.logger.warn({ err: { message: (err as Error).message }, enrolmentId: enrolment.enrolmentId }, 'enrolment mail not enqueued; the link was shown instead')
      return false
    }
  }
  return Object.assign(mail, { close: async () => { await queue?.close().catch(() => {}) } })
}
