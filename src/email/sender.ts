// Processes `email` jobs. An alert chunk: load the event once, render its
// message once per (event, language) into a MIME template (cached), then
// per window of recipients re-check the appeal and each supporter and claim
// in one statement, fill in each recipient's links and thread, and send
// over the pooled SMTP transport in one lane per connection, each outcome
// written as it happens (send-lanes.ts, outcome-recorder.ts). So a crash
// can repeat at most one mail per connection, and once a withdrawal has
// committed at most one more mail per connection leaves: every write tells
// whether the appeals being sent were withdrawn, and a lane releases its
// next body only if not. Temporary failures are re-enqueued on
// EMAIL_RETRY_SCHEDULE. A confirmation, a notice to a partner's contact or
// a console enrolment link: render and send one mail. Logs carry ids and
// SMTP codes, never addresses or tokens.
import type { Job, Queue } from 'bullmq'
import type { Readable } from 'node:stream'
import type { Config } from '../config.js'
import type { Pool } from '../db/pool.js'
import { withTransaction } from '../db/pool.js'
import type { Logger } from '../logger.js'
import { findEventById } from '../repositories/events.js'
import { cancelRows, claimContext, claimWindow, reviveSending, type ClaimedRecipient, type Outcome } from '../repositories/email-deliveries.js'
import * as subscriptions from '../repositories/subscriptions.js'
import { clearNotice, findNotice, type NoticeKind } from '../repositories/webhook-deliveries.js'
import { deriveToken, mailboxHash } from '../lib/supporter-tokens.js'
import { localeFor, type Locale } from '../i18n/index.js'
import {
  ALERT_EVENT_TYPES, isMailworthy, isMetadataOnly, renderAlert, SLOT_PREFERENCES, SLOT_THREAD_ROOT, SLOT_UNSUBSCRIBE, type AlertEvent,
} from './alert-message.js'
import { renderConfirmation, SLOT_CONFIRM } from './confirmation-message.js'
import { renderNotice } from './notice-message.js'
import { renderEnrolment, SLOT_ENROL } from './enrolment-message.js'
import { findEnrolmentForMail } from '../repositories/people.js'
import { deriveEnrolmentToken } from '../auth/console-tokens.js'
import { MimeTemplate, parseMailFrom, type MailFrom } from './mime.js'
import { alertEnvelopeSender, alertMessageId } from './return-path.js'
import { alertFeedbackId } from './feedback-id.js'
import { ClusterCounters, tally } from '../lib/cluster-counters.js'
import { DELIVERY_FIELD } from './metrics.js'
import { OutcomeRecorder, type Withdrawn } from './outcome-recorder.js'
import { SendLanes, WithheldError } from './send-lanes.js'
import { SMTP_POOL_SIZE, type MailTransport } from './transport.js'
import { alertJob, type EmailJob } from './queue.js'

/** Recipients re-checked and claimed together, in one statement. */
const WINDOW = 50
/**
 * Mails per process accepted by the relay and not yet recorded, at most:
 * one per SMTP connection. This is all a crash of the process can send
 * twice, and all it sends of an appeal after its withdrawal committed.
 */
export const MAILS_IN_FLIGHT = SMTP_POOL_SIZE
const TEMPLATE_CACHE_SIZE = 256

export interface SmtpFailure { permanent: boolean; detail: string }

/** An outcome with what the retry and the suppression list need. */
interface SendOutcome extends Outcome { attempt: number; hardBounce: boolean }

/** 5xx is permanent (except authentication, which is our problem, not the address's); 4xx and connection errors are temporary. */
export function classifySmtpError(error: unknown): SmtpFailure {
  const e = error as { responseCode?: number; code?: string; response?: string }
  const code = typeof e.responseCode === 'number' ? e.responseCode : null
  const permanent = code !== null && code >= 500 && code < 600 && e.code !== 'EAUTH'
  // Server replies may quote the address: keep codes and words, drop anything address-like.
  const response = (e.response ?? '').replace(/[^\s<>"']+@[^\s<>"']+/g, '[address]').slice(0, 200)
  return { permanent, detail: [code ? `SMTP ${code}` : null, e.code ?? null, response || null].filter(Boolean).join(' ') || 'send failed' }
}

export class EmailSender {
  private readonly from: MailFrom
  private readonly listId: string
  private readonly templates = new Map<string, MimeTemplate>()
  /** Shared by every chunk job of the process. */
  private readonly lanes = new SendLanes<Withdrawn>(MAILS_IN_FLIGHT)
  private readonly recorder: OutcomeRecorder
  /** Events this process is sending now (chunks running per event): every outcome write checks their appeals. */
  private readonly sending = new Map<string, number>()

  constructor(private readonly deps: {
    config: Readonly<Config>
    pool: Pool
    transport: MailTransport
    queue: Queue<EmailJob>
    logger: Logger
    /** What became of each delivery, for /metrics (email/metrics.ts); best effort. */
    counters?: ClusterCounters
  }) {
    this.from = parseMailFrom(deps.config.mailFrom)
    this.listId = `alerts.${this.from.domain}`
    this.recorder = new OutcomeRecorder(deps.pool, () => [...this.sending.keys()],
      (outcomes) => this.count(tally(outcomes.map((o) => o.status), DELIVERY_FIELD)))
  }

  private count(counts: Record<string, number>): void {
    this.deps.counters?.add(counts)
  }

  async process(job: Pick<Job<EmailJob>, 'data' | 'attemptsMade' | 'opts'> & { attemptsStarted?: number }): Promise<Record<string, number>> {
    // A second start of the same chunk (its worker was killed, or the run
    // threw): rows the first run left `sending` are no longer in flight.
    if (job.data.kind === 'alert' && (job.attemptsStarted ?? 1) > 1) await reviveSending(this.deps.pool, job.data.ids)
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1)
    switch (job.data.kind) {
      case 'alert': return this.processAlert(job.data.eventId, job.data.ids)
      case 'confirmation': return this.processConfirmation(job.data.subscriptionId, job.data.sentAtMs, lastAttempt)
      case 'notice': return this.processNotice(job.data.endpointId, job.data.notice, lastAttempt)
      case 'enrolment': return this.processEnrolment(job.data.enrolmentId, lastAttempt)
    }
  }

  private template(key: string, build: () => MimeTemplate): MimeTemplate {
    let template = this.templates.get(key)
    if (!template) {
      if (this.templates.size >= TEMPLATE_CACHE_SIZE) this.templates.delete(this.templates.keys().next().value!)
      template = build()
      this.templates.set(key, template)
    }
    return template
  }

  private async send(to: string, raw: Buffer | Readable, envelopeFrom = this.from.address): Promise<void> {
    await this.deps.transport.sendMail({ envelope: { from: envelopeFrom, to: [to] }, raw })
  }

  async processAlert(eventId: string, ids: number[]): Promise<Record<string, number>> {
    const { pool } = this.deps
    const event = await findEventById(pool, eventId)
    const payload = event?.payload as unknown as AlertEvent | undefined
    if (!event || !payload || !isMailworthy(payload)) {
      // Withdrawn since (its content was stripped) or never mail: nothing of it may go out.
      const cancelled = await cancelRows(pool, ids)
      this.count({ [`${DELIVERY_FIELD}cancelled`]: cancelled })
      return { cancelled }
    }
    // Watched before the first claim: a write that does not name this event
    // yet started before that claim, which checked the appeal itself.
    this.sending.set(eventId, (this.sending.get(eventId) ?? 0) + 1)
    try {
      return await this.sendChunk(event, payload, ids)
    } finally {
      const left = this.sending.get(eventId)! - 1
      if (left === 0) this.sending.delete(eventId)
      else this.sending.set(eventId, left)
    }
  }

  private async sendChunk(event: { id: string; appealId: string | null; position: number }, payload: AlertEvent, ids: number[]): Promise<Record<string, number>> {
    const { config, pool } = this.deps
    const eventId = event.id
    const messageId = (deliveryId: number, ofEvent: string) => alertMessageId(deliveryId, ofEvent, this.from.domain)
    // A change of metadata is a one-line note to those who have had the appeal, the whole appeal to those who have not.
    const noteOnly = isMetadataOnly(payload)
    const feedbackId = await alertFeedbackId(pool, { type: payload.type, appealId: event.appealId }, payload.data.appeal!.reference, this.listId)
    const render = (r: ClaimedRecipient): Buffer => {
      const firstAlert = noteOnly && r.threadRoot === null
      const template = this.template(`${eventId}|${r.language}${firstAlert ? '|whole' : ''}`, () => {
        const message = renderAlert(payload, r.language, { listId: this.listId, firstAlert })
        return new MimeTemplate({ from: config.mailFrom, ...message.spec, headers: { ...message.spec.headers, 'Feedback-ID': feedbackId } }, this.from)
      })
      const manage = `${config.publicBaseUrl}/subscriptions/${deriveToken(config.secretsKey, 'manage', r.manageNonce)}`
      return template.render({
        to: r.email,
        messageId: messageId(r.id, eventId),
        slots: {
          [SLOT_PREFERENCES]: manage, [SLOT_UNSUBSCRIBE]: `${manage}/unsubscribe`,
          [SLOT_THREAD_ROOT]: r.threadRoot ? `<${messageId(r.threadRoot.id, r.threadRoot.eventId)}>` : '',
        },
      })
    }
    const context = await claimContext(pool, event, ALERT_EVENT_TYPES)
    const admit = (withdrawn: Withdrawn | undefined) => !withdrawn?.has(eventId)
    const outcomes: SendOutcome[] = []
    let suppressed = 0
    let cancelled = 0
    let writeError: unknown = null
    for (let i = 0; i < ids.length && writeError === null; i += WINDOW) {
      const window = ids.slice(i, i + WINDOW)
      const claim = await claimWindow(pool, window, context)
      if (claim.withdrawn) {
        // The claim closed this window; the rest of the chunk goes the same way, and the message with it.
        cancelled += claim.cancelled + await cancelRows(pool, ids.slice(i + WINDOW))
        for (const key of this.templates.keys()) if (key.startsWith(`${eventId}|`)) this.templates.delete(key)
        break
      }
      suppressed += claim.suppressed
      this.count({ [`${DELIVERY_FIELD}suppressed`]: claim.suppressed })
      const settled = await Promise.allSettled(claim.recipients.map((r) =>
        this.lanes.send(() => render(r), admit, (body) => this.sendOne(r, body), (outcome) => this.recorder.record(outcome, outcome.hardBounce))))
      for (const s of settled) {
        if (s.status === 'fulfilled') outcomes.push(s.value)
        else writeError ??= s.reason
      }
    }
    this.count({ [`${DELIVERY_FIELD}cancelled`]: cancelled })
    // Recorded retries are enqueued even if a later write failed; unrecorded rows stay `sending` for the job's retry.
    await this.enqueueRetries(eventId, outcomes.flatMap((o) => (o.retryInSeconds === null ? [] : [{ id: o.id, attempt: o.attempt + 1, delay: o.retryInSeconds }])))
    if (writeError !== null) throw writeError
    const count = (status: string) => outcomes.filter((o) => o.status === status).length
    const result = { sent: count('sent'), retrying: count('retrying'), failed: count('failed'), suppressed, cancelled: cancelled + count('cancelled') }
    if (result.retrying + result.failed > 0) this.deps.logger.info({ eventId, ...result }, 'email chunk done with failures')
    return result
  }

  /** One claimed recipient: send, and decide the outcome from the SMTP reply. */
  private async sendOne(r: ClaimedRecipient, raw: Readable): Promise<SendOutcome> {
    const base = { id: r.id, attempt: r.attempts, hardBounce: false }
    try {
      // The per-message return path (BOUNCE_DOMAIN): a later DSN names this delivery.
      await this.send(r.email, raw, alertEnvelopeSender(this.deps.config, this.from.address, r.id))
      return { ...base, status: 'sent', error: null, retryInSeconds: null }
    } catch (error) {
      // Held back by the lane: the appeal was withdrawn while this mail waited for its turn.
      if (error instanceof WithheldError) return { ...base, status: 'cancelled', error: null, retryInSeconds: null }
      const failure = classifySmtpError(error)
      const schedule = this.deps.config.email.retryScheduleSeconds
      if (failure.permanent) return { ...base, hardBounce: true, status: 'failed', error: failure.detail, retryInSeconds: null }
      if (r.attempts <= schedule.length) return { ...base, status: 'retrying', error: failure.detail, retryInSeconds: schedule[r.attempts - 1]! }
      return { ...base, status: 'failed', error: failure.detail, retryInSeconds: null }
    }
  }

  /** Retries of one chunk go back as delayed chunk jobs, one per (attempt, wait). */
  private async enqueueRetries(eventId: string, retries: { id: number; attempt: number; delay: number }[]): Promise<void> {
    const groups = new Map<string, { attempt: number; delay: number; ids: number[] }>()
    for (const r of retries) {
      const key = `${r.attempt}|${r.delay}`
      const group = groups.get(key) ?? { attempt: r.attempt, delay: r.delay, ids: [] }
      group.ids.push(r.id)
      groups.set(key, group)
    }
    if (groups.size === 0) return
    const jobs = [...groups.values()].map((g) => alertJob(eventId, g.ids.sort((a, b) => a - b), g.attempt, g.delay * 1000))
    // Best effort: if Redis refuses, the rows' queued_at goes stale and the reconciler re-enqueues them.
    await this.deps.queue.addBulk(jobs).catch((err: unknown) => this.deps.logger.warn({ err, eventId }, 'email retries not enqueued; the reconciler will'))
  }

  /**
   * A notice to a partner organisation's contact (an endpoint disabled or
   * recovered), in its language. Read without a lock and cleared once sent:
   * no row is held while SMTP talks, and a notice the endpoint no longer
   * owes (it recovered meanwhile) is not sent.
   */
  async processNotice(endpointId: string, kind: NoticeKind, lastAttempt: boolean): Promise<Record<string, number>> {
    const { config, pool, logger } = this.deps
    const notice = await findNotice(pool, endpointId, kind)
    if (!notice) return { skipped: 1 }
    if (!notice.contactEmail) {
      logger.warn({ endpointId, kind }, 'webhook notice not sent: the organisation has no contact email')
      await clearNotice(pool, endpointId, kind)
      return { skipped: 1 }
    }
    const message = renderNotice(notice, config.publicBaseUrl)
    try {
      await this.deps.transport.sendMail({
        from: config.mailFrom, to: notice.contactEmail, subject: message.subject, text: message.text,
        headers: { 'Content-Language': message.language, 'Auto-Submitted': 'auto-generated' },
      })
    } catch (error) {
      const failure = classifySmtpError(error)
      // Only the reply's code and words: the contact's address never reaches the logs.
      if (failure.permanent || lastAttempt) {
        logger.warn({ endpointId, kind, smtp: failure.detail }, 'webhook notice could not be delivered; given up')
        await clearNotice(pool, endpointId, kind)
        return { failed: 1 }
      }
      throw Object.assign(new Error(`notice not accepted: ${failure.detail}`), { name: 'SmtpTemporaryError' })
    }
    await clearNotice(pool, endpointId, kind)
    return { sent: 1 }
  }

  /**
   * A console enrolment link to its person. The token is derived here from
   * the link's id under SECRETS_KEY and checked against the stored hash: a
   * link that was not made for mailing (create-user's), or one made under
   * another key, is never mailed wrong. A link used, replaced, expired or
   * whose person was disabled meanwhile is not sent.
   */
  async processEnrolment(enrolmentId: string, lastAttempt: boolean): Promise<Record<string, number>> {
    const { config, pool, logger } = this.deps
    const row = await findEnrolmentForMail(pool, enrolmentId)
    if (!row || !row.open) return { skipped: 1 }
    const { token, hash } = deriveEnrolmentToken(config.secretsKey, row.id)
    if (config.secretsKey.length === 0 || !hash.equals(row.tokenHash)) {
      logger.warn({ enrolmentId }, 'enrolment link not mailed: it was not derived under this SECRETS_KEY')
      return { skipped: 1 }
    }
    const raw = new MimeTemplate({ from: config.mailFrom, ...renderEnrolment(row) }, this.from).render({
      to: row.email,
      messageId: `e${row.id}.${Date.now().toString(36)}@${this.from.domain}`,
      slots: { [SLOT_ENROL]: `${config.publicBaseUrl.replace(/\/+$/, '')}/console/enrol/${token}` },
    })
    try {
      await this.send(row.email, raw)
    } catch (error) {
      const failure = classifySmtpError(error)
      if (failure.permanent || lastAttempt) {
        logger.warn({ enrolmentId, smtp: failure.detail }, 'enrolment mail could not be delivered; given up')
        return { failed: 1 }
      }
      throw Object.assign(new Error(`enrolment mail not accepted: ${failure.detail}`), { name: 'SmtpTemporaryError' })
    }
    return { sent: 1 }
  }

  async processConfirmation(subscriptionId: string, sentAtMs: number | undefined, lastAttempt: boolean): Promise<Record<string, number>> {
    const { config, pool } = this.deps
    const row = await subscriptions.findById(pool, subscriptionId)
    if (!row || row.status !== 'pending' || !row.confirmNonce || row.confirmExpired
      || (row.suppressed && subscriptions.BLOCKING_REASONS.includes(row.suppressed))
      // A newer request issued another link since this job was queued: its own job mails that one
      // (`confirmationSentAt` is `iso()`, `sentAtMs` `epochMs()` of the same column: equal when unchanged).
      || (sentAtMs !== undefined && Date.parse(row.confirmationSentAt ?? '') !== sentAtMs)) {
      return { skipped: 1 }
    }
    const locale: Locale = localeFor(row.language)
    const template = this.template(`confirmation|${locale}`, () =>
      new MimeTemplate({ from: config.mailFrom, ...renderConfirmation(locale) }, this.from))
    const token = deriveToken(config.secretsKey, 'confirm', row.confirmNonce)
    const raw = template.render({
      to: row.email,
      messageId: `c${row.id}.${Date.now().toString(36)}@${this.from.domain}`,
      slots: { [SLOT_CONFIRM]: `${config.publicBaseUrl}/subscriptions/confirm/${token}` },
    })
    try {
      await this.send(row.email, raw)
    } catch (error) {
      const failure = classifySmtpError(error)
      if (failure.permanent) {
        await withTransaction(pool, async (tx) => {
          await subscriptions.suppress(tx, row.emailHash, 'hard-bounce', mailboxHash(config.secretsKey, row.email))
          await subscriptions.markConfirmationMailed(tx, row.id, sentAtMs)
        })
        this.deps.logger.info({ subscriptionId, smtp: failure.detail }, 'confirmation mail bounced; address suppressed')
        return { failed: 1 }
      }
      // Temporary: BullMQ retries on EMAIL_RETRY_SCHEDULE; after the last try the reconciler must not loop on it.
      if (lastAttempt) await subscriptions.markConfirmationMailed(pool, row.id, sentAtMs)
      throw Object.assign(new Error(`confirmation mail not accepted: ${failure.detail}`), { name: 'SmtpTemporaryError' })
    }
    await subscriptions.markConfirmationMailed(pool, row.id, sentAtMs)
    return { sent: 1 }
  }
}
