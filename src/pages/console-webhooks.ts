// Owns the pages of the console's partner portal (routes/console-webhooks.ts):
// the list of webhook endpoints, the add and edit form (the API's field
// errors shown at their fields), an endpoint (status and why it is
// disabled, health, filters, send a test, rotate the secret, enable,
// delete), the page that shows a signing secret once, the delete
// confirmation, and an endpoint's deliveries with their attempts (resend
// one, recover a window). Server-rendered forms that need no JavaScript,
// each carrying the session's CSRF token; English only, like the rest of
// the console. Built on the shared console frame (console-frame.ts).
import type { Webhook, WebhookAttempt, WebhookDelivery } from '../schemas/webhook.js'
import { DELIVERY_STATUSES, SUBSCRIBABLE_EVENT_TYPES } from '../schemas/webhook.js'
import { html, type SafeHtml } from './html.js'
import { consoleFrame, csrfField, dateTime, type ConsoleFrame, type ConsoleSite, type Viewer } from './console-frame.js'
import { MIN_URGENCIES } from './fields.js'

const frame = (site: ConsoleSite, o: ConsoleFrame) => consoleFrame(site, { current: 'webhooks', ...o })

/** Messages per form field (`url`, `eventTypes`…; '' for the body as a whole), from the problem document's pointers. */
export type FieldProblems = Record<string, string[]>

export interface EndpointValues {
  url: string
  description: string
  eventTypes: string[]
  /** As typed: codes separated by commas or spaces. */
  countries: string
  themes: string
  minUrgency: string
}

export interface RecoverValues { since: string; until: string }

/** What a page confirms after a form (`?done=`): fixed wording only. */
const NOTICES: Record<string, string> = {
  saved: 'The endpoint is saved.',
  enabled: 'The endpoint is enabled again. Deliveries skipped while it was disabled are not re-sent by this: recover their time window below.',
  deleted: 'The endpoint is deleted. Its unfinished deliveries were closed as skipped.',
  'test-sent': 'A test event was sent. Its delivery is at the top of the list.',
  resent: 'The delivery is queued to be attempted again now.',
}

export function noticeFor(query: { done?: string; count?: string }): string | undefined {
  if (query.done === 'recovered') {
    const n = /^\d{1,7}$/.test(query.count ?? '') ? Number(query.count) : 0
    return n === 0
      ? 'No failed, expired or skipped delivery in that window: nothing was queued again.'
      : `${n} deliver${n === 1 ? 'y' : 'ies'} of that window ${n === 1 ? 'is' : 'are'} queued again.`
  }
  return query.done !== undefined && Object.hasOwn(NOTICES, query.done) ? NOTICES[query.done] : undefined
}

const EVENT_LABELS: Record<(typeof SUBSCRIBABLE_EVENT_TYPES)[number], string> = {
  'appeal.published': 'An appeal is published',
  'appeal.updated': 'A published appeal is updated (follow-up)',
  'appeal.closed': 'An appeal is closed with its outcome',
  'appeal.withdrawn': 'An appeal is withdrawn',
}

const GRACE_CHOICES = [
  { seconds: 86_400, label: '24 hours (recommended)' },
  { seconds: 3600, label: '1 hour' },
  { seconds: 7 * 86_400, label: '7 days' },
  { seconds: 0, label: 'None: the old secret stops at once' },
]

const noticeBlock = (notice?: string) => (notice ? html`<div class="notice" role="status">${notice}</div>` : '')

const list = (items: readonly string[], none: string) => (items.length > 0 ? items.join(', ') : none)

function filtersOf(w: Webhook): SafeHtml {
  return html`<dt>Events</dt><dd>${w.eventTypes.join(', ')}</dd>
<dt>Countries</dt><dd>${list(w.countries, 'all')}</dd>
<dt>Themes</dt><dd>${list(w.themes, 'all')}</dd>
<dt>Urgency</dt><dd>${w.minUrgency ? `${w.minUrgency} or more urgent` : 'any'}</dd>`
}

/** Enabled or disabled and why, and how deliveries have gone lately. */
function healthOf(w: Webhook): string {
  if (w.status === 'disabled') {
    const when = dateTime(w.disabledAt)
    return w.disabledReason === 'gone'
      ? `Disabled since ${when}: the endpoint answered 410 Gone. Deliveries are skipped until you enable it.`
      : `Disabled since ${when}: deliveries failed continuously for too long. Deliveries are skipped until you enable it.`
  }
  return w.failingSince ? `Enabled, but failing since ${dateTime(w.failingSince)}: deliveries are being retried.` : 'Enabled and healthy.'
}

// ---- Endpoints --------------------------------------------------------------------------

export function endpointsPage(site: ConsoleSite, d: {
  viewer: Viewer; items: Webhook[]; nextCursor: string | null; allOrganisations: boolean; notice?: string | undefined
}): string {
  const base = `${site.basePath}/console/webhooks`
  return frame(site, {
    title: 'Webhooks', viewer: d.viewer,
    body: html`${noticeBlock(d.notice)}<p>${d.allOrganisations
      ? 'As an admin you see the webhook endpoints of every organisation; endpoints you add belong to your own.'
      : html`Your organisation’s webhook endpoints: each receives the events it subscribes to as a signed HTTP POST (Standard Webhooks).`}</p>
<p><a class="button" href="${base}/new">Add an endpoint</a></p>
${d.items.length === 0 ? html`<p class="muted">No endpoints yet.</p>` : html`<ul class="cards">${d.items.map((w) => html`
<li class="card"><h2><a href="${base}/${w.id}">${w.description || w.url}</a></h2>
<p class="meta"><code>${w.url}</code></p>
<p class="meta">${w.eventTypes.join(', ')} · countries: ${list(w.countries, 'all')} · themes: ${list(w.themes, 'all')}${w.minUrgency ? ` · ${w.minUrgency} or more urgent` : ''}${d.allOrganisations ? ` · organisation ${w.organisationId}` : ''}</p>
<p>${w.status === 'disabled' ? html`<strong>Disabled.</strong> ` : ''}${healthOf(w)}</p>
</li>`)}
</ul>`}
${d.nextCursor ? html`<nav class="pages" aria-label="More endpoints"><ul><li><a href="${base}?cursor=${encodeURIComponent(d.nextCursor)}">Older endpoints</a></li></ul></nav>` : ''}`,
  })
}

function fieldError(problems: FieldProblems | undefined, field: string): SafeHtml {
  const messages = problems?.[field]
  return messages?.length ? html`<p class="field-error" id="${field}-error">${messages.join('; ')}</p>` : html``
}
const invalidAttrs = (problems: FieldProblems | undefined, field: string) =>
  (problems?.[field]?.length ? html` aria-invalid="true" aria-describedby="${field}-error ${field}-help"` : html` aria-describedby="${field}-help"`)

const FIELD_LABELS: Record<string, string> = {
  url: 'URL', description: 'Description', eventTypes: 'Events', countries: 'Countries', themes: 'Themes', minUrgency: 'Urgency',
  since: 'From', until: 'Until',
}

/** The list of problems above a form, each linking to its field. */
function errorSummary(problems: FieldProblems, anchors: Record<string, string>): SafeHtml {
  return html`<div class="notice error" role="alert" id="problems">
<h2>Please correct ${Object.keys(problems).length === 1 ? 'this' : 'these'}</h2>
<ul>${Object.entries(problems).map(([field, messages]) => html`<li>${anchors[field]
    ? html`<a href="#${anchors[field]}">${FIELD_LABELS[field] ?? field}: ${messages.join('; ')}</a>`
    : messages.join('; ')}</li>`)}</ul>
</div>`
}

/** Add (no `endpoint`) or edit an endpoint; `values` and `problems` when a posted form is shown again. */
export function endpointFormPage(site: ConsoleSite, d: { viewer: Viewer; endpoint?: Webhook; values?: EndpointValues; problems?: FieldProblems }): string {
  const base = `${site.basePath}/console/webhooks`
  const w = d.endpoint
  const v: EndpointValues = d.values ?? (w
    ? { url: w.url, description: w.description ?? '', eventTypes: w.eventTypes, countries: w.countries.join(', '), themes: w.themes.join(', '), minUrgency: w.minUrgency ?? '' }
    : { url: '', description: '', eventTypes: [...SUBSCRIBABLE_EVENT_TYPES], countries: '', themes: '', minUrgency: '' })
  const p = d.problems
  return frame(site, {
    title: w ? 'Edit endpoint' : 'Add an endpoint', viewer: d.viewer,
    body: html`${p ? errorSummary(p, { url: 'url', description: 'description', eventTypes: 'eventTypes-legend', countries: 'countries', themes: 'themes', minUrgency: 'minUrgency' }) : ''}
<form method="post" action="${w ? `${base}/${w.id}/edit` : base}" novalidate>${csrfField(d.viewer)}${w ? html`<input type="hidden" name="version" value="${w.version}">` : ''}
<label class="stacked" for="url">URL</label>
<p class="muted" id="url-help">Where events are POSTed. <code>https</code>, reachable from the internet; no user name or password in it.</p>
${fieldError(p, 'url')}<p><input type="text" inputmode="url" id="url" name="url" maxlength="2000" autocomplete="off" spellcheck="false" value="${v.url}"${invalidAttrs(p, 'url')}></p>
<label class="stacked" for="description">Description (optional)</label>
<p class="muted" id="description-help">So you can tell your endpoints apart, e.g. “Intake desk”.</p>
${fieldError(p, 'description')}<p><input type="text" id="description" name="description" maxlength="500" autocomplete="off" value="${v.description}"${invalidAttrs(p, 'description')}></p>
<fieldset${p?.eventTypes?.length ? html` aria-describedby="eventTypes-error"` : ''}>
<legend id="eventTypes-legend" tabindex="-1">Events to receive</legend>
${fieldError(p, 'eventTypes')}${SUBSCRIBABLE_EVENT_TYPES.map((type) => html`<label><input type="checkbox" name="eventTypes" value="${type}"${v.eventTypes.includes(type) ? html` checked` : ''}> <span>${EVENT_LABELS[type]} (<code>${type}</code>)</span></label>
`)}</fieldset>
<label class="stacked" for="countries">Countries (optional)</label>
<p class="muted" id="countries-help">Only appeals concerning one of these countries: ISO codes separated by commas, e.g. <code>CN, KP</code>. Empty: all countries.</p>
${fieldError(p, 'countries')}<p><input type="text" id="countries" name="countries" autocomplete="off" spellcheck="false" value="${v.countries}"${invalidAttrs(p, 'countries')}></p>
<label class="stacked" for="themes">Themes (optional)</label>
<p class="muted" id="themes-help">Only appeals with one of these themes, separated by commas, e.g. <code>refugees, torture</code>. Empty: all themes.</p>
${fieldError(p, 'themes')}<p><input type="text" id="themes" name="themes" autocomplete="off" spellcheck="false" value="${v.themes}"${invalidAttrs(p, 'themes')}></p>
<label class="stacked" for="minUrgency">Urgency</label>
<p class="muted" id="minUrgency-help">Only appeals at least this urgent.</p>
${fieldError(p, 'minUrgency')}<p><select id="minUrgency" name="minUrgency"${invalidAttrs(p, 'minUrgency')}>
<option value=""${v.minUrgency === '' ? html` selected` : ''}>Any urgency</option>
${MIN_URGENCIES.map((u) => html`<option value="${u}"${v.minUrgency === u ? html` selected` : ''}>${u === 'normal' ? 'Normal or more' : `${u[0]!.toUpperCase()}${u.slice(1)} or more`}</option>`)}
</select></p>
${p?.['']?.length ? html`<p class="field-error">${p['']!.join('; ')}</p>` : ''}
<p><button type="submit">${w ? 'Save' : 'Add the endpoint'}</button> <a href="${w ? `${base}/${w.id}` : base}">Cancel</a></p>
</form>${w ? '' : html`
<p class="muted">The signing secret is shown once, on the next page.</p>`}`,
  })
}

export function endpointPage(site: ConsoleSite, d: { viewer: Viewer; endpoint: Webhook; notice?: string | undefined }): string {
  const w = d.endpoint
  const here = `${site.basePath}/console/webhooks/${w.id}`
  const graceUntil = w.previousSecretExpiresAt && Date.parse(w.previousSecretExpiresAt) > Date.now() ? w.previousSecretExpiresAt : null
  return frame(site, {
    title: w.description || 'Webhook endpoint', viewer: d.viewer,
    body: html`${noticeBlock(d.notice)}<p><a href="${site.basePath}/console/webhooks">All endpoints</a></p>
<dl>
<dt>URL</dt><dd><code>${w.url}</code></dd>
<dt>Description</dt><dd>${w.description ?? 'none'}</dd>
${filtersOf(w)}
<dt>Status</dt><dd>${healthOf(w)}</dd>
<dt>Signing</dt><dd>${graceUntil ? `The new secret and, until ${dateTime(graceUntil)}, the previous one sign every delivery.` : 'One secret signs every delivery.'}</dd>
<dt>Added</dt><dd>${dateTime(w.createdAt)}</dd>
</dl>
<div class="actions">
<a class="button" href="${here}/deliveries">Deliveries</a>
<a class="button secondary" href="${here}/edit">Edit URL and filters</a>
</div>
${w.status === 'disabled' ? html`<h2>Enable</h2>
<p>Enabling makes new events go to this endpoint again. Deliveries skipped while it was disabled are not re-sent: recover their time window on the deliveries page afterwards.</p>
<form method="post" action="${here}/enable">${csrfField(d.viewer)}<button type="submit">Enable the endpoint</button></form>` : ''}
<h2>Send a test</h2>
<p>Sends a signed <code>webhook.test</code> event to the URL now, through the real delivery path, and shows the attempt.</p>
<form method="post" action="${here}/test">${csrfField(d.viewer)}<button type="submit" class="secondary">Send a test event</button></form>
<h2>Rotate the signing secret</h2>
<p>Creates a new secret and shows it once. During the grace period the old secret keeps signing too (a second <code>v1,</code> signature), so your receiver keeps working while you switch it to the new secret. A secret still in an earlier grace period stops at once.</p>
<form method="post" action="${here}/rotate-secret">${csrfField(d.viewer)}
<label class="stacked" for="graceSeconds">How long the old secret keeps working</label>
<p><select id="graceSeconds" name="graceSeconds">${GRACE_CHOICES.map((g) => html`<option value="${g.seconds}">${g.label}</option>`)}</select></p>
<p><button type="submit" class="secondary">Rotate the secret</button></p>
</form>
<h2>Delete</h2>
<p><a href="${here}/delete">Delete this endpoint…</a></p>`,
  })
}

export function deletePage(site: ConsoleSite, d: { viewer: Viewer; endpoint: Webhook }): string {
  const w = d.endpoint
  const here = `${site.basePath}/console/webhooks/${w.id}`
  return frame(site, {
    title: 'Delete this endpoint?', viewer: d.viewer,
    body: html`<p><code>${w.url}</code>${w.description ? html` (${w.description})` : ''} will receive no more events. Its deliveries that are not finished are closed as skipped, and its delivery log is deleted with it. This cannot be undone: to receive events there again, add it again (with a new secret).</p>
<form method="post" action="${here}/delete">${csrfField(d.viewer)}<p><button type="submit">Delete the endpoint</button> <a href="${here}">Keep it</a></p></form>`,
  })
}

/** The answer to adding an endpoint or rotating its secret: the only time the secret is shown. */
export function secretPage(site: ConsoleSite, d: { viewer: Viewer; endpoint: Webhook; secret: string; kind: 'created' | 'rotated' }): string {
  const w = d.endpoint
  const here = `${site.basePath}/console/webhooks/${w.id}`
  return frame(site, {
    title: d.kind === 'created' ? 'Endpoint added' : 'New signing secret', viewer: d.viewer,
    body: html`<p>${d.kind === 'created'
      ? html`<code>${w.url}</code> will receive ${w.eventTypes.join(', ')}. Verify every request with this signing secret:`
      : html`The new signing secret of <code>${w.url}</code>:`}</p>
<p><code class="link" id="secret">${d.secret}</code></p>
<div class="notice" role="status"><p><strong>Copy it now: it is shown only on this page, never again.</strong> Store it where your receiver reads it.${d.kind === 'rotated'
      ? (w.previousSecretExpiresAt && Date.parse(w.previousSecretExpiresAt) > Date.now()
        ? ` The old secret keeps signing until ${dateTime(w.previousSecretExpiresAt)}: switch your receiver before then.`
        : ' The old secret no longer signs.')
      : ''}</p></div>
<p><a href="${here}">Go to the endpoint</a></p>`,
  })
}

// ---- Deliveries ---------------------------------------------------------------------------

function attemptLine(a: WebhookAttempt): SafeHtml {
  const outcome = a.statusCode !== null ? `HTTP ${a.statusCode}` : a.errorClass ? `${a.errorClass} error` : 'no answer'
  return html`<li><p>${dateTime(a.at)} · ${a.trigger} · <strong>${outcome}</strong> · ${a.durationMs} ms${a.error ? ` · ${a.error}` : ''}${a.nextAttemptAt ? ` · next attempt ${dateTime(a.nextAttemptAt)}` : ''}</p>
${a.response ? html`<details><summary>Response (first 4 KB)</summary><pre class="letter">${a.response}</pre></details>` : ''}</li>`
}

export function deliveriesPage(site: ConsoleSite, d: {
  viewer: Viewer; endpoint: Webhook; items: WebhookDelivery[]; nextCursor: string | null; status: string
  notice?: string | undefined; recover?: RecoverValues; problems?: FieldProblems
}): string {
  const w = d.endpoint
  const here = `${site.basePath}/console/webhooks/${w.id}`
  const p = d.problems
  const r = d.recover ?? { since: '', until: '' }
  const withStatus = (cursor: string) => `${here}/deliveries?${new URLSearchParams({ ...(d.status ? { status: d.status } : {}), cursor }).toString()}`
  return frame(site, {
    title: 'Deliveries', viewer: d.viewer,
    body: html`${noticeBlock(d.notice)}<p><a href="${here}">${w.description || w.url}</a> · <code>${w.url}</code></p>
<p>${healthOf(w)}</p>
<form method="get" action="${here}/deliveries" class="filters">
<label class="stacked" for="status">Show</label>
<p><select id="status" name="status"><option value="">All deliveries</option>${DELIVERY_STATUSES.map((s) => html`<option value="${s}"${d.status === s ? html` selected` : ''}>${s}</option>`)}</select>
<button type="submit" class="secondary">Show</button></p>
</form>
${d.items.length === 0 ? html`<p class="muted">No deliveries${d.status ? ` with status ${d.status}` : ''} yet.</p>` : html`<ul class="cards">${d.items.map((x) => html`
<li class="card"><h2>${x.eventType} · ${x.status}</h2>
<p class="meta">Event <code>${x.eventId}</code> · created ${dateTime(x.createdAt)} · ${x.attemptCount} attempt${x.attemptCount === 1 ? '' : 's'}${x.nextAttemptAt ? ` · next ${dateTime(x.nextAttemptAt)}` : ''}${x.completedAt ? ` · finished ${dateTime(x.completedAt)}` : ''}</p>
${x.lastError ? html`<p>Last error: ${x.lastError}</p>` : ''}
${x.attempts.length > 0 ? html`<h3>Attempts</h3><ul>${x.attempts.map(attemptLine)}</ul>` : ''}
${x.status === 'sending' ? '' : html`<form method="post" action="${here}/deliveries/${x.id}/resend">${csrfField(d.viewer)}<button type="submit" class="secondary" aria-label="Resend now: delivery ${x.id}, ${x.eventType}">Resend now</button></form>`}
</li>`)}
</ul>`}
${d.nextCursor ? html`<nav class="pages" aria-label="More deliveries"><ul><li><a href="${withStatus(d.nextCursor)}">Older deliveries</a></li></ul></nav>` : ''}
<h2 id="recover-heading">Recover a time window</h2>
<p>Queues again every failed, expired or skipped delivery created in the window (e.g. while your receiver was down or the endpoint disabled). Times are UTC; “until” empty means now.${w.status === 'disabled' ? ' The endpoint is disabled: enable it first.' : ''}</p>
${p ? errorSummary(p, { since: 'since', until: 'until' }) : ''}
<form method="post" action="${here}/recover" novalidate>${csrfField(d.viewer)}
<label class="stacked" for="since">From (UTC)</label>
${fieldError(p, 'since')}<p><input type="datetime-local" id="since" name="since" value="${r.since}"${p?.since?.length ? html` aria-invalid="true" aria-describedby="since-error"` : ''}></p>
<label class="stacked" for="until">Until (UTC, optional)</label>
${fieldError(p, 'until')}<p><input type="datetime-local" id="until" name="until" value="${r.until}"${p?.until?.length ? html` aria-invalid="true" aria-describedby="until-error"` : ''}></p>
<p><button type="submit" class="secondary">Recover the window</button></p>
</form>`,
  })
}
