// Owns the console's sign-in pages (contract §9): sign in with a passkey,
// enrol a passkey from a one-time link (and the page for a link that no
// longer works), the signed-in landing page (who you are, your passkeys,
// sign out; for admins the organisation's people, invitations and
// disabling), and the console's error page. Built with the public site's
// frame (layout.ts) and escaping template (html.ts). English only for now:
// the console's wording is not in the supporters' catalogue; the frame's
// shared text is.
//
// Every state change is a form carrying the session's CSRF token; the
// passkey forms are progressive (console-script.ts) and need JavaScript,
// which the page says when it is off.
import type { Role } from '../auth/api-keys.js'
import type { Person } from '../services/people.js'
import type { PasskeyRow } from '../repositories/people.js'
import { html, type SafeHtml } from './html.js'
import { consoleFrame, csrfField, dateTime, ROLE_NAMES, type ConsoleFrame, type ConsoleSite, type Viewer } from './console-frame.js'

export type { ConsoleSite, Viewer } from './console-frame.js'

const frame = (site: ConsoleSite, o: ConsoleFrame) => consoleFrame(site, { current: 'account', ...o })

/**
 * A passkey form: hidden until the script shows it; its status is read
 * out as it changes. `action` receives the ceremony's answer (JSON).
 */
function passkeyForm(o: {
  id: string; kind: 'sign-in' | 'register'; options: string; action: string; button: string; working: string; csrf?: string; nameField?: boolean
}): SafeHtml {
  return html`<p id="${o.id}-noscript" class="notice">Passkeys need JavaScript: turn it on for this site to continue.</p>
<form id="${o.id}" method="post" action="${o.action}" hidden data-passkey="${o.kind}" data-options="${o.options}"
 data-status="${o.id}-status" data-noscript="${o.id}-noscript"${o.csrf ? html` data-csrf="${o.csrf}"` : ''}
 data-working="${o.working}" data-cancelled="The passkey prompt was cancelled or timed out. Try again."
 data-unsupported="This browser cannot use passkeys. Use a current version of Chrome, Edge, Firefox or Safari.">
${o.nameField ? html`<label class="stacked" for="${o.id}-name">Name this passkey</label>
<p class="muted" id="${o.id}-name-help">So you can tell your passkeys apart, e.g. “Work laptop” or “Phone”.</p>
<p><input type="text" id="${o.id}-name" name="name" maxlength="60" value="Passkey" aria-describedby="${o.id}-name-help" autocomplete="off"></p>
` : ''}<p><button type="submit">${o.button}</button></p>
<p id="${o.id}-status" role="status" aria-live="polite"></p>
</form>`
}

export function signInPage(site: ConsoleSite, notice?: string): string {
  return frame(site, {
    title: 'Sign in', passkeys: true,
    body: html`${notice ? html`<p class="notice">${notice}</p>` : ''}<p>Staff and partners of organisations using Urgent Appeals sign in with a passkey: your device’s screen lock, fingerprint or face, or a security key. No password.</p>
${passkeyForm({ id: 'sign-in', kind: 'sign-in', options: `${site.basePath}/console/sign-in/options`, action: `${site.basePath}/console/sign-in`, button: 'Sign in with a passkey', working: 'Waiting for your passkey…' })}
<p class="muted">No passkey yet? Ask an admin of your organisation for an enrolment link.</p>`,
  })
}

export function enrolPage(site: ConsoleSite, person: Person, token: string): string {
  const base = `${site.basePath}/console/enrol/${encodeURIComponent(token)}`
  return frame(site, {
    title: 'Create your passkey', passkeys: true,
    body: html`<p>This link lets <strong>${person.email}</strong> create a passkey for the <strong>${person.organisationName}</strong> console, as ${ROLE_NAMES[person.role].toLowerCase()}. It works once.</p>
<p>Your browser will ask you to confirm with your screen lock, fingerprint, face or security key. The passkey stays on your device or security key; we keep only its public key.</p>
${passkeyForm({ id: 'enrol', kind: 'register', options: `${base}/options`, action: base, button: 'Create a passkey', working: 'Waiting for your passkey…', nameField: true })}`,
  })
}

export function enrolGonePage(site: ConsoleSite, state: 'used' | 'expired' | 'unknown'): string {
  const why = state === 'expired'
    ? 'This enrolment link has expired.'
    : state === 'used'
      ? 'This enrolment link has already been used, or a newer link was sent.'
      : 'This enrolment link is not valid. Check that you opened the whole link from the message.'
  return frame(site, {
    title: 'This link no longer works',
    body: html`<p class="notice">${why}</p>
<p>Links are for one passkey only, for 24 hours (15 minutes when sent again). Ask an admin of your organisation to send you a new one.</p>
<p>Already have a passkey? <a href="${site.basePath}/console/sign-in">Sign in</a>.</p>`,
  })
}

export function errorPage(site: ConsoleSite, title: string, detail: string, signedIn: boolean): string {
  return frame(site, {
    title,
    body: html`<p class="notice">${detail}</p>
<p><a href="${site.basePath}/console${signedIn ? '' : '/sign-in'}">${signedIn ? 'Back to the console' : 'Sign in'}</a></p>`,
  })
}

/** What the landing page confirms after a form (from `?done=`): fixed wording only. */
export const NOTICES = {
  'passkey-added': 'Your new passkey is ready.',
  'passkey-revoked': 'The passkey is revoked: it can no longer sign in.',
  'person-disabled': 'The person is disabled and signed out everywhere.',
} as const
export type NoticeKey = keyof typeof NOTICES

export interface LandingData {
  viewer: Viewer
  passkeys: PasskeyRow[]
  /** The organisation's people (admins only). */
  people: (Person & { passkeys: number })[] | null
  notice?: SafeHtml | string
}

function passkeyList(site: ConsoleSite, d: LandingData): SafeHtml {
  const only = d.passkeys.length === 1
  return html`<ul class="cards">${d.passkeys.map((k) => html`
<li class="card"><h3>${k.name}</h3>
<p class="meta">Added ${dateTime(k.createdAt)} · last used ${dateTime(k.lastUsedAt)}${k.backedUp ? ' · synced' : ''}</p>
${only ? html`<p class="muted">Your only passkey: add another before you can revoke this one.</p>` : html`<form method="post" action="${site.basePath}/console/passkeys/${k.id}/revoke">${csrfField(d.viewer)}<button type="submit" class="secondary" aria-label="Revoke the passkey ${k.name}">Revoke</button></form>`}
</li>`)}
</ul>`
}

function peopleSection(site: ConsoleSite, d: LandingData): SafeHtml {
  if (!d.people) return html``
  const me = d.viewer.person.id
  return html`<h2 id="people">People of ${d.viewer.person.organisationName}</h2>
<ul class="cards">${d.people.map((p) => html`
<li class="card"><h3>${p.displayName || p.email}</h3>
<p class="meta">${p.email} · ${ROLE_NAMES[p.role]} · ${p.disabledAt ? `disabled ${dateTime(p.disabledAt)}` : p.passkeys === 0 ? 'not enrolled yet' : `${p.passkeys} passkey${p.passkeys === 1 ? '' : 's'}`}</p>
${p.id === me || p.disabledAt ? '' : html`<div class="actions">
<form method="post" action="${site.basePath}/console/people/${p.id}/enrolment-link">${csrfField(d.viewer)}<button type="submit" class="secondary" aria-label="New enrolment link for ${p.email}">New enrolment link</button></form>
<form method="post" action="${site.basePath}/console/people/${p.id}/disable">${csrfField(d.viewer)}<button type="submit" class="secondary" aria-label="Disable ${p.email}">Disable</button></form>
</div>`}
</li>`)}
</ul>
<h3>Invite someone</h3>
<form method="post" action="${site.basePath}/console/people">${csrfField(d.viewer)}
<label class="stacked" for="invite-email">Email address</label>
<p><input type="email" id="invite-email" name="email" required maxlength="254" autocomplete="off"></p>
<label class="stacked" for="invite-name">Name (optional)</label>
<p><input type="text" id="invite-name" name="displayName" maxlength="100" autocomplete="off"></p>
<label class="stacked" for="invite-role">Role</label>
<p><select id="invite-role" name="role">${(['editor', 'admin', 'partner'] as Role[]).map((r) => html`<option value="${r}">${ROLE_NAMES[r]}</option>`)}</select></p>
<p><button type="submit">Invite</button></p>
</form>`
}

export function landingPage(site: ConsoleSite, d: LandingData): string {
  const { person } = d.viewer
  return frame(site, {
    title: 'Console', viewer: d.viewer, passkeys: true,
    body: html`${d.notice ? html`<div class="notice" role="status">${d.notice}</div>` : ''}<dl>
<dt>Signed in as</dt><dd>${person.displayName ? html`${person.displayName} (${person.email})` : person.email}</dd>
<dt>Organisation</dt><dd>${person.organisationName}</dd>
<dt>Role</dt><dd>${ROLE_NAMES[person.role]}</dd>
</dl>
<h2>Your passkeys</h2>
${passkeyList(site, d)}
<h3>Add a passkey</h3>
${passkeyForm({ id: 'add-passkey', kind: 'register', options: `${site.basePath}/console/passkeys/options`, action: `${site.basePath}/console/passkeys`, button: 'Add a passkey', working: 'Waiting for your passkey…', csrf: d.viewer.csrf, nameField: true })}
<h2>Sessions</h2>
<p>Sessions end after 30 minutes without activity, and 12 hours after sign-in.</p>
<form method="post" action="${site.basePath}/console/sign-out-everywhere">${csrfField(d.viewer)}<button type="submit" class="secondary">Sign out everywhere</button></form>
${peopleSection(site, d)}`,
  })
}

/** The answer to an invitation or a new link: the link, shown once, and whether it was mailed. */
export function linkNotice(o: { email: string; url: string; expiresAt: string; mailed: boolean; invited: boolean }): SafeHtml {
  return html`<p>${o.invited ? 'Invitation created' : 'New enrolment link created'} for <strong>${o.email}</strong>${o.mailed ? ' and mailed to them' : ''}. It works once, until ${dateTime(o.expiresAt)}:</p>
<p><code class="link">${o.url}</code></p>
<p class="muted">Shown only now. Send it only to them.</p>`
}
