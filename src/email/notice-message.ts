// Owns what the mail to a partner organisation's contact says when one of
// its webhook endpoints is disabled (410, or failing for
// WEBHOOK_DISABLE_AFTER) and when it recovers: plain text, in the
// organisation's language, with the calls that bring the endpoint back.
import { localeFor, t } from '../i18n/index.js'
import type { Notice } from '../repositories/webhook-deliveries.js'

export interface NoticeMessage { subject: string; text: string; language: string }

export function renderNotice(n: Notice, publicBaseUrl: string): NoticeMessage {
  const locale = localeFor(n.language)
  const endpoint = n.description ? `${n.description} (${n.url})` : n.url
  const lines = [t(locale, 'notice.greeting', { organisation: n.organisationName }), '']
  if (n.kind === 'disabled') {
    const why = t(locale, n.disabledReason === 'gone' ? 'notice.disabled.gone' : 'notice.disabled.failing')
    lines.push(
      t(locale, 'notice.disabled.body', { endpoint, why }),
      t(locale, 'notice.disabled.skipped'), '',
      t(locale, 'notice.disabled.resume', { id: n.endpointId }), '',
      t(locale, 'notice.docs', { url: `${publicBaseUrl}/docs` }),
    )
  } else {
    lines.push(t(locale, 'notice.recovered.body', { endpoint }), t(locale, 'notice.recovered.replay', { id: n.endpointId }), '')
  }
  lines.push(t(locale, 'notice.endpointId', { id: n.endpointId }))
  return {
    subject: t(locale, n.kind === 'disabled' ? 'notice.disabled.subject' : 'notice.recovered.subject', { url: n.url }),
    text: lines.join('\n'),
    language: locale,
  }
}
