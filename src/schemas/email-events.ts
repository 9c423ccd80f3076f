// Request schemas of the provider event webhooks (routes/email-events.ts).
// Deliberately open: a provider adds fields whenever it likes, and a
// refused event is retried and then lost, so only what verification and
// the mapping need is named (every named string bounded and storable);
// everything else passes through unread.
import { Type, type Static } from 'typebox'
import { Text } from './common.js'

const open = { additionalProperties: true }

export const SnsMessageSchema = Type.Object({
  Type: Text(64, 1, { description: '`Notification`, `SubscriptionConfirmation` or `UnsubscribeConfirmation`' }),
  MessageId: Text(128, 1),
  TopicArn: Text(1024, 1, { description: 'must be one of `SES_SNS_TOPIC_ARNS`' }),
  Message: Text(300_000, 0, { description: 'for a Notification: the SES notification (or SES event), as JSON text' }),
  Timestamp: Text(64, 1),
  SignatureVersion: Text(8, 1, { description: '`1` (SHA1withRSA) or `2` (SHA256withRSA)' }),
  Signature: Text(4096, 1),
  SigningCertURL: Text(2048, 1, { description: 'https on `sns.<region>.amazonaws.com`, else refused' }),
  Subject: Type.Optional(Text(1024)),
  SubscribeURL: Type.Optional(Text(4096)),
  Token: Type.Optional(Text(4096)),
  UnsubscribeURL: Type.Optional(Text(4096)),
}, { ...open, title: 'SnsMessage', description: 'An Amazon SNS HTTP(S) message (sent as `text/plain` JSON). Raw message delivery must be off: its body carries no signature.' })
export type SnsMessageBody = Static<typeof SnsMessageSchema>

export const PostmarkRecordSchema = Type.Object({
  RecordType: Text(64, 1, { description: '`Bounce` and `SpamComplaint` are acted on; others are acknowledged and ignored' }),
  Type: Type.Optional(Text(64, 0, { description: 'the bounce type, e.g. `HardBounce`, `Transient`, `SpamNotification`' })),
  Email: Type.Optional(Text(512)),
}, { ...open, title: 'PostmarkWebhookRecord', description: 'One Postmark webhook record (bounce or spam complaint webhook).' })
export type PostmarkRecordBody = Static<typeof PostmarkRecordSchema>

export const MailgunEventSchema = Type.Object({
  signature: Type.Object({
    timestamp: Type.String({ pattern: '^[0-9]{1,12}$', description: 'Unix seconds; refused when more than 5 minutes from now' }),
    token: Text(256, 1, { description: 'accepted once' }),
    signature: Text(256, 1, { description: 'hex HMAC-SHA256 of timestamp + token under `MAILGUN_WEBHOOK_SIGNING_KEY`' }),
  }, open),
  'event-data': Type.Object({
    event: Text(64, 1, { description: '`failed` and `complained` are acted on; others are acknowledged and ignored' }),
  }, open),
}, { ...open, title: 'MailgunWebhookEvent', description: 'One Mailgun event webhook (JSON, as Mailgun\'s current webhooks send it).' })
export type MailgunEventBody = Static<typeof MailgunEventSchema>

export const SendgridEventsSchema = Type.Array(Type.Object({
  event: Text(64, 1, { description: '`bounce`, `spamreport` and some `dropped` reasons are acted on; others are acknowledged and ignored' }),
  email: Type.Optional(Text(512)),
  sg_event_id: Type.Optional(Text(256)),
}, open), { maxItems: 10_000, title: 'SendgridEventBatch', description: 'A batch of SendGrid event webhook events.' })
export type SendgridEventsBody = Static<typeof SendgridEventsSchema>

export const SendgridHeaders = Type.Object({
  'x-twilio-email-event-webhook-signature': Type.Optional(Type.String({ description: 'base64 DER ECDSA P-256 signature of the timestamp followed by the raw body' })),
  'x-twilio-email-event-webhook-timestamp': Type.Optional(Type.String({ description: 'Unix seconds; refused when more than 5 minutes from now' })),
})

export const PostmarkHeaders = Type.Object({
  authorization: Type.Optional(Type.String({ description: '`Basic` with `POSTMARK_WEBHOOK_USER` and `POSTMARK_WEBHOOK_PASSWORD`' })),
})

export const Accepted = Type.Null({ description: 'Verified and applied (or acknowledged: nothing in it concerns a supporter, or it was applied before).' })
