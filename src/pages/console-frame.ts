// Owns the frame every console page shares (contract §9): the header with
// the console's navigation for the viewer's role and the sign-out button,
// built on the public site's layout (layout.ts) and escaping template
// (html.ts), and the small pieces console pages repeat (the CSRF field,
// dates, role names). Each console area (sign-in and people in
// console-pages.ts; appeals, webhooks, administration in their own
// modules) renders its body and hands it here.
import type { Role } from '../auth/api-keys.js'
import type { Person } from '../services/people.js'
import { html, type SafeHtml } from './html.js'
import { layout } from './layout.js'
import { PASSKEY_SCRIPT_PATH, WEBAUTHN_SCRIPT_PATH } from './console-script.js'

export interface ConsoleSite {
  /** PUBLIC_BASE_URL's path ('' or e.g. '/alerts'): links and form actions. */
  basePath: string
}

/** The signed-in person and their session's CSRF token. */
export interface Viewer {
  person: Person
  csrf: string
}

export const ROLE_NAMES: Record<Role, string> = { admin: 'Admin', editor: 'Editor', partner: 'Partner' }

export const dateTime = (iso: string | null) => (iso ? new Date(iso).toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : 'never')

/** The hidden field every state-changing console form carries. */
export const csrfField = (viewer: Viewer): SafeHtml => html`<input type="hidden" name="_csrf" value="${viewer.csrf}">`

/** A console area in the navigation: its path under /console, its name, and the roles that see it. */
export interface ConsoleNavItem {
  key: string
  path: string
  label: string
  roles: readonly Role[]
}

/** The navigation, in order. Areas add themselves here as they are built. */
const CONSOLE_NAV: readonly ConsoleNavItem[] = [
  { key: 'appeals', path: '/appeals', label: 'Appeals', roles: ['editor', 'admin'] },
  { key: 'account', path: '', label: 'Account', roles: ['admin', 'editor', 'partner'] },
  { key: 'webhooks', path: '/webhooks', label: 'Webhooks', roles: ['partner', 'admin'] },
  { key: 'supporters', path: '/supporters', label: 'Supporters', roles: ['editor', 'admin'] },
  { key: 'keys', path: '/api-keys', label: 'API keys', roles: ['admin'] },
  { key: 'audit', path: '/audit-log', label: 'Audit log', roles: ['admin'] },
]

export interface ConsoleFrame {
  title: string
  body: SafeHtml
  viewer?: Viewer
  /** Which navigation item this page belongs to. */
  current?: string
  /** The passkey scripts (sign-in, enrolment, adding a passkey). */
  passkeys?: boolean
  /** Further same-origin scripts (hashed, immutable paths). */
  scripts?: string[]
}

export function consoleFrame(site: ConsoleSite, o: ConsoleFrame): string {
  const nav = o.viewer
    ? CONSOLE_NAV.filter((item) => item.roles.includes(o.viewer!.person.role))
    : []
  const header = html`<header class="site"><a class="brand" href="${site.basePath}/console">Urgent Appeals console</a>${nav.length > 1 ? html`
<nav aria-label="Console"><ul>${nav.map((item) => html`<li><a href="${site.basePath}/console${item.path}"${item.key === o.current ? html` aria-current="page"` : ''}>${item.label}</a></li>`)}</ul></nav>` : ''}${o.viewer ? html`
<form method="post" action="${site.basePath}/console/sign-out">${csrfField(o.viewer)}<button type="submit" class="secondary">Sign out</button></form>` : ''}</header>`
  return layout({
    locale: 'en', title: o.title, body: o.body, header, referrer: 'same-origin',
    scripts: [
      ...(o.passkeys ? [`${site.basePath}${WEBAUTHN_SCRIPT_PATH}`, `${site.basePath}${PASSKEY_SCRIPT_PATH}`] : []),
      ...(o.scripts ?? []),
    ],
  })
}
