// Owns the console's administration pages (contract §7, §9): API keys
// (the list without secrets, the form that issues one and the page that
// shows it once, the revoke confirmation), the audit log (filters as
// GET /v1/audit-log has them, newest first, who acted by name) and the
// supporter counts (counts only, as GET /v1/subscribers/stats). Rendered in
// the console frame (console-frame.ts); no JavaScript; every change is a
// form with the session's CSRF token. English, like the rest of the console.
import { ROLES, type Role } from '../auth/api-keys.js'
import type { AuditEntry } from '../repositories/audit-log.js'
import type { DisplayNames } from '../repositories/display-names.js'
import type { ApiKeyView } from '../services/admin-views.js'
import type { SubscriberStats } from '../schemas/subscription.js'
import { html, type SafeHtml } from './html.js'
import { consoleFrame, csrfField, dateTime, ROLE_NAMES, type ConsoleSite, type Viewer } from './console-frame.js'

export interface OrganisationChoice { id: string; name: string; kind: 'ngo' | 'partner' }

const noticeBlock = (notice?: string) => (notice ? html`<div class="notice" role="status">${notice}</div>` : '')
const errorBlock = (error?: string) => (error ? html`<div class="notice error" role="alert"><p>${error}</p></div>` : '')
const olderLink = (href: string | null, label: string) => (href ? html`<p><a href="${href}">${label}</a></p>` : '')

// ---- API keys ----------------------------------------------------------------

/** What the create form had, to show it again with its error. */
export interface KeyForm { organisationId: string; role: string; name: string; error?: string }

export interface ApiKeysData {
  viewer: Viewer
  keys: ApiKeyView[]
  names: DisplayNames
  organisations: OrganisationChoice[]
  /** The next page's URL (older keys). */
  older: string | null
  notice?: string
  form?: KeyForm
  /** Just issued: the secret, shown in this answer only. */
  created?: { key: string; apiKey: ApiKeyView }
}

function keyCard(site: ConsoleSite, d: ApiKeysData, k: ApiKeyView): SafeHtml {
  const organisation = d.names.organisations.get(k.organisationId) ?? k.organisationId
  return html`<li class="card"><h3>${k.name}</h3>
<p class="meta"><code>${k.prefix}…</code> · ${ROLE_NAMES[k.role]} · ${organisation}</p>
<p class="meta">Created ${dateTime(k.createdAt)} · last used ${dateTime(k.lastUsedAt)}${k.revokedAt ? html` · <strong>revoked ${dateTime(k.revokedAt)}</strong>` : ''}</p>
${k.revokedAt ? '' : html`<p><a href="${site.basePath}/console/api-keys/${k.id}/revoke" aria-label="Revoke the key ${k.name} (${k.prefix})">Revoke…</a></p>`}
</li>`
}

export function apiKeysPage(site: ConsoleSite, d: ApiKeysData): string {
  const form = d.form ?? { organisationId: d.viewer.person.organisationId, role: 'editor', name: '' }
  const created = d.created
    ? html`<div class="notice" role="status"><h2>New key: copy it now</h2>
<p>The key <strong>${d.created.apiKey.name}</strong> (${ROLE_NAMES[d.created.apiKey.role]}, ${d.names.organisations.get(d.created.apiKey.organisationId) ?? ''}) is shown <strong>only this once</strong>; we keep only a hash of it. Store it where its user keeps secrets.</p>
<p><code class="link">${d.created.key}</code></p></div>`
    : ''
  return consoleFrame(site, {
    title: 'API keys', viewer: d.viewer, current: 'keys',
    body: html`${noticeBlock(d.notice)}${created}<p>Keys are for machines (scripts, partner systems) calling the API at <code>/v1</code>; people use the console. A key has the rights of its role in its organisation; admin keys act across organisations.</p>
<h2>Issue a key</h2>
${errorBlock(form.error)}<form method="post" action="${site.basePath}/console/api-keys">${csrfField(d.viewer)}
<label class="stacked" for="key-name">Name</label>
<p class="muted" id="key-name-help">Who or what uses it, e.g. “Newsroom CMS”.</p>
<p><input type="text" id="key-name" name="name" required maxlength="200" value="${form.name}" aria-describedby="key-name-help" autocomplete="off"></p>
<label class="stacked" for="key-organisation">Organisation</label>
<p><select id="key-organisation" name="organisationId">${d.organisations.map((o) => html`<option value="${o.id}"${o.id === form.organisationId ? html` selected` : ''}>${o.name}${o.kind === 'partner' ? ' (partner)' : ''}</option>`)}</select></p>
<label class="stacked" for="key-role">Role</label>
<p><select id="key-role" name="role">${(ROLES as Role[]).map((r) => html`<option value="${r}"${r === form.role ? html` selected` : ''}>${ROLE_NAMES[r]}</option>`)}</select></p>
<p><button type="submit">Issue the key</button></p>
</form>
<h2>Keys</h2>
${d.keys.length === 0 ? html`<p>No keys yet.</p>` : html`<ul class="cards">${d.keys.map((k) => keyCard(site, d, k))}</ul>`}
${olderLink(d.older, 'Older keys')}`,
  })
}

export function revokeKeyPage(site: ConsoleSite, d: { viewer: Viewer; key: ApiKeyView; organisationName: string }): string {
  const k = d.key
  return consoleFrame(site, {
    title: 'Revoke an API key', viewer: d.viewer, current: 'keys',
    body: k.revokedAt
      ? html`<p class="notice">The key <strong>${k.name}</strong> (<code>${k.prefix}…</code>) was revoked ${dateTime(k.revokedAt)}.</p>
<p><a href="${site.basePath}/console/api-keys">Back to the API keys</a></p>`
      : html`<p>Revoke the key <strong>${k.name}</strong> (<code>${k.prefix}…</code>), ${ROLE_NAMES[k.role].toLowerCase()} of <strong>${d.organisationName}</strong>, last used ${dateTime(k.lastUsedAt)}?</p>
<p>Whatever uses it stops working at once: every request with it is refused (401). This cannot be undone; issue a new key to replace it.</p>
<form method="post" action="${site.basePath}/console/api-keys/${k.id}/revoke">${csrfField(d.viewer)}
<div class="actions"><button type="submit">Revoke the key</button> <a href="${site.basePath}/console/api-keys">Cancel</a></div>
</form>`,
  })
}

// ---- The audit log --------------------------------------------------------------

export interface AuditFilterForm { resourceType: string; resourceId: string; organisationId: string; action: string }

export interface AuditData {
  viewer: Viewer
  entries: AuditEntry[]
  names: DisplayNames
  organisations: OrganisationChoice[]
  filter: AuditFilterForm
  older: string | null
}

function who(e: AuditEntry, names: DisplayNames): SafeHtml {
  const role = e.actorRole && e.actorRole !== 'operator' && e.actorRole in ROLE_NAMES ? ROLE_NAMES[e.actorRole as Role].toLowerCase() : null
  if (e.personId) {
    const p = names.people.get(e.personId)
    return html`${p ? (p.displayName ? `${p.displayName} <${p.email}>` : p.email) : `person ${e.personId}`}${role ? ` (${role})` : ''}`
  }
  if (e.apiKeyId) {
    const k = names.apiKeys.get(e.apiKeyId)
    return html`API key ${k ? html`“${k.name}” <code>${k.prefix}…</code>` : e.apiKeyId}${role ? ` (${role})` : ''}`
  }
  if (e.actorRole === 'service') return html`The service itself (automatic)`
  return html`Operator (command line)`
}

/** Details as compact JSON, cut short: the API has the whole entry. */
const details = (d: Record<string, unknown>) => {
  const text = JSON.stringify(d)
  return text === '{}' ? '' : text.length > 300 ? `${text.slice(0, 299)}…` : text
}

export function auditPage(site: ConsoleSite, d: AuditData): string {
  const f = d.filter
  return consoleFrame(site, {
    title: 'Audit log', viewer: d.viewer, current: 'audit',
    body: html`<p>Who did what, when, to which resource, newest first — people by their address, machines by their key.</p>
<form method="get" action="${site.basePath}/console/audit-log">
<label class="stacked" for="audit-action">Action</label>
<p class="muted" id="audit-action-help">e.g. <code>appeal.publish</code>, <code>api-key.revoke</code>, <code>person.create</code>.</p>
<p><input type="text" id="audit-action" name="action" maxlength="60" value="${f.action}" aria-describedby="audit-action-help" autocomplete="off"></p>
<label class="stacked" for="audit-type">Resource type</label>
<p class="muted" id="audit-type-help">e.g. <code>appeal</code>, <code>api-key</code>, <code>person</code>, <code>organisation</code>.</p>
<p><input type="text" id="audit-type" name="resourceType" maxlength="40" value="${f.resourceType}" aria-describedby="audit-type-help" autocomplete="off"></p>
<label class="stacked" for="audit-resource">Resource id</label>
<p><input type="text" id="audit-resource" name="resourceId" maxlength="100" value="${f.resourceId}" autocomplete="off"></p>
<label class="stacked" for="audit-organisation">Organisation</label>
<p><select id="audit-organisation" name="organisationId"><option value="">All organisations</option>${d.organisations.map((o) => html`<option value="${o.id}"${o.id === f.organisationId ? html` selected` : ''}>${o.name}</option>`)}</select></p>
<p><button type="submit">Filter</button> <a href="${site.basePath}/console/audit-log">Clear the filters</a></p>
</form>
<h2>Entries</h2>
${d.entries.length === 0 ? html`<p>No entries${Object.values(f).some(Boolean) ? ' match these filters' : ''}.</p>` : html`<ul class="cards">${d.entries.map((e) => html`
<li class="card"><h3><code>${e.action}</code> · ${e.resourceType}${e.resourceId ? html` <code>${e.resourceId}</code>` : ''}</h3>
<p class="meta">${dateTime(e.at)} · ${who(e, d.names)}${e.organisationId ? ` · ${d.names.organisations.get(e.organisationId) ?? e.organisationId}` : ''}</p>
${details(e.details) ? html`<p class="meta"><code>${details(e.details)}</code></p>` : ''}
</li>`)}</ul>`}
${olderLink(d.older, 'Older entries')}`,
  })
}

// ---- Supporters ---------------------------------------------------------------------

const STATUS_NAMES = { active: 'Active (confirmed)', pending: 'Waiting for confirmation', unsubscribed: 'Unsubscribed' } as const

function countTable(id: string, caption: string, first: string, rows: [string, number][], empty: string): SafeHtml {
  if (rows.length === 0) return html`<h2 id="${id}">${caption}</h2><p>${empty}</p>`
  const cell = 'text-align:left;padding:.25rem 1.5rem .25rem 0;border-bottom:1px solid var(--line)'
  const count = 'text-align:right;padding:.25rem 0;border-bottom:1px solid var(--line);font-variant-numeric:tabular-nums'
  return html`<h2 id="${id}">${caption}</h2>
<table aria-labelledby="${id}" style="border-collapse:collapse">
<thead><tr><th scope="col" style="${cell}">${first}</th><th scope="col" style="${count}">Count</th></tr></thead>
<tbody>${rows.map(([k, n]) => html`<tr><th scope="row" style="${cell};font-weight:normal">${k}</th><td style="${count}">${n.toLocaleString('en')}</td></tr>`)}</tbody>
</table>`
}

export function supportersPage(site: ConsoleSite, d: { viewer: Viewer; stats: SubscriberStats }): string {
  const s = d.stats
  const languages = (tag: string) => {
    try { return `${new Intl.DisplayNames(['en'], { type: 'language' }).of(tag) ?? tag} (${tag})` } catch { return tag }
  }
  return consoleFrame(site, {
    title: 'Supporters', viewer: d.viewer, current: 'supporters',
    body: html`<p>Counts only: who the supporters are stays out of the console.</p>
<p><strong>${s.total.toLocaleString('en')}</strong> supporter${s.total === 1 ? '' : 's'} in all, of whom <strong>${s.byStatus.active.toLocaleString('en')}</strong> receive alerts.</p>
${countTable('by-status', 'By status', 'Status', (Object.keys(STATUS_NAMES) as (keyof typeof STATUS_NAMES)[]).map((k) => [STATUS_NAMES[k], s.byStatus[k]]), 'No supporters yet.')}
${countTable('by-language', 'Active supporters by language', 'Language', Object.entries(s.activeByLanguage).map(([k, n]) => [languages(k), n]), 'No active supporters yet.')}
${countTable('suppressed', 'Addresses never mailed again, by reason', 'Reason', Object.entries(s.suppressed), 'None.')}`,
  })
}
