// Owns the console pages of an appeal's lifecycle (contract §3, §9): the
// Actions panel on an appeal's page, the confirmation before each action
// (approve, publish or schedule, follow-up, close with outcome, withdraw
// with reason) saying what will happen and to how many people, the pages
// that explain a refusal (a colleague must approve; you cannot approve
// your own version; the appeal changed since), the email preview per
// language, and the live delivery progress. English only, like the rest
// of the console; the frame is console-frame.ts.
import type { FieldError } from '../errors.js'
import type { AppealRead, DeliveryProgress, EmailHealth } from '../schemas/appeal.js'
import { EMAIL_STATUSES } from '../repositories/deliveries.js'
import { DELIVERY_STATUSES } from '../schemas/webhook.js'
import { endonym, t } from '../i18n/index.js'
import { html, trusted, type SafeHtml } from './html.js'
import { consoleFrame, csrfField, dateTime, type ConsoleSite, type Viewer } from './console-frame.js'
import { APPEAL_STYLE, control, errorSummary, FieldErrors } from './console-appeal-editor.js'
import { PROGRESS_SCRIPT_PATH } from './console-progress-script.js'
import type { Audience } from '../services/appeal-audience.js'

export type LifecycleAction = 'approve' | 'publish' | 'follow-up' | 'close' | 'withdraw'

export const OUTCOME_CODES = ['released', 'asylum_granted', 'safe_passage', 'forcibly_returned', 'charges_dropped', 'no_change', 'unknown', 'other'] as const

const STYLE = trusted(`<style>
.action-list{display:flex;flex-wrap:wrap;gap:.5rem;list-style:none;padding:0;margin:.5rem 0 1rem}
.action-list li{margin:0}
.what-happens li{margin:.25rem 0}
.audience{font-size:1.15rem}
.mail-preview{display:block;width:100%;height:36rem;border:1px solid var(--line);border-radius:6px;background:#f4f4f4}
.mail-subject{font-weight:600}
pre.mail-text{white-space:pre-wrap;overflow-wrap:anywhere;border:1px solid var(--line);border-radius:6px;padding:.75rem;font-size:.9rem}
progress{width:100%;height:1.5rem;accent-color:var(--accent)}
table.counts{border-collapse:collapse;width:100%;margin:1rem 0}
table.counts td,table.counts th{text-align:left;padding:.25rem .5rem;border-bottom:1px solid var(--line)}
table.counts td{font-variant-numeric:tabular-nums}
</style>`)

const appealsPath = (site: ConsoleSite) => `${site.basePath}/console/appeals`
const appealPath = (site: ConsoleSite, a: AppealRead) => `${appealsPath(site)}/${a.id}`

const frame = (site: ConsoleSite, viewer: Viewer, title: string, body: SafeHtml, scripts: string[] = []) =>
  consoleFrame(site, { title, viewer, current: 'appeals', body: html`${APPEAL_STYLE}${STYLE}${body}`, scripts })

const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`
const supporters = (n: number) => count(n, 'supporter', 'supporters')
const endpoints = (n: number) => count(n, 'partner endpoint', 'partner endpoints')

const back = (site: ConsoleSite, a: AppealRead) => html`<p><a href="${appealPath(site, a)}">Back to ${a.reference}</a> · version ${a.version}</p>`

const embargoed = (a: AppealRead) => a.embargoUntil !== null && a.embargoUntil !== undefined && Date.parse(a.embargoUntil) > Date.now()

// ---- The panel on an appeal's page -----------------------------------------------------------------

export interface PanelData {
  appeal: AppealRead
  /** Publishing now would be refused until a colleague approves. */
  approvalMissing: boolean
}

export function actionsPanel(site: ConsoleSite, d: PanelData): SafeHtml {
  const a = d.appeal
  const base = appealPath(site, a)
  const link = (path: string, label: string, secondary = false) =>
    html`<li><a class="button${secondary ? ' secondary' : ''}" href="${base}/${path}">${label}</a></li>`
  const items: SafeHtml[] = []
  let note: SafeHtml | string = ''
  if (a.status === 'draft') {
    if (a.scheduledPublishAt) note = html`<p>Scheduled: it will be published when the embargo lifts (${dateTime(a.embargoUntil ?? null)}).</p>`
    if (a.approval === null) items.push(link('approve', `Approve version ${a.version}…`, !d.approvalMissing))
    if (!a.scheduledPublishAt) items.push(link('publish', embargoed(a) ? 'Schedule publication…' : 'Publish…', d.approvalMissing))
    if (d.approvalMissing) note = html`${note}<p>A colleague must approve version ${a.version} before it can be published: two people are needed for this appeal.</p>`
  }
  if (a.status === 'published') {
    items.push(link('follow-up', 'Post a follow-up…'), link('close', 'Close with outcome…', true))
  }
  if (a.status !== 'withdrawn') items.push(link('withdraw', 'Withdraw…', true))
  if (a.status !== 'withdrawn') items.push(link('email', 'Preview the email', true))
  if (a.status !== 'draft') items.push(link('progress', 'Delivery progress', true))
  return html`${note}${items.length > 0 ? html`<ul class="action-list">${items}</ul>` : html`<p>A withdrawn appeal has no more actions.</p>`}`
}

// ---- Confirmations ----------------------------------------------------------------------------------

export interface ConfirmValues { body?: string; code?: string; note?: string; reason?: string }

export interface ConfirmPageData {
  viewer: Viewer
  appeal: AppealRead
  action: LifecycleAction
  /** Who the action's event would reach now (null for approve, which reaches no one). */
  audience: Audience | null
  approvalMissing: boolean
  values?: ConfirmValues
  errors?: readonly FieldError[]
}

const CONTROLS: Record<string, string> = { body: 'c-body', outcome: 'c-code', note: 'c-note', reason: 'c-reason' }
const LABELS: Record<string, string> = { 'c-body': 'Follow-up', 'c-code': 'Outcome', 'c-note': 'Note', 'c-reason': 'Reason', 'c-form': 'The form' }
const controlOf = (pointer: string) => {
  const [first, second] = pointer.split('/').slice(1)
  if (first === 'outcome') return second === 'note' ? 'c-note' : 'c-code'
  return CONTROLS[first ?? ''] ?? 'c-form'
}

/** What reaches whom, in one sentence: the numbers a person confirms. */
function reach(audience: Audience): SafeHtml {
  const disabled = audience.disabledEndpoints > 0
    ? html` (${count(audience.disabledEndpoints, 'disabled endpoint gets', 'disabled endpoints get')} it as skipped, for its partner to recover)`
    : ''
  return html`<li class="audience" data-audience-supporters="${audience.supporters}" data-audience-endpoints="${audience.endpoints}">It goes to <strong>${supporters(audience.supporters)}</strong> by email and <strong>${endpoints(audience.endpoints)}</strong> by webhook${disabled}.</li>`
}
const reachNote = html`<p class="muted">Counted now, with the rules the sending uses: active supporters whose countries, themes and urgency match, and enabled partner endpoints subscribed to this event whose filters match. Whoever subscribes or leaves before it is sent is counted then.</p>`

export function confirmPage(site: ConsoleSite, d: ConfirmPageData): string {
  const a = d.appeal
  const v = d.values ?? {}
  const errors = new FieldErrors(d.errors ?? [], controlOf)
  const summary = errors.summary((id) => LABELS[id] ?? id)
  const action = `${appealPath(site, a)}/${d.action}`
  const form = (button: string, fields: SafeHtml | string = '') => html`<form method="post" action="${action}" id="confirm-form" novalidate>
${csrfField(d.viewer)}<input type="hidden" name="_version" value="${a.version}">${errors.message('c-form')}
${fields}
<div class="actions"><button type="submit">${button}</button> <a class="button secondary" href="${appealPath(site, a)}">Cancel</a></div>
</form>`
  const top = html`${summary.length > 0 ? errorSummary(summary) : ''}${back(site, a)}`
  const au = d.audience
  switch (d.action) {
    case 'approve':
      return frame(site, d.viewer, `Approve version ${a.version}?`, html`${top}
<h2>What will happen</h2>
<ul class="what-happens">
<li>You confirm that you have read version ${a.version} of <strong>${a.title}</strong> and that it may be published.</li>
<li>Nobody outside your organisation is told: <strong>no supporter and no partner endpoint</strong> receives anything. Publishing is a separate step.</li>
<li>Any later change of its content voids your approval. You cannot approve a version whose content you made yourself.</li>
</ul>
${form(`Approve version ${a.version}`)}`)
    case 'publish': {
      const later = embargoed(a)
      const title = later ? `Schedule “${a.title}”?` : `Publish “${a.title}”?`
      if (d.approvalMissing) {
        return frame(site, d.viewer, title, html`${top}
<div class="notice" role="alert"><h2>A colleague must approve this version first</h2>
<p>${a.sensitive ? 'This appeal is sensitive (it counts a child, or someone marked it)' : 'Your organisation approves every appeal'}: two people are needed to publish it. Another editor — not whoever made version ${a.version} — opens it in the console and chooses <strong>Approve</strong>. Then it can be published.</p></div>
<h2>Who it would reach</h2>
<ul class="what-happens">${au ? reach(au) : ''}</ul>${reachNote}`)
      }
      return frame(site, d.viewer, title, html`${top}
<h2>What will happen</h2>
<ul class="what-happens">
${later
    ? html`<li>It stays a draft, visible to your organisation only, until the embargo lifts on <strong>${dateTime(a.embargoUntil ?? null)}</strong>. Then it is published and sent at once.</li>`
    : html`<li>It becomes public <strong>at once</strong>: on the public site, in the feeds and in the API.</li>`}
${au ? reach(au) : ''}
<li>It cannot be unpublished; it can be withdrawn, which takes it off every public page and feed.</li>
</ul>${reachNote}
${form(later ? 'Schedule publication' : `Publish now to ${supporters(au?.supporters ?? 0)} and ${endpoints(au?.endpoints ?? 0)}`)}`)
    }
    case 'follow-up': {
      const n = a.updates.length + 1
      return frame(site, d.viewer, `Post follow-up ${n} to “${a.title}”`, html`${top}
<h2>What will happen</h2>
<ul class="what-happens">
<li>Follow-up ${n} is added to the appeal's public page, feeds and API, for good (follow-ups cannot be edited).</li>
${au ? reach(au) : ''}
</ul>${reachNote}
${form(`Post follow-up ${n}`, control(errors, { id: 'c-body', name: 'body', label: 'Follow-up', value: v.body ?? '', multiline: 'markdown', maxlength: 20000, lang: a.language, hint: 'Markdown, in the appeal\'s language.' }))}`)
    }
    case 'close': {
      const options = OUTCOME_CODES.map((code) => html`<option value="${code}"${code === v.code ? html` selected` : ''}>${t('en', `outcome.${code}`)}</option>`)
      return frame(site, d.viewer, `Close “${a.title}”?`, html`${top}
<h2>What will happen</h2>
<ul class="what-happens">
<li>The appeal is closed with its outcome: its public page says so and asks no more actions. It cannot be reopened.</li>
${au ? reach(au) : ''}
</ul>${reachNote}
${form('Close the appeal', html`<div class="field"><label class="stacked" for="c-code">Outcome</label>
${errors.message('c-code')}<select id="c-code" name="code"${errors.attributes('c-code')}><option value="">Choose the outcome</option>${options}</select></div>
${control(errors, { id: 'c-note', name: 'note', label: 'Note (optional, public)', value: v.note ?? '', multiline: true, maxlength: 2000, lang: a.language })}`)}`)
    }
    case 'withdraw': {
      const announced = au !== null && au.eventType !== null
      return frame(site, d.viewer, `Withdraw “${a.title}”?`, html`${top}
<h2>What will happen</h2>
<ul class="what-happens">
${announced
    ? html`<li>It disappears <strong>at once</strong> from the public site, the feeds and the API; earlier events keep only its id and reference.</li>
${reach(au)}
<li>The webhook says only that it was withdrawn (its id and reference). Supporters are not emailed; alerts about it not yet sent are cancelled.</li>`
    : html`<li>It was never public: <strong>nobody is told</strong> (0 supporters, 0 partner endpoints). It stays in your organisation's list as withdrawn.</li>`}
<li>Withdrawal is final: a withdrawn appeal cannot be edited or published again.</li>
</ul>
${form('Withdraw the appeal', control(errors, { id: 'c-reason', name: 'reason', label: 'Reason', value: v.reason ?? '', multiline: true, maxlength: 1000, hint: 'Kept for your organisation\'s staff; never published.' }))}`)
    }
  }
}

// ---- Refusals -----------------------------------------------------------------------------------------

export type RefusalKind = 'approval-required' | 'self-approval' | 'changed' | 'not-now'

export interface RefusalPageData {
  viewer: Viewer
  appeal: AppealRead
  kind: RefusalKind
  /** The version the page the person acted on showed. */
  shownVersion: number
  /** The service's own words. */
  detail: string
}

export function refusalPage(site: ConsoleSite, d: RefusalPageData): string {
  const a = d.appeal
  const reload = html`<p><a class="button" href="${appealPath(site, a)}">Reload the appeal</a></p>`
  switch (d.kind) {
    case 'approval-required':
      return frame(site, d.viewer, 'A colleague must approve this version first', html`<div class="notice" role="alert">
<p>Nothing was published. ${a.sensitive ? 'This appeal is sensitive (it counts a child, or someone marked it)' : 'Your organisation approves every appeal'}, so two people are needed: another editor — not whoever made version ${a.version} — reads it in the console and chooses <strong>Approve</strong>. Then it can be published.</p>
<p class="muted">${d.detail}</p></div>${reload}`)
    case 'self-approval':
      return frame(site, d.viewer, 'You cannot approve your own version', html`<div class="notice" role="alert">
<p>Nothing was approved. You made the content of version ${a.version}; two-person approval means that <strong>someone else</strong> reads what you wrote and approves it, so that no one person alone can publish an appeal that could expose someone. Ask a colleague editor to open this appeal and approve it.</p>
<p class="muted">${d.detail}</p></div>${reload}`)
    case 'changed':
      return frame(site, d.viewer, 'The appeal has changed since you opened this page', html`<div class="notice" role="alert">
<p>Nothing was done. You acted on version ${d.shownVersion}; it is now version ${a.version}. Reload the appeal, see what changed, and choose again.</p></div>${reload}`)
    case 'not-now':
      return frame(site, d.viewer, 'This is not possible now', html`<div class="notice" role="alert">
<p>Nothing was done: ${d.detail}</p></div>${reload}`)
  }
}

// ---- Email preview ------------------------------------------------------------------------------------

export interface MailPreview {
  language: string
  subject: string
  text: string
  /** The same-origin URL serving the HTML part under its own sandboxing CSP. */
  src: string
}

export function previewPage(site: ConsoleSite, d: { viewer: Viewer; appeal: AppealRead; kind: string; previews: readonly MailPreview[] }): string {
  const a = d.appeal
  return frame(site, d.viewer, `Email preview: ${a.reference}`, html`${back(site, a)}
<p>The ${d.kind} email exactly as supporters get it in each language of the appeal: rendered by the mail renderer itself. Only the links to a supporter's own preferences and unsubscribe pages are placeholders here (each supporter's are their own).</p>
${d.previews.map((p) => html`<section aria-labelledby="mail-${p.language}">
<h2 id="mail-${p.language}">${endonym(p.language)} (${p.language})</h2>
<p>Subject: <span class="mail-subject" lang="${p.language}">${p.subject}</span></p>
<iframe class="mail-preview" src="${p.src}" sandbox title="The email in ${endonym(p.language)}" loading="lazy"></iframe>
<details><summary>Plain-text part</summary><pre class="mail-text" lang="${p.language}">${p.text}</pre></details>
</section>`)}`)
}

// ---- Delivery progress ----------------------------------------------------------------------------------

/** A rate as a percentage for people: 0.0015 → "0.15 %", 0.2 → "20 %". */
const percent = (rate: number) => `${Number((rate * 100).toFixed(2))} %`
const KIND_NAMES = { 'hard-bounce': { rate: 'hard-bounce rate', reports: 'hard bounces' }, complaint: { rate: 'complaint rate', reports: 'spam complaints' } } as const

/** The warnings an appeal got (once each, also in the audit log), with what to do about them. */
function healthWarnings(h: EmailHealth): SafeHtml | '' {
  if (h.warnings.length === 0) return ''
  return html`<div class="notice error" role="alert" id="deliverability-warning">
<h2>Deliverability warning</h2>
<ul>${h.warnings.map((w) => html`<li data-warning="${w.kind}">The ${KIND_NAMES[w.kind].rate} passed ${percent(w.threshold)}: ${w.reports} ${KIND_NAMES[w.kind].reports} of ${w.sent} mails (${percent(w.rate)}) on ${dateTime(w.at)}.</li>`)}</ul>
<p>Mailbox providers slow down or block a sender whose mail bounces or is reported as spam, and the next urgent appeal may not arrive. Those addresses are no longer mailed; check how they were collected (double opt-in only, no imported lists) before the next alert.</p>
</div>`
}

/** Bounces and complaints reported after the relay accepted the mail (contract §10). */
function healthTable(h: EmailHealth): SafeHtml {
  const row = (label: string, key: string, n: number, rate: number | null, threshold: number | null) => html`<tr><th scope="row">${label}</th><td data-health="${key}">${n}</td>
<td data-health="${key}-rate" data-threshold="${threshold ?? ''}">${rate === null ? '—' : percent(rate)}${threshold !== null && rate !== null && rate > threshold ? html` <strong>(above ${percent(threshold)})</strong>` : ''}</td></tr>`
  return html`<h2 id="health">Bounces and complaints</h2>
<table class="counts" aria-labelledby="health">
<thead><tr><th scope="col">Reported later</th><th scope="col">Count</th><th scope="col">Rate of <span data-health="sent">${h.sent}</span> mails sent</th></tr></thead>
<tbody>${row('Hard bounces', 'hard-bounces', h.hardBounces, h.hardBounceRate, h.thresholds.hardBounceRate)}
${row('Soft bounces', 'soft-bounces', h.softBounces, h.softBounceRate, null)}
${row('Spam complaints', 'complaints', h.complaints, h.complaintRate, h.thresholds.complaintRate)}</tbody>
</table>
<p class="muted">Relays report failures and complaints after accepting a mail. A warning is written to the audit log once when the hard-bounce rate passes ${percent(h.thresholds.hardBounceRate)} or the complaint rate ${percent(h.thresholds.complaintRate)} (with at least two reports of the kind).</p>`
}

const percentOf = (p: DeliveryProgress, done: boolean) => (p.total > 0 ? Math.floor(((p.total - p.pending) / p.total) * 100) : done ? 100 : 0)

export function progressPage(site: ConsoleSite, d: { viewer: Viewer; appeal: AppealRead; progress: DeliveryProgress; done: boolean; stream: string; notice?: string }): string {
  const a = d.appeal
  const p = d.progress
  const completed = p.total - p.pending
  const percent = percentOf(p, d.done)
  const statuses = [...new Set<string>([...EMAIL_STATUSES, ...DELIVERY_STATUSES, ...Object.keys(p.channels.email), ...Object.keys(p.channels.webhook)])]
  const cell = (channel: 'email' | 'webhook', status: string) => {
    const known = (channel === 'email' ? EMAIL_STATUSES as readonly string[] : DELIVERY_STATUSES as readonly string[]).includes(status)
    return known || p.channels[channel][status] !== undefined
      ? html`<td data-count="${channel}.${status}">${p.channels[channel][status] ?? 0}</td>`
      : html`<td>—</td>`
  }
  const summary = d.done
    ? `All ${p.total} deliveries are done.`
    : `${completed} of ${p.total} deliveries done (${percent} %).`
  return frame(site, d.viewer, `Delivery progress: ${a.reference}`, html`${d.notice ? html`<div class="notice" role="status">${d.notice}</div>` : ''}${back(site, a)}
${healthWarnings(p.emailHealth)}
<p><strong>${a.title}</strong> — ${a.status}${a.publishedAt ? ` (published ${dateTime(a.publishedAt)})` : ''}.</p>
<div data-progress-stream="${d.stream}" data-status="progress-status" data-live-text="{completed} of {total} deliveries done ({percent} %)." data-done-text="All {total} deliveries are done.">
<label class="stacked" for="progress-bar">Deliveries done</label>
<progress id="progress-bar" max="${p.total > 0 ? p.total : 1}" value="${p.total > 0 ? completed : d.done ? 1 : 0}">${percent} %</progress>
<p id="progress-status" role="status" aria-live="polite">${summary}</p>
<table class="counts">
<caption class="visually-hidden">Deliveries by status and channel</caption>
<thead><tr><th scope="col">Status</th><th scope="col">Email</th><th scope="col">Webhooks</th></tr></thead>
<tbody>${statuses.map((s) => html`<tr><th scope="row">${s}</th>${cell('email', s)}${cell('webhook', s)}</tr>`)}</tbody>
<tfoot><tr><th scope="row">Total</th><td colspan="2" data-count="total">${p.total}</td></tr>
<tr><th scope="row">Still to do</th><td colspan="2" data-count="pending">${p.pending}</td></tr></tfoot>
</table>
<p>${p.ratePerSecond ? `About ${Math.round(p.ratePerSecond)} per second over the last minute${p.eta ? `; done by about ${dateTime(p.eta)}` : ''}. ` : ''}“I took action”: ${p.actionsTaken}.</p>
<p><a href="${appealPath(site, a)}/progress" data-refresh>Refresh</a> (this page updates itself when scripts run).</p>
</div>
${healthTable(p.emailHealth)}`, [`${site.basePath}${PROGRESS_SCRIPT_PATH}`])
}
