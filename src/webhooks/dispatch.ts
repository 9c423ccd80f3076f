// Owns signing and sending one webhook attempt: the body (the event's
// payload, serialised once per event), the endpoint's active secrets
// (opened through the process's SecretCache), the Standard Webhooks headers
// (signing.ts) and the POST through the one WebhookHttpClient, whose SSRF
// guard and deadline apply to every attempt.
import type { Logger } from '../logger.js'
import type { ClaimedDelivery } from '../repositories/webhook-deliveries.js'
import type { AttemptResult, WebhookHttpClient } from './http-client.js'
import type { SecretCache } from './secret-cache.js'
import { webhookHeaders } from './signing.js'

/** An attempt made: its result and when it started (epoch ms). */
export interface Sent { result: AttemptResult; startedAt: number }

/** Bodies of one chunk job by event id: every row of an event sends the same bytes. */
export type Bodies = Map<string, Buffer>

export class Dispatcher {
  constructor(private readonly deps: {
    client: WebhookHttpClient
    secrets: SecretCache
    logger: Pick<Logger, 'error'>
  }) {}

  /** Signs and posts the row's event; null (nothing sent) when the endpoint's secrets cannot be opened. */
  async send(row: ClaimedDelivery, bodies: Bodies): Promise<Sent | null> {
    const secrets = this.secretsOf(row)
    if (!secrets || !row.url) return null
    let body = bodies.get(row.eventId)
    if (!body) { body = Buffer.from(JSON.stringify(row.payload)); bodies.set(row.eventId, body) }
    const startedAt = Date.now()
    const result = await this.deps.client.post(row.url, webhookHeaders(row.eventId, body, secrets, startedAt), body)
    return { result, startedAt }
  }

  private secretsOf(row: ClaimedDelivery): string[] | null {
    if (!row.secretCurrent) return null
    try {
      return this.deps.secrets.open(row.endpointId, row.secretCurrent, row.previousActive ? row.secretPrevious : null)
    } catch (error) {
      this.deps.logger.error({ err: error, endpointId: row.endpointId }, 'cannot decrypt a webhook secret')
      return null
    }
  }
}
