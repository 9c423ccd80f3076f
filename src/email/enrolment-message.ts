// Owns the mail that carries a console enrolment link (contract §9) to the
// person an admin invited or sent a new link: fixed English wording (the
// console is English for now), the person's name, organisation and role,
// the link (a slot, filled by the worker with the token it derives), when
// it stops working, and what to do if it was not expected. Names were typed
// by an admin: they are escaped in HTML and kept on one line in text.
import { html, trusted } from '../pages/html.js'
import { slot, type MessageSpec } from './mime.js'

export const SLOT_ENROL = 'enrol'

const ROLE_WORDS = { admin: 'an admin', editor: 'an editor', partner: 'a partner' } as const

export interface EnrolmentMail {
  displayName: string
  organisationName: string
  role: keyof typeof ROLE_WORDS
  expiresAt: string
}

/** One line of plain text: no control characters, no line breaks an admin could slip into a name. */
const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim()

/** `2025-06-01T12:00:00.000Z` → `1 June 2025, 12:00 UTC` (in English, whatever the server's locale). */
function expiryWords(iso: string): string {
  const d = new Date(iso)
  const date = d.toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' })
  return `${date}, ${d.toISOString().slice(11, 16)} UTC`
}

export function renderEnrolment(m: EnrolmentMail): Omit<MessageSpec, 'from'> {
  const link = slot(SLOT_ENROL)
  const name = oneLine(m.displayName)
  const organisation = oneLine(m.organisationName)
  const role = ROLE_WORDS[m.role]
  const until = expiryWords(m.expiresAt)
  const subject = `Create your passkey for the ${organisation} console`
  const greeting = name ? `Hello ${name},` : 'Hello,'
  const intro = `You have been given access to the Urgent Appeals console of ${organisation}, as ${role}.`
  const how = 'Open the link below to create your passkey: your device’s screen lock, fingerprint or face, or a security key. There is no password.'
  const once = `The link works once, until ${until}. Do not forward it: whoever opens it first gets the passkey.`
  const ignore = 'If this wasn’t expected, ignore this message: nothing happens unless the link is opened, and it stops working by itself.'
  const htmlBody = html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${subject}</title></head>
<body style="margin:0;padding:0;background:#f4f4f4">
<div style="max-width:560px;margin:0 auto;padding:24px;background:#ffffff;color:#1a1a1a;font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5">
<p style="font-weight:bold;margin:0 0 12px">Urgent Appeals</p>
<p>${greeting}</p>
<p>${intro}</p>
<p>${how}</p>
<p><a href="${trusted(link)}" style="display:inline-block;padding:10px 16px;border-radius:6px;background:#b3001b;color:#ffffff;text-decoration:none;font-weight:bold">Create your passkey</a></p>
<p style="color:#555555;font-size:14px">${once}</p>
<p style="color:#555555;font-size:14px">${ignore}</p>
</div>
</body>
</html>
`.value
  const text = [
    'Urgent Appeals', '',
    greeting, '',
    intro, '',
    how, '',
    'Create your passkey:', link, '',
    once, '',
    ignore, '',
  ].join('\n')
  return {
    subject,
    language: 'en',
    text,
    html: htmlBody,
    headers: { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'OOF, AutoReply' },
  }
}
