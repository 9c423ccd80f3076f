// Owns the confirmation mail of double opt-in. Only fixed wording from the
// catalogue and our own links: nothing a requester typed (not even the
// filters) is echoed, so the form cannot carry a message to a stranger.
import { t, type Locale } from '../i18n/index.js'
import { html, trusted } from '../pages/html.js'
import { slot, type MessageSpec } from './mime.js'

export const SLOT_CONFIRM = 'confirm'

export function renderConfirmation(locale: Locale): Omit<MessageSpec, 'from'> {
  const confirm = slot(SLOT_CONFIRM)
  const subject = t(locale, 'mail.confirm.subject')
  const htmlBody = html`<!doctype html>
<html lang="${locale}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${subject}</title></head>
<body style="margin:0;padding:0;background:#f4f4f4">
<div style="max-width:560px;margin:0 auto;padding:24px;background:#ffffff;color:#1a1a1a;font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5">
<p style="font-weight:bold;margin:0 0 12px">${t(locale, 'site.name')}</p>
<p>${t(locale, 'mail.confirm.intro')}</p>
<p><a href="${trusted(confirm)}" style="display:inline-block;padding:10px 16px;border-radius:6px;background:#b3001b;color:#ffffff;text-decoration:none;font-weight:bold">${t(locale, 'mail.confirm.button')}</a></p>
<p style="color:#555555;font-size:14px">${t(locale, 'mail.confirm.expiry')}</p>
<p style="color:#555555;font-size:14px">${t(locale, 'mail.confirm.notMe')} <a href="${trusted(confirm)}#not-me">${t(locale, 'confirm.notMeTitle')}</a></p>
</div>
</body>
</html>
`.value
  const text = [
    t(locale, 'site.name'), '',
    t(locale, 'mail.confirm.intro'), '',
    `${t(locale, 'mail.confirm.button')}:`, confirm, '',
    t(locale, 'mail.confirm.expiry'), '',
    t(locale, 'mail.confirm.notMe'), `${confirm}#not-me`, '',
  ].join('\n')
  return {
    subject,
    language: locale,
    text,
    html: htmlBody,
    headers: { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'OOF, AutoReply' },
  }
}
