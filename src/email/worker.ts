// Starts email delivery in a worker process: the `email` queue's BullMQ
// worker (with EMAIL_MAX_PER_SECOND as a global limiter), the pooled SMTP
// transport, and the channel that fan-out and the reconciler call.
// delivery/workers.ts composes it after the webhook channel.
import { Worker } from 'bullmq'
import { queueKeyPrefix, WORKER_LOCKS } from '../queue/queues.js'
import type { ChannelWorkerDeps } from '../delivery/channel.js'
import { EmailChannel } from './channel.js'
import { emailCounters } from './metrics.js'
import { EmailSender } from './sender.js'
import { createMailTransport } from './transport.js'
import { createEmailQueue, EMAIL_QUEUE, limiterFor, SCHEDULE_BACKOFF, scheduleBackoff, type EmailJob } from './queue.js'

export interface RunningEmailDelivery {
  channel: EmailChannel
  close(): Promise<void>
}

/** Chunk jobs in flight per worker process: while one claims its next window, the other keeps the SMTP connections busy. */
const CONCURRENCY = 2

export async function startEmailDelivery(deps: ChannelWorkerDeps): Promise<RunningEmailDelivery> {
  const { config, pool, logger, connection } = deps
  const queue = createEmailQueue(connection, config.queuePrefix)
  const transport = createMailTransport(config)
  const counters = emailCounters(connection, config.queuePrefix)
  const sender = new EmailSender({ config, pool, transport, queue, logger, counters })
  const limiter = limiterFor(config.email.maxPerSecond)
  const backoff = scheduleBackoff(config.email.retryScheduleSeconds)
  const worker = new Worker<EmailJob>(EMAIL_QUEUE, (job) => sender.process(job), {
    connection, prefix: queueKeyPrefix(config.queuePrefix, EMAIL_QUEUE), concurrency: CONCURRENCY, ...WORKER_LOCKS,
    ...(limiter ? { limiter } : {}),
    settings: { backoffStrategy: (attemptsMade, type) => (type === SCHEDULE_BACKOFF ? backoff(attemptsMade) : 1000 * 2 ** attemptsMade) },
  })
  worker.on('failed', (job, err) => logger.warn({ err: { name: err.name, message: err.message }, kind: job?.data.kind }, 'email job failed; BullMQ will retry'))
  worker.on('error', (err) => logger.warn({ err }, 'email worker error'))
  const channel = new EmailChannel({ pool, queue, maxPerSecond: config.email.maxPerSecond, retryScheduleSeconds: config.email.retryScheduleSeconds })
  return {
    channel,
    async close() {
      await worker.close()
      await counters.flush()
      await queue.close()
      transport.close()
    },
  }
}
