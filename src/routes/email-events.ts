// HTTP surface of the provider event webhooks (contract §10): POST
// /v1/email-events/{ses,postmark,mailgun,sendgrid}. Thin: each provider's
// module (email-events/*.ts) verifies and maps, applyEmailReport
// (services/email-reports.ts) takes effect.
// - A provider whose variables are unset answers 404 (after the body's
//   validation: a body no provider could send is a 400 everywhere).
// - Verification needs the exact bytes: a parser scoped to these routes
//   keeps the raw body (up to 1 MB; SNS posts JSON as text/plain).
// - Nothing is used before it is verified: 401 for a missing or wrong
//   signature, credentials, or a stale timestamp; 403 for an SNS topic or
//   certificate host not accepted; 400 for a body that is not what the
//   provider sends. Mailgun tokens and SendGrid signed requests are
//   accepted once (remembered in Redis for longer than the 5-minute window).
// - Unauthenticated until verified, so counted per client address from
//   the first byte (onRequest, before the body is read) with a budget of
//   their own; a refused request costs one hash or signature check.
// - 204 once verified: applied, a repeat, or nothing that concerns a
//   supporter. Logs carry counts only, never an address.
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest, RequestPayload } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { RedisConnection } from '../queue/queues.js'
import type { Config } from '../config.js'
import type { Pool } from '../db/pool.js'
import { AppError } from '../errors.js'
import { problems } from '../schemas/common.js'
import {
  Accepted, MailgunEventSchema, PostmarkHeaders, PostmarkRecordSchema, SendgridEventsSchema, SendgridHeaders, SnsMessageSchema,
} from '../schemas/email-events.js'
import { applyEmailReport } from '../services/email-reports.js'
import { REPLAY_MEMORY_SECONDS, malformed, unverified, type Mapped, type Provider } from '../email-events/common.js'
import { SnsVerifier, sesReports } from '../email-events/sns.js'
import { postmarkReports, verifyPostmark } from '../email-events/postmark.js'
import { mailgunReports, verifyMailgun } from '../email-events/mailgun.js'
import { SENDGRID_SIGNATURE_HEADER, SENDGRID_TIMESTAMP_HEADER, sendgridPublicKey, sendgridReports, verifySendgrid } from '../email-events/sendgrid.js'

/** SendGrid flushes a batch at 768 KB; SNS messages are at most 256 KB. */
const BODY_LIMIT_BYTES = 1024 * 1024
/**
 * Requests per minute per client address, per provider. Far above what a
 * provider sends from one address (they spread over many and retry a 429),
 * far below what would make a flood of forged requests costly.
 */
export const EMAIL_EVENTS_RATE_LIMIT = 1200

export interface EmailEventOptions {
  config: Readonly<Config>
  pool: Pool
  redis: RedisConnection
  /** Tests only (an app option, never configuration): origins standing in for AWS's SNS hosts. */
  trustedSnsOrigins?: readonly string[]
}

const rawBodies = new WeakMap<FastifyRequest, Buffer>()
const notConfigured = (provider: Provider) => new AppError(404, 'not-found', 'Not found',
  `No route POST /v1/email-events/${provider}: this provider's webhook is not configured.`)

export async function emailEventRoutes(fastify: FastifyInstance, opts: EmailEventOptions) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { config, pool, redis } = opts
  const events = config.emailEvents
  const reportOptions = { secretsKey: config.secretsKey, bounceDomain: config.email.bounce.domain }
  const sns = new SnsVerifier({ topicArns: events.sesTopicArns, trustedOrigins: opts.trustedSnsOrigins ?? [] })
  const sendgridKey = events.sendgridPublicKey ? sendgridPublicKey(events.sendgridPublicKey) : null

  // Only here: the raw bytes kept for the signature, then parsed as JSON whatever the text type says.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'buffer', bodyLimit: BODY_LIMIT_BYTES }, (request, body, done) => {
    rawBodies.set(request, body as Buffer)
    try {
      done(null, JSON.parse((body as Buffer).toString('utf8')))
    } catch {
      done(malformed('The body is not valid JSON.'), undefined)
    }
  })

  const enabled: Record<Provider, boolean> = {
    ses: events.sesTopicArns.length > 0, postmark: events.postmark !== null, mailgun: events.mailgunSigningKey !== null, sendgrid: sendgridKey !== null,
  }
  /**
   * A provider's route: its own rate limit before the body is read; 404 when
   * the provider is not configured once the body passed validation (as
   * everywhere in the API, a body that could never be valid is a 400 first).
   */
  const route = <S extends object>(provider: Provider, summary: string, description: string, schema: S, statuses: number[] = []) => ({
    // apiKey false: Postmark's Authorization is Basic, not an API key.
    config: { apiKey: false, rateLimit: { max: EMAIL_EVENTS_RATE_LIMIT, timeWindow: 60_000, hook: 'onRequest' as const, allowList: [] } },
    preHandler: async () => { if (!enabled[provider]) throw notConfigured(provider) },
    schema: {
      operationId: `receive${provider[0]!.toUpperCase()}${provider.slice(1)}Events`,
      summary, description, tags: ['email-events'], security: [],
      ...schema,
      response: { 204: Accepted, ...problems(400, 401, 403, 404, 413, 415, ...statuses) },
    },
  })

  /** Applies what a verified request reports, one report at a time (each its own transaction); counts only in the log. */
  async function apply(request: FastifyRequest, provider: Provider, mapped: Mapped): Promise<void> {
    const outcomes: Record<string, number> = { skipped: mapped.skipped }
    for (const report of mapped.reports) {
      const result = await applyEmailReport(pool, report, reportOptions)
      const key = result.outcome === 'applied' ? result.effect : result.outcome
      outcomes[key] = (outcomes[key] ?? 0) + 1
    }
    request.log.info({ provider, ...outcomes }, 'email events received')
  }

  /** Remembers a verified request's one-time value: its Redis key, or null when it was seen before. */
  async function firstUse(provider: Provider, value: string): Promise<string | null> {
    const key = `${config.queuePrefix}:email-events:seen:${provider}:${createHash('sha256').update(value).digest('hex')}`
    let set: string | null
    try {
      set = await redis.set(key, '1', 'EX', REPLAY_MEMORY_SECONDS, 'NX')
    } catch {
      throw new AppError(503, 'service-unavailable', 'Service temporarily unavailable', 'Redis is not reachable; retry shortly.', undefined, { 'retry-after': '5' })
    }
    return set === 'OK' ? key : null
  }
  /** Applies, forgetting the one-time value if that fails, so that the provider's retry is not refused as a replay. */
  async function applyOnce(request: FastifyRequest, provider: Provider, key: string, mapped: Mapped): Promise<void> {
    try {
      await apply(request, provider, mapped)
    } catch (error) {
      await redis.del(key).catch(() => {})
      throw error
    }
  }

  app.post('/email-events/ses', route('ses', 'Amazon SES bounce and complaint notifications, through SNS',
    'Subscribe this URL (https) to the SNS topic(s) that SES publishes bounce and complaint notifications to, and list them in `SES_SNS_TOPIC_ARNS` '
    + '(raw message delivery off). Every message is verified before use: its topic must be listed (else 403), its signing certificate must come over https '
    + 'from `sns.<region>.amazonaws.com` (else 403), its SNS signature (version 1 or 2) must verify and it must be at most 2 hours old (else 401). '
    + 'A SubscriptionConfirmation is confirmed by fetching its SubscribeURL (502 when SNS does not take it). Notifications: Bounce Permanent → '
    + 'hard-bounce, Transient or Undetermined → soft-bounce, Complaint → complaint, per recipient; found by our return path (`mail.source`), our '
    + 'Message-ID, or the address. Anything else is acknowledged and ignored; the same message again changes nothing.',
    // SNS posts JSON as text/plain; 502: SNS did not take the confirmation.
    { body: SnsMessageSchema, consumes: ['text/plain', 'application/json'] }, [502]), async (request, reply) => {
    const message = request.body
    await sns.verify(message)
    if (message.Type === 'SubscriptionConfirmation') {
      await sns.confirmSubscription(message)
      request.log.info({ provider: 'ses' }, 'SNS subscription confirmed')
    } else if (message.Type === 'UnsubscribeConfirmation') {
      request.log.warn({ provider: 'ses' }, 'SNS subscription ended: SES bounces and complaints no longer arrive here')
    } else {
      await apply(request, 'ses', sesReports(message))
    }
    return reply.code(204).send(null)
  })

  const postmark = route('postmark', 'Postmark bounce and spam-complaint webhooks',
    'Point Postmark\'s Bounce and Spam Complaint webhooks here (https), with basic-auth credentials `POSTMARK_WEBHOOK_USER` / `POSTMARK_WEBHOOK_PASSWORD` '
    + '(checked before the body is read; else 401). RecordType Bounce: HardBounce and BadEmailAddress → hard-bounce; Transient, SoftBounce, DnsError, '
    + 'SpamNotification and Blocked → soft-bounce; other bounce types are ignored. RecordType SpamComplaint → complaint. Found by our Message-ID when the '
    + 'record carries the message headers, else by `Email`.',
    { headers: PostmarkHeaders, body: PostmarkRecordSchema })
  app.post('/email-events/postmark', {
    ...postmark,
    // Credentials before the body is read (as for API keys, plugins/auth.ts), once the rate limit (onRequest) counted the request.
    preParsing: async (request: FastifyRequest, _reply: FastifyReply, payload: RequestPayload) => {
      if (events.postmark) verifyPostmark(request.headers.authorization, events.postmark)
      return payload
    },
  }, async (request, reply) => {
    await apply(request, 'postmark', postmarkReports(request.body))
    return reply.code(204).send(null)
  })

  app.post('/email-events/mailgun', route('mailgun', 'Mailgun event webhooks (failed, complained)',
    'Point Mailgun\'s `Permanent Failure`, `Temporary Failure` and `Spam Complaints` webhooks here (https); `MAILGUN_WEBHOOK_SIGNING_KEY` is the '
    + 'HTTP webhook signing key. The signature (HMAC-SHA256 of timestamp and token) must verify, the timestamp be within 5 minutes, and the token '
    + 'not have been used before (else 401). `failed` with severity permanent → hard-bounce, temporary → soft-bounce (once per message); `complained` → '
    + 'complaint. Found by our return path (`envelope.sender`), our Message-ID, or `recipient`.',
    { body: MailgunEventSchema }), async (request, reply) => {
    const { signature, 'event-data': eventData } = request.body
    verifyMailgun(signature, events.mailgunSigningKey!)
    const key = await firstUse('mailgun', signature.token)
    if (key === null) throw unverified('This Mailgun token was used before (a replay).')
    await applyOnce(request, 'mailgun', key, mailgunReports(eventData))
    return reply.code(204).send(null)
  })

  app.post('/email-events/sendgrid', route('sendgrid', 'SendGrid signed event webhook',
    'Point SendGrid\'s Event Webhook here (https) with Signed Event Webhook on; its verification key is `SENDGRID_WEBHOOK_PUBLIC_KEY`. The ECDSA '
    + 'signature over the timestamp and the raw body must verify, the timestamp be within 5 minutes, and the same signed request not have come before '
    + '(else 401). `bounce` (type bounce) → hard-bounce, `bounce` (type blocked) → soft-bounce, `spamreport` → complaint, `dropped` because of '
    + 'SendGrid\'s bounce or spam-report lists or an invalid address → hard-bounce or complaint; other events are ignored. Found by our Message-ID '
    + '(`smtp-id`) or `email`.',
    { headers: SendgridHeaders, body: SendgridEventsSchema }), async (request, reply) => {
    const raw = rawBodies.get(request)!
    const timestamp = request.headers[SENDGRID_TIMESTAMP_HEADER]
    const signature = request.headers[SENDGRID_SIGNATURE_HEADER]
    verifySendgrid({ signature: typeof signature === 'string' ? signature : undefined, timestamp: typeof timestamp === 'string' ? timestamp : undefined }, raw, sendgridKey!)
    // ECDSA signatures are malleable: the signed bytes, not the signature, name the request.
    const key = await firstUse('sendgrid', `${String(timestamp)}\n${raw.toString('base64')}`)
    if (key === null) throw unverified('This signed SendGrid request came before (a replay).')
    await applyOnce(request, 'sendgrid', key, sendgridReports(request.body))
    return reply.code(204).send(null)
  })
}
