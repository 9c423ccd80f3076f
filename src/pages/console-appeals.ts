// Owns the console's appeal pages (contract §9): the list with search and
// filters, the new-appeal page, an appeal's page (status, version,
// approval, public link, its translations, the editor, and a marked place
// for the lifecycle actions), the page that explains a conflicting save
// (someone else saved first) and offers a way through, and a translation
// side by side with the original. The editor itself is
// console-appeal-editor.ts; the frame is console-frame.ts. English only,
// like the rest of the console.
import type { FieldError } from '../errors.js'
import type { AppealRead } from '../schemas/appeal.js'
import { countryName, endonym, themeLabel } from '../i18n/index.js'
import { markdownToHtml } from '../email/markdown.js'
import { html, trusted, type SafeHtml } from './html.js'
import { byName, regions } from './fields.js'
import { consoleFrame, csrfField, dateTime, type ConsoleSite, type Viewer } from './console-frame.js'
import {
  APPEAL_STYLE, appealEditor, control, editorSummary, errorSummary, FieldErrors, markdownPreview, type EditorData,
} from './console-appeal-editor.js'
import { FIELD_LABELS, inputFromValues, type AppealFormValues, type EditableField } from './console-appeal-form.js'

const frame = (site: ConsoleSite, viewer: Viewer, title: string, body: SafeHtml) =>
  consoleFrame(site, { title, viewer, current: 'appeals', body: html`${APPEAL_STYLE}${body}` })

const STATUS_NAMES: Record<string, string> = { draft: 'Draft', published: 'Published', closed: 'Closed', withdrawn: 'Withdrawn' }
const URGENCY_NAMES: Record<string, string> = { critical: 'Critical', high: 'High', normal: 'Normal' }

/** Whether the viewer reads the appeal as its organisation's staff (the service adds `approval` for them alone). */
export const ownAppeal = (a: AppealRead) => a.approval !== undefined

const appealsPath = (site: ConsoleSite) => `${site.basePath}/console/appeals`

// ---- The list ------------------------------------------------------------------------------

export const LIST_FILTERS = ['q', 'status', 'country', 'theme', 'urgency'] as const
export type ListFilter = (typeof LIST_FILTERS)[number]
export type ListFilters = Partial<Record<ListFilter | 'cursor', string>>

export interface ListPageData {
  viewer: Viewer
  filters: ListFilters
  /** null: the filters were not valid. */
  items: readonly AppealRead[] | null
  nextCursor: string | null
  errors?: readonly FieldError[]
  themes: ReadonlySet<string>
  notice?: string
}

const FILTER_LABELS: Record<ListFilter | 'cursor', string> = {
  q: 'Search', status: 'Status', country: 'Country', theme: 'Theme', urgency: 'Urgency', cursor: 'Page',
}

const query = (params: ListFilters) => {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v)
  const s = q.toString()
  return s ? `?${s}` : ''
}

function appealCard(site: ConsoleSite, a: AppealRead): SafeHtml {
  const href = ownAppeal(a) ? `${appealsPath(site)}/${a.id}` : a.status === 'published' || a.status === 'closed' ? `${site.basePath}/appeals/${a.id}` : null
  return html`<li class="card"><h2>${href ? html`<a href="${href}">${a.title}</a>` : a.title}</h2>
<p class="meta">${a.reference} · <strong>${STATUS_NAMES[a.status] ?? a.status}</strong>${a.scheduledPublishAt ? ' (scheduled)' : ''} · ${URGENCY_NAMES[a.urgency] ?? a.urgency} · ${a.countries.map((c) => countryName('en', c)).join(', ')}</p>
<p class="meta">Version ${a.version} · updated ${dateTime(a.updatedAt)}${a.translations.length > 0 ? ` · translations: ${a.translations.map((t) => t.language).join(', ')}` : ''}${ownAppeal(a) ? (a.approval ? ' · approved' : a.sensitive ? ' · sensitive, not approved' : '') : ' · another organisation’s'}</p>
</li>`
}

export function listPage(site: ConsoleSite, d: ListPageData): string {
  const f = d.filters
  const errors = new FieldErrors(d.errors ?? [], (pointer) => `l-${pointer.split('/')[1] ?? 'q'}`)
  const option = (value: string, label: string, chosen: string | undefined) =>
    html`<option value="${value}"${value === (chosen ?? '') ? html` selected` : ''}>${label}</option>`
  const select = (name: ListFilter, label: string, options: SafeHtml) => html`<div class="field"><label class="stacked" for="l-${name}">${label}</label>
${errors.message(`l-${name}`)}<select id="l-${name}" name="${name}"${errors.attributes(`l-${name}`)}>${option('', 'Any', f[name])}${options}</select></div>`
  const themes = [...new Set([...d.themes, ...(f.theme ? [f.theme] : [])])].map((slug) => ({ slug, name: themeLabel('en', slug) })).sort(byName('en'))
  const filtersOnly: ListFilters = Object.fromEntries(LIST_FILTERS.map((k) => [k, f[k]]))
  const summary = errors.summary((id) => FILTER_LABELS[id.slice(2) as ListFilter] ?? 'Filters')
  return frame(site, d.viewer, 'Appeals', html`${summary.length > 0 ? errorSummary(summary) : ''}${d.notice ? html`<div class="notice" role="status">${d.notice}</div>` : ''}
<p><a class="button" href="${appealsPath(site)}/new">New appeal</a></p>
<form method="get" action="${appealsPath(site)}" class="filters" role="search" aria-label="Appeals">
<fieldset><legend>Search and filter</legend>
${control(errors, { id: 'l-q', name: 'q', label: 'Search', value: f.q ?? '', maxlength: 200, hint: 'Title, summary, body and asks, in every language. "exact phrase", or, -word' })}
<div class="filter-grid">
${select('status', 'Status', html`${(['draft', 'published', 'closed', 'withdrawn'] as const).map((s) => option(s, STATUS_NAMES[s]!, f.status))}`)}
${select('country', 'Country', html`${regions('en').map((r) => html`<optgroup label="${r.name}">${r.countries.map((c) => option(c.code, c.name, f.country))}</optgroup>`)}`)}
${select('theme', 'Theme', html`${themes.map((t) => option(t.slug, t.name, f.theme))}`)}
${select('urgency', 'Urgency', html`${(['critical', 'high', 'normal'] as const).map((u) => option(u, URGENCY_NAMES[u]!, f.urgency))}`)}
</div>
<button type="submit">Search</button>${LIST_FILTERS.some((k) => f[k]) ? html` <a class="button secondary" href="${appealsPath(site)}">Clear</a>` : ''}
</fieldset>
</form>
${d.items === null ? '' : d.items.length === 0 ? html`<p>No appeals match.</p>` : html`<ul class="cards">${d.items.map((a) => appealCard(site, a))}</ul>`}
${d.nextCursor || f.cursor ? html`<nav class="pages" aria-label="Pages of appeals"><ul>
${f.cursor ? html`<li><a href="${appealsPath(site)}${query(filtersOnly)}">First page</a></li>` : ''}
${d.nextCursor ? html`<li><a href="${appealsPath(site)}${query({ ...filtersOnly, cursor: d.nextCursor })}" rel="next">Next page</a></li>` : ''}
</ul></nav>` : ''}`)
}

// ---- New, and one appeal ------------------------------------------------------------------------

export function newAppealPage(site: ConsoleSite, editor: EditorData): string {
  return frame(site, editor.viewer, 'New appeal', html`${editorSummary(editor)}
<p>A new appeal is a draft: nobody outside your organisation sees it until it is published.</p>
${appealEditor(editor)}`)
}

/** The lifecycle actions' place on an appeal's page (approve, publish, follow-up, close, withdraw; email preview, progress). */
export type ActionsPanel = (appeal: AppealRead, viewer: Viewer) => SafeHtml | Promise<SafeHtml>

export interface AppealPageData {
  viewer: Viewer
  appeal: AppealRead
  /** null: the appeal can no longer be edited (closed or withdrawn). */
  editor: EditorData | null
  notice?: string
  /** What the lifecycle actions render (another module); absent: nothing yet. */
  actions?: SafeHtml
}

/** Languages offered for a new translation: the public site's and other common ones, minus those the appeal has. */
const TRANSLATION_LANGUAGES = ['ar', 'de', 'en', 'es', 'fa', 'fr', 'it', 'ja', 'ko', 'pt', 'ru', 'tr', 'uk', 'zh-Hans', 'zh-Hant']

function approvalText(a: AppealRead): string {
  if (a.approval) {
    const by = a.approval.approvedBy.name ?? (a.approval.approvedBy.kind === 'key' ? 'an API key' : 'a person')
    return `Approved by ${by} on ${dateTime(a.approval.approvedAt)} (version ${a.approval.version})`
  }
  if (a.status !== 'draft') return 'None recorded'
  return a.sensitive ? 'Not approved yet: a second person must approve this sensitive appeal before it is published' : 'Not approved (needed only when your organisation approves every appeal)'
}

function translationsSection(site: ConsoleSite, d: AppealPageData): SafeHtml {
  const a = d.appeal
  const base = `${appealsPath(site)}/${a.id}/translations`
  const taken = new Set([a.language, ...a.translations.map((t) => t.language)].map((l) => l.toLowerCase()))
  const offered = TRANSLATION_LANGUAGES.filter((l) => !taken.has(l.toLowerCase()))
  return html`<h2 id="translations">Translations</h2>
${a.translations.length === 0 ? html`<p>No translation yet.</p>` : html`<ul>${a.translations.map((t) => html`<li><a href="${base}/${encodeURIComponent(t.language)}">${endonym(t.language)} (${t.language})</a> · updated ${dateTime(t.updatedAt)}</li>`)}</ul>`}
${a.status === 'withdrawn' ? '' : html`<form method="get" action="${base}">
<div class="field"><label class="stacked" for="t-language">Add a translation</label>
<select id="t-language" name="language">${offered.map((l) => html`<option value="${l}">${endonym(l)} (${l})</option>`)}</select></div>
<button type="submit" class="secondary">Translate</button>
</form>`}`
}

export function appealPage(site: ConsoleSite, d: AppealPageData): string {
  const a = d.appeal
  const publicLink = a.status === 'published' || a.status === 'closed'
  const summary = d.editor ? editorSummary(d.editor) : ''
  return frame(site, d.viewer, a.title, html`${summary}${d.notice ? html`<div class="notice" role="status">${d.notice}</div>` : ''}
<dl>
<dt>Reference</dt><dd>${a.reference}</dd>
<dt>Status</dt><dd>${STATUS_NAMES[a.status] ?? a.status}${a.scheduledPublishAt ? ` — scheduled: publishes when the embargo lifts (${dateTime(a.embargoUntil)})` : ''}</dd>
<dt>Version</dt><dd>${a.version}, updated ${dateTime(a.updatedAt)}</dd>
<dt>Sensitive</dt><dd>${a.sensitive ? 'Yes' : 'No'}</dd>
<dt>Approval</dt><dd>${approvalText(a)}</dd>
${a.actionsTaken !== undefined ? html`<dt>Actions taken</dt><dd>${a.actionsTaken}</dd>` : ''}
<dt>Public page</dt><dd>${publicLink ? html`<a href="${site.basePath}/appeals/${a.id}">${site.basePath}/appeals/${a.id}</a>` : a.status === 'withdrawn' ? 'None: withdrawn' : 'None until it is published'}</dd>
</dl>
<section id="actions" aria-labelledby="actions-title">
<h2 id="actions-title">Actions</h2>
${d.actions ?? html`<p class="muted">Approve, publish, follow-up, close and withdraw come here.</p>`}
</section>
${translationsSection(site, d)}
<h2 id="edit">Edit</h2>
${d.editor ? appealEditor(d.editor) : html`<p>A ${STATUS_NAMES[a.status]!.toLowerCase()} appeal can no longer be edited.</p>`}`)
}

// ---- A conflicting save ----------------------------------------------------------------------------

export interface ConflictPageData {
  viewer: Viewer
  appeal: AppealRead
  /** The version the form was loaded with. */
  yourVersion: number
  mine: readonly EditableField[]
  theirs: readonly EditableField[]
  current: AppealFormValues
  yours: AppealFormValues
  /** The editor holding my changes on the current version. */
  editor: EditorData
}

/** A value as a line of text, for comparing two versions of a field. */
function shown(field: EditableField, values: AppealFormValues): string {
  const value = inputFromValues(values)[field]
  if (value === undefined || value === null || value === '') return '(empty)'
  if (typeof value === 'string') return value.length > 300 ? `${value.slice(0, 300)}…` : value
  if (typeof value === 'boolean') return value ? 'Yes' : 'No'
  const text = JSON.stringify(value)
  return text.length > 300 ? `${text.slice(0, 300)}…` : text
}

export function conflictPage(site: ConsoleSite, d: ConflictPageData): string {
  const a = d.appeal
  const fields = [...new Set([...d.theirs, ...d.mine])]
  const both = d.mine.filter((f) => d.theirs.includes(f))
  return frame(site, d.viewer, 'Someone else saved this appeal first', html`<div class="notice" role="alert">
<p>You edited version ${d.yourVersion} of <strong>${a.title}</strong>; it is now version ${a.version}. Your changes are <strong>not saved yet</strong>.</p>
${both.length > 0 ? html`<p>You both changed: <strong>${both.map((f) => FIELD_LABELS[f]).join(', ')}</strong>. Keeping your changes replaces theirs in ${both.length === 1 ? 'that field' : 'those fields'}.</p>` : ''}
</div>
<table class="changes">
<caption class="visually-hidden">Fields changed since version ${d.yourVersion}</caption>
<thead><tr><th scope="col">Field</th><th scope="col">Changed by someone else</th><th scope="col">Changed by you</th></tr></thead>
<tbody>${fields.map((f) => html`<tr><th scope="row">${FIELD_LABELS[f]}</th><td>${d.theirs.includes(f) ? 'Yes' : 'No'}</td><td>${d.mine.includes(f) ? 'Yes' : 'No'}</td></tr>`)}</tbody>
</table>
${d.mine.map((f) => html`<details><summary>${FIELD_LABELS[f]}: version ${a.version} and yours</summary>
<dl><dt>Version ${a.version}</dt><dd>${shown(f, d.current)}</dd><dt>Yours</dt><dd>${shown(f, d.yours)}</dd></dl>
</details>`)}
<h2>What now?</h2>
<div class="actions">
<button type="submit" form="appeal-form" name="_action" value="save">Keep my changes (save them on version ${a.version})</button>
<a class="button secondary" href="${appealsPath(site)}/${a.id}">Discard mine (show version ${a.version})</a>
</div>
<h2 id="merged">Your changes on version ${a.version}</h2>
<p>The form below is version ${a.version} with your changes applied. You can adjust it before you keep it.</p>
${appealEditor(d.editor)}`)
}

// ---- A translation, side by side --------------------------------------------------------------------

export interface TranslationValues { title: string; summary: string; body: string; asks: string[] }

export interface TranslationPageData {
  viewer: Viewer
  appeal: AppealRead
  language: string
  values: TranslationValues
  exists: boolean
  errors?: readonly FieldError[]
  problem?: string
  preview?: boolean
  notice?: string
}

const translationControl = (pointer: string) => {
  const [field, index] = pointer.split('/').slice(1)
  if (field === 'asks') return `tr-ask-${index ?? '0'}`
  return field === 'title' || field === 'summary' || field === 'body' ? `tr-${field}` : 'tr-form'
}

export function translationPage(site: ConsoleSite, d: TranslationPageData): string {
  const a = d.appeal
  const lang = d.language
  const errors = new FieldErrors(d.errors ?? [], translationControl)
  const action = `${appealsPath(site)}/${a.id}/translations/${encodeURIComponent(lang)}`
  const asks = [...d.values.asks, '']
  const labels = (id: string) => {
    const ask = /^tr-ask-(\d+)$/.exec(id)
    return ask ? `Ask ${Number(ask[1]) + 1}` : id === 'tr-form' ? 'The translation' : { 'tr-title': 'Title', 'tr-summary': 'Summary', 'tr-body': 'Body' }[id] ?? id
  }
  const items = [...(d.problem ? [{ href: '#translation-form', text: d.problem }] : []), ...errors.summary(labels)]
  const name = endonym(lang)
  return frame(site, d.viewer, `${d.exists ? 'Translation' : 'New translation'}: ${name} (${lang})`, html`${items.length > 0 ? errorSummary(items) : ''}${d.notice ? html`<div class="notice" role="status">${d.notice}</div>` : ''}
<p><a href="${appealsPath(site)}/${a.id}">Back to ${a.reference}</a> · version ${a.version}</p>
<div class="side-by-side wide">
<section class="original" aria-labelledby="original-title" lang="${a.language}">
<h2 id="original-title" lang="en">Original (${endonym(a.language)}, ${a.language})</h2>
<h3 lang="en">Title</h3><p>${a.title}</p>
<h3 lang="en">Summary</h3><p>${a.summary}</p>
<h3 lang="en">Body</h3><div class="prose">${trusted(markdownToHtml(a.body))}</div>
<h3 lang="en">Asks</h3>${a.asks.length > 0 ? html`<ol>${a.asks.map((ask) => html`<li>${ask}</li>`)}</ol>` : html`<p lang="en">None yet.</p>`}
</section>
<section aria-labelledby="translation-title">
<h2 id="translation-title">${name} (${lang})</h2>
<form method="post" action="${action}" id="translation-form" novalidate>
${csrfField(d.viewer)}${errors.message('tr-form')}
${control(errors, { id: 'tr-title', name: 'title', label: 'Title', value: d.values.title, maxlength: 200, lang })}
${control(errors, { id: 'tr-summary', name: 'summary', label: 'Summary', value: d.values.summary, multiline: true, maxlength: 1000, lang })}
${control(errors, { id: 'tr-body', name: 'body', label: 'Body', value: d.values.body, multiline: 'markdown', maxlength: 20000, lang, hint: 'Markdown, as in the original.' })}
<p><button type="submit" name="_action" value="preview" class="secondary" formaction="${action}#preview">Preview</button></p>
${d.preview ? markdownPreview(d.values.body, lang) : ''}
<fieldset><legend>Asks</legend>
${asks.map((ask, i) => control(errors, { id: `tr-ask-${i}`, name: 'asks', label: `Ask ${i + 1}`, value: ask, multiline: true, maxlength: 1000, lang }))}
<p><button type="submit" name="_action" value="add-ask" class="secondary" formaction="${action}#tr-ask-${asks.length}">Add another ask</button></p>
</fieldset>
<div class="actions"><button type="submit" name="_action" value="save">Save translation</button></div>
</form>
</section>
</div>`)
}
