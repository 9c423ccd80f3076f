// Owns the emails to a partner organisation's contact when one of its
// endpoints is disabled (410, or failing for WEBHOOK_DISABLE_AFTER) and when
// it recovers. Owed notices are flagged in Postgres with the transition and
// sent here; a failed send rolls back, so the next sweep tries again.
import type { Config } from '../config.js'
import type { Pool } from '../db/pool.js'
import { withTransaction } from '../db/pool.js'
import type { Logger } from '../logger.js'
import type { MailTransport } from '../email/transport.js'
import { takeNotices, type Notice } from '../repositories/webhook-deliveries.js'

export function noticeMessage(n: Notice, publicBaseUrl: string): { subject: string; text: string } {
  const name = n.description ? `${n.description} (${n.url})` : n.url
  if (n.kind === 'disabled') {
    const why = n.disabledReason === 'gone'
      ? 'it answered 410 Gone, which means "stop sending"'
      : 'every delivery to it has failed for too long'
    return {
      subject: `Webhook endpoint disabled: ${n.url}`,
      text: [
        `Hello ${n.organisationName},`, '',
        `We disabled your webhook endpoint ${name} because ${why}.`,
        'Deliveries to it are recorded as skipped meanwhile; none are lost.', '',
        'To resume: fix the receiver, check it with POST /v1/webhooks/{id}/test,',
        're-enable it with POST /v1/webhooks/{id}/enable, then replay what it missed',
        'with POST /v1/webhooks/{id}/recover {"since": "<when it broke>"}.', '',
        `API: ${publicBaseUrl}/docs`, `Endpoint id: ${n.endpointId}`,
      ].join('\n'),
    }
  }
  return {
    subject: `Webhook endpoint recovered: ${n.url}`,
    text: [
      `Hello ${n.organisationName},`, '',
      `Your webhook endpoint ${name} is receiving deliveries again.`,
      'If it missed deliveries while it was disabled, replay them with',
      'POST /v1/webhooks/{id}/recover {"since": "<when it broke>"}.', '',
      `Endpoint id: ${n.endpointId}`,
    ].join('\n'),
  }
}

/** Sends owed notices, a few at a time; returns how many were handled. */
export async function sendPendingNotices(
  deps: { pool: Pool; mailer: MailTransport; config: Readonly<Config>; logger: Logger },
): Promise<number> {
  let handled = 0
  for (let round = 0; round < 10; round++) { // bounded: 200 per call
    const n = await withTransaction(deps.pool, async (tx) => {
      const notices = await takeNotices(tx, 20)
      for (const notice of notices) {
        if (!notice.contactEmail) {
          deps.logger.warn({ endpointId: notice.endpointId, kind: notice.kind }, 'webhook notice not sent: the organisation has no contact email')
          continue
        }
        const { subject, text } = noticeMessage(notice, deps.config.publicBaseUrl)
        await deps.mailer.sendMail({ from: deps.config.mailFrom, to: notice.contactEmail, subject, text })
      }
      return notices.length
    })
    handled += n
    if (n < 20) break
  }
  return handled
}
