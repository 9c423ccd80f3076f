// Helpers shared by the webhook test files: the worker pieces a real
// deployment runs (outbox relay + delivery workers), endpoint creation
// through the API, Standard Webhooks verification as a receiver does it,
// and bounded waits on Postgres.
import { pino } from 'pino'
import { Webhook } from 'standardwebhooks'
import type { Config } from '../../src/config.js'
import { createPool } from '../../src/db/pool.js'
import { startDeliveryWorkers } from '../../src/delivery/workers.js'
import { createWorkerRedis } from '../../src/queue/queues.js'
import { WebhookChannel } from '../../src/webhooks/channel.js'
import { createWebhookQueue } from '../../src/webhooks/queue.js'
import { startTestSweeper, type TestApp } from './context.js'
import type { ReceivedRequest } from './receiver.js'
import { eventually as poll } from './eventually.js'

interface Tap { teardown(fn: () => unknown): void }

/**
 * The webhook channel on a queue of its own that no worker consumes, closed
 * at teardown, and the id of the published appeal's event: for tests that
 * freeze, enqueue and reconcile by hand.
 */
export async function handDrivenWebhookChannel(t: Tap, ctx: TestApp) {
  const { rows: [event] } = await ctx.pool.query<{ id: string }>(`SELECT id FROM events WHERE type = 'appeal.published'`)
  const redis = createWorkerRedis(ctx.config.redisUrl)
  const queue = createWebhookQueue(redis, ctx.config.queuePrefix)
  t.teardown(async () => { await queue.close(); redis.disconnect() })
  return { eventId: event!.id, queue, channel: new WebhookChannel({ pool: ctx.pool, config: ctx.config, queue }) }
}

/** The `worker` role as cli.ts starts it: outbox relay and delivery workers, closed at teardown. */
export async function startDelivery(t: Tap, config: Readonly<Config>): Promise<{ close(): Promise<void> }> {
  const relay = await startTestSweeper(t, config)
  const pool = createPool(config.databaseUrl, { max: 6, applicationName: 'urgent-appeals-test-delivery' })
  const delivery = await startDeliveryWorkers({ config, pool, logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) })
  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= (async () => {
      await relay.close()
      await delivery.close()
      await pool.end()
    })()
    return closing
  }
  t.teardown(close)
  return { close }
}

type As = 'partner' | 'otherPartner' | 'admin'

/** Registers an endpoint through the API; returns the 201 body (with `secret`). */
export async function createEndpoint(ctx: TestApp, body: Record<string, unknown>, as: As = 'partner'): Promise<any> {
  const res = await ctx.request(as, 'POST', '/v1/webhooks', { eventTypes: ['appeal.published'], ...body })
  if (res.statusCode !== 201) throw new Error(`create webhook failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

/** Verifies a received request exactly as a partner would, with the standardwebhooks package. Throws if invalid. */
export function verify(secret: string, request: ReceivedRequest): unknown {
  return new Webhook(secret).verify(request.body, {
    'webhook-id': String(request.headers['webhook-id']),
    'webhook-timestamp': String(request.headers['webhook-timestamp']),
    'webhook-signature': String(request.headers['webhook-signature']),
  })
}

/** Polls `check` every 25 ms until it returns a truthy value; rejects after `timeoutMs`. */
export const eventually = <T>(check: () => Promise<T | null | undefined | false>, timeoutMs = 10_000, what = 'condition') =>
  poll(check, timeoutMs, what)

/** The endpoint's deliveries as the partner sees them (first page). */
export async function deliveriesOf(ctx: TestApp, endpointId: string, as: As = 'partner', query = ''): Promise<any[]> {
  const res = await ctx.request(as, 'GET', `/v1/webhooks/${endpointId}/deliveries${query}`)
  if (res.statusCode !== 200) throw new Error(`deliveries failed: ${res.statusCode} ${res.body}`)
  return res.json().items
}
