// Owns what both channels share in the `deliveries` table (one row per
// event, channel and recipient): the status vocabulary of each channel, and
// the SQL that does not depend on the channel. Channel work (freeze, claim,
// outcomes, sweeps) stays in webhook-deliveries.ts and email-deliveries.ts.
/** Statuses a webhook delivery goes through (the contract's WebhookDeliveryStatus). */
export const WEBHOOK_STATUSES = ['pending', 'sending', 'delivered', 'retrying', 'failed', 'expired', 'skipped', 'cancelled'] as const
export type WebhookStatus = (typeof WEBHOOK_STATUSES)[number]
/** Webhook deliveries that need no more work. */
export const WEBHOOK_FINAL_STATUSES = ['delivered', 'failed', 'expired', 'skipped', 'cancelled'] as const satisfies readonly WebhookStatus[]

/** Statuses an email delivery goes through. */
export const EMAIL_STATUSES = ['pending', 'sending', 'retrying', 'sent', 'failed', 'suppressed', 'cancelled'] as const
export type EmailStatus = (typeof EMAIL_STATUSES)[number]
/** Email deliveries that need no more work. */
export const EMAIL_FINAL_STATUSES = ['sent', 'failed', 'suppressed', 'cancelled'] as const satisfies readonly EmailStatus[]

/** Statuses that still have work to do, the same in both channels. */
export const UNFINISHED_STATUSES = ['pending', 'sending', 'retrying'] as const satisfies readonly (WebhookStatus & EmailStatus)[]
export type UnfinishedStatus = (typeof UNFINISHED_STATUSES)[number]

export const isUnfinished = (status: string): boolean => (UNFINISHED_STATUSES as readonly string[]).includes(status)
