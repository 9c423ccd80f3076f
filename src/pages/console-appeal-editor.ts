// Owns the console's appeal editor (contract §9): one form for every field
// an editor writes (console-appeal-form.ts says what each control holds),
// the API's field errors at their fields (aria-invalid, aria-describedby)
// with an error summary on top linking to them (the GOV.UK pattern), and
// the body's preview rendered by the same Markdown renderer as emails and
// feeds (email/markdown.ts). No script: "Preview" and "Add another …" are
// submit buttons that show the form again; HTML5 validation is off
// (`novalidate`) so that every error is the API's, worded once.
import type { FieldError } from '../errors.js'
import { markdownToHtml } from '../email/markdown.js'
import { html, trusted, type SafeHtml } from './html.js'
import { countryPicker, regions, themeCheckboxes } from './fields.js'
import { csrfField, type Viewer } from './console-frame.js'
import {
  encodeFingerprints, errorsByControl, FIELD_LABELS, type AppealFormValues, type EditableField, type Fingerprints,
  type SourceValues, type TargetValues,
} from './console-appeal-form.js'

/** Styles the console's appeal pages add to the shared stylesheet (layout.ts): text areas, side-by-side columns. */
export const APPEAL_STYLE = trusted(`<style>
textarea,input[type=date],input[type=datetime-local],input[type=url],input[type=search]{font:inherit;width:100%;min-height:44px;padding:.5rem;color:var(--fg);background:var(--bg);border:1px solid var(--muted);border-radius:4px}
textarea{min-height:5.5rem;resize:vertical}
textarea.markdown{min-height:16rem;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.95rem}
input.count{max-width:7rem}
.field{margin:.25rem 0 1rem}
.field .hint{display:block;color:var(--muted);font-size:.95rem;margin:0 0 .25rem}
.people-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(7rem,1fr));gap:0 1rem}
.preview{border:2px dashed var(--line);border-radius:6px;padding:0 1rem;margin:1rem 0}
.visually-hidden{position:absolute!important;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
main:has(.wide){max-width:80rem}
.side-by-side{display:grid;grid-template-columns:minmax(0,1fr);gap:0 2rem}
@media (min-width:60rem){.side-by-side{grid-template-columns:minmax(0,1fr) minmax(0,1fr)}}
.original{border-right:0}
.changes td,.changes th{text-align:left;padding:.25rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
.changes{border-collapse:collapse;width:100%}
</style>`)

/** The GOV.UK error summary: focusable, announced, each problem a link to its field. */
export function errorSummary(items: readonly { href: string; text: string }[]): SafeHtml {
  return html`<div class="notice error" role="alert" tabindex="-1" id="problems">
<h2>There is a problem</h2>
<ul>${items.map((i) => html`<li><a href="${i.href}">${i.text}</a></li>`)}</ul>
</div>`
}

/** A field's errors, and the attributes that tie them to its control. */
export class FieldErrors {
  readonly byControl: Map<string, string[]>
  constructor(errors: readonly FieldError[], controlOf?: (pointer: string) => string) {
    this.byControl = errorsByControl(errors, controlOf)
  }
  has(id: string) { return this.byControl.has(id) }
  /** The error paragraph above the control (nothing when it has none). */
  message(id: string): SafeHtml | string {
    const messages = this.byControl.get(id)
    return messages ? html`<p class="field-error" id="${id}-error"><span class="visually-hidden">Error: </span>${messages.join('; ')}</p>` : ''
  }
  /** ` aria-invalid aria-describedby` for a control (its hint first). */
  attributes(id: string, hint = false, group = false): SafeHtml {
    const ids = [...(hint ? [`${id}-hint`] : []), ...(this.has(id) ? [`${id}-error`] : [])]
    return html`${this.has(id) && !group ? html` aria-invalid="true"` : ''}${ids.length > 0 ? html` aria-describedby="${ids.join(' ')}"` : ''}`
  }
  /** The summary's links, in the order the fields come: `labels` names each control. */
  summary(labels: (id: string) => string): { href: string; text: string }[] {
    return [...this.byControl].map(([id, messages]) => ({ href: `#${id}`, text: `${labels(id)}: ${messages.join('; ')}` }))
  }
}

interface Control {
  id: string
  name: string
  label: string
  value: string
  hint?: string
  type?: 'text' | 'email' | 'url' | 'date' | 'datetime-local'
  multiline?: boolean | 'markdown'
  maxlength?: number
  className?: string
  inputmode?: 'numeric'
  lang?: string
}

export function control(errors: FieldErrors, c: Control): SafeHtml {
  const common = html` id="${c.id}" name="${c.name}"${c.maxlength ? html` maxlength="${c.maxlength}"` : ''}${c.lang ? html` lang="${c.lang}"` : ''}${errors.attributes(c.id, c.hint !== undefined)}`
  return html`<div class="field">
<label class="stacked" for="${c.id}">${c.label}</label>
${c.hint ? html`<span class="hint" id="${c.id}-hint">${c.hint}</span>
` : ''}${errors.message(c.id)}${c.multiline
    ? html`<textarea${common}${c.multiline === 'markdown' ? html` class="markdown"` : ''} rows="${c.multiline === 'markdown' ? 16 : 4}">${c.value}</textarea>`
    : html`<input type="${c.type ?? 'text'}"${common} value="${c.value}" autocomplete="off"${c.className ? html` class="${c.className}"` : ''}${c.inputmode ? html` inputmode="${c.inputmode}"` : ''}>`}
</div>`
}

/** The body's preview: what emails and feeds will show, through the same sanitiser. */
export function markdownPreview(markdown: string, lang?: string): SafeHtml {
  return html`<section class="preview" id="preview" aria-labelledby="preview-title" tabindex="-1">
<h3 id="preview-title">Preview: the body as supporters will read it</h3>
<div class="prose"${lang ? html` lang="${lang}"` : ''}>${trusted(markdownToHtml(markdown))}</div>
</section>`
}

/** Labels of the editor's controls, for the error summary. */
function editorLabel(id: string): string {
  const person = /^f-people-(\w+)$/.exec(id)
  if (person) return `People at risk, ${person[1] === 'atLeast' ? '“at least”' : person[1]}`
  const target = /^f-target-(\d+)-(\w+)$/.exec(id)
  if (target) return `Target ${Number(target[1]) + 1}, ${target[2]}`
  const source = /^f-source-(\d+)-(\w+)$/.exec(id)
  if (source) return `Source ${Number(source[1]) + 1}, ${source[2]}`
  const ask = /^f-ask-(\d+)$/.exec(id)
  if (ask) return `Ask ${Number(ask[1]) + 1}`
  if (id === 'f-primaryCountry') return 'Primary country'
  if (id === 'f-countries') return 'Other countries'
  if (id === 'form') return 'The appeal'
  const field = id.slice(2) as EditableField
  return FIELD_LABELS[field] ?? field
}

export interface EditorData {
  viewer: Viewer
  /** Where the form posts. */
  action: string
  mode: 'create' | 'edit'
  values: AppealFormValues
  /** Themes offered as checkboxes (the catalogue's and those in use). */
  themes: ReadonlySet<string>
  errors?: readonly FieldError[]
  /** What went wrong that no field names (e.g. the appeal was closed meanwhile). */
  problem?: string
  /** The version the form was loaded with, and each field's fingerprint in it (edits). */
  version?: number
  base?: Fingerprints
  preview?: boolean
}

/** The error summary of an editor page (empty without errors). */
export function editorSummary(d: Pick<EditorData, 'errors' | 'problem'>): SafeHtml | string {
  const errors = new FieldErrors(d.errors ?? [])
  const items = [...(d.problem ? [{ href: '#appeal-form', text: d.problem }] : []), ...errors.summary(editorLabel)]
  return items.length > 0 ? errorSummary(items) : ''
}

const urgencyOptions = (chosen: string) => html`${(['critical', 'high', 'normal'] as const).map((u) =>
  html`<option value="${u}"${u === chosen ? html` selected` : ''}>${u[0]!.toUpperCase() + u.slice(1)}</option>`)}`

function countryOptions(chosen: string): SafeHtml {
  return html`<option value=""${chosen === '' ? html` selected` : ''}>Choose a country</option>
${regions('en').map((r) => html`<optgroup label="${r.name}">${r.countries.map((c) => html`<option value="${c.code}"${c.code === chosen ? html` selected` : ''}>${c.name}</option>`)}</optgroup>
`)}`
}

function targetFields(errors: FieldErrors, t: TargetValues, i: number): SafeHtml {
  const id = (k: string) => `f-target-${i}-${k}`
  const c = (k: keyof TargetValues, label: string, o: Partial<Control> = {}) => control(errors, { id: id(k), name: `target-${i}-${k}`, label, value: t[k], ...o })
  return html`<fieldset id="f-target-${i}">
<legend>Target ${i + 1}</legend>
${c('name', 'Name', { maxlength: 200 })}
${c('title', 'Title or office', { maxlength: 200 })}
${c('salutation', 'Salutation', { maxlength: 200, hint: 'e.g. “Dear President”' })}
${c('country', 'Country code', { maxlength: 2, hint: 'ISO 3166-1, e.g. CN' })}
${c('address', 'Postal address', { multiline: true, maxlength: 1000 })}
${c('email', 'Email address', { type: 'email', maxlength: 254 })}
${c('preferredLanguage', 'Preferred language', { maxlength: 35, hint: 'BCP 47, e.g. zh: the ready letter is written in it when a translation exists' })}
</fieldset>`
}

function sourceFields(errors: FieldErrors, s: SourceValues, i: number): SafeHtml {
  const c = (k: keyof SourceValues, label: string, o: Partial<Control> = {}) => control(errors, { id: `f-source-${i}-${k}`, name: `source-${i}-${k}`, label, value: s[k], ...o })
  return html`<fieldset id="f-source-${i}">
<legend>Source ${i + 1}</legend>
${c('title', 'Title', { maxlength: 300 })}
${c('url', 'Web address', { type: 'url', maxlength: 2000 })}
${c('publisher', 'Publisher', { maxlength: 200 })}
${c('publishedOn', 'Published on', { type: 'date' })}
</fieldset>`
}

/** A group of controls (fieldset) with its own error, e.g. "other countries". */
function group(errors: FieldErrors, id: string, legend: string, content: SafeHtml, hint?: string): SafeHtml {
  return html`<fieldset${errors.attributes(id, hint !== undefined, true)}>
<legend id="${id}" tabindex="-1">${legend}</legend>
${hint ? html`<span class="hint muted" id="${id}-hint">${hint}</span>
` : ''}${errors.message(id)}${content}
</fieldset>`
}

const BLANK_TARGET: TargetValues = { name: '', title: '', salutation: '', country: '', address: '', email: '', preferredLanguage: '' }
const BLANK_SOURCE: SourceValues = { title: '', url: '', publisher: '', publishedOn: '' }

/** The editor form: every field, with the errors of the last attempt at their fields. */
export function appealEditor(d: EditorData): SafeHtml {
  const v = d.values
  const errors = new FieldErrors(d.errors ?? [])
  const c = (field: string, label: string, o: Partial<Control> = {}) =>
    control(errors, { id: `f-${field}`, name: field, label, value: String((v as unknown as Record<string, unknown>)[field] ?? ''), ...o })
  const p = v.people
  const pc = (k: keyof AppealFormValues['people'], label: string, o: Partial<Control> = {}) =>
    control(errors, { id: `f-people-${k}`, name: `people-${k}`, label, value: String(p[k]), ...o })
  const count = (k: keyof AppealFormValues['people'], label: string) => pc(k, label, { inputmode: 'numeric', className: 'count', maxlength: 9 })
  const targets = [...v.targets, BLANK_TARGET]
  const sources = [...v.sources, BLANK_SOURCE]
  const asks = [...v.asks, '']
  const offered = new Set([...d.themes, ...v.themes])
  const add = (what: string, label: string, anchor: string) =>
    html`<p><button type="submit" name="_action" value="add-${what}" class="secondary" formaction="${d.action}#${anchor}">${label}</button></p>`
  return html`<form method="post" action="${d.action}" id="appeal-form" novalidate>
${csrfField(d.viewer)}${d.version !== undefined ? html`<input type="hidden" name="_version" value="${d.version}">` : ''}${d.base ? html`<input type="hidden" name="_base" value="${encodeFingerprints(d.base)}">` : ''}
${errors.message('form')}
${c('title', 'Title', { maxlength: 200 })}
${c('summary', 'Summary', { multiline: true, maxlength: 1000, hint: 'Plain text, up to 1000 characters: the lead of emails and feeds.' })}
${c('body', 'Body', { multiline: 'markdown', maxlength: 20000, hint: 'Markdown: **bold**, *italic*, lists, links, ### headings. Images and scripts are removed.' })}
<p><button type="submit" name="_action" value="preview" class="secondary" formaction="${d.action}#preview">Preview</button></p>
${d.preview ? markdownPreview(v.body, v.language) : ''}
<div class="field"><label class="stacked" for="f-urgency">Urgency</label>
${errors.message('f-urgency')}<select id="f-urgency" name="urgency"${errors.attributes('f-urgency')}>${urgencyOptions(v.urgency)}</select></div>
${c('language', 'Language of the original', { maxlength: 35, hint: 'BCP 47, e.g. en, fr, zh-Hans' })}
${c('reference', 'Reference', { maxlength: 40, hint: d.mode === 'create' ? 'e.g. UA 001/19; leave empty to number it UA nnn/yy.' : 'Unique within your organisation; fixed once published.' })}
<div class="field"><label class="stacked" for="f-primaryCountry">Primary country</label>
${errors.message('f-primaryCountry')}<select id="f-primaryCountry" name="primaryCountry"${errors.attributes('f-primaryCountry')}>${countryOptions(v.primaryCountry)}</select></div>
${group(errors, 'f-countries', 'Other countries', countryPicker('en', new Set(v.otherCountries.filter((x) => x !== v.primaryCountry))), 'Countries also concerned, e.g. the country of return.')}
${c('subdivisions', 'Subdivisions', { maxlength: 500, hint: 'ISO 3166-2 codes separated by spaces, e.g. CN-LN' })}
${group(errors, 'f-themes', 'Themes', html`${themeCheckboxes('en', offered, v.themes)}
${control(errors, { id: 'f-themesOther', name: 'themesOther', label: 'Other themes', value: '', hint: 'New themes as lowercase slugs separated by spaces, e.g. death-penalty' })}`)}
${group(errors, 'f-people', 'People at risk', html`<div class="people-grid">
${count('total', 'Total')}${count('women', 'Women')}${count('men', 'Men')}${count('girls', 'Girls')}${count('boys', 'Boys')}${count('minors', 'Minors (sex not stated)')}
</div>
<div class="field">${errors.message('f-people-atLeast')}<label><input type="checkbox" id="f-people-atLeast" name="people-atLeast" value="true"${p.atLeast ? html` checked` : ''}${errors.attributes('f-people-atLeast')}> <span>The total is a lower bound (“at least”)</span></label></div>
${pc('nationality', 'Nationality', { maxlength: 100 })}
${pc('situation', 'Situation', { multiline: true, hint: 'One per line, e.g. detained' })}
${pc('risks', 'Risks', { multiline: true, hint: 'One per line, e.g. torture' })}
${pc('detainedSince', 'Detained since', { type: 'date' })}`, 'Counts only — never names. Counting a girl, boy or minor makes the appeal sensitive.')}
${group(errors, 'f-targets', 'Targets: whom to write to', html`${targets.map((t, i) => targetFields(errors, t, i))}
${add('target', 'Add another target', `f-target-${targets.length}`)}`, 'Leave a target empty to remove it.')}
${group(errors, 'f-asks', 'Asks', html`${asks.map((a, i) => control(errors, { id: `f-ask-${i}`, name: 'asks', label: `Ask ${i + 1}`, value: a, multiline: true, maxlength: 1000 }))}
${add('ask', 'Add another ask', `f-ask-${asks.length}`)}`, 'The actions requested; at least one before publishing. Leave one empty to remove it.')}
${c('legalBasis', 'Legal basis', { multiline: true, hint: 'One per line, e.g. 1951 Refugee Convention' })}
${c('actionDeadline', 'Action deadline', { type: 'date' })}
${c('embargoUntil', 'Embargo until (UTC)', { type: 'datetime-local', hint: 'Publishing before this time schedules the appeal instead of sending it.' })}
${group(errors, 'f-sources', 'Sources', html`${sources.map((s, i) => sourceFields(errors, s, i))}
${add('source', 'Add another source', `f-source-${sources.length}`)}`, 'Leave a source empty to remove it.')}
<div class="field">${errors.message('f-sensitive')}<label><input type="checkbox" id="f-sensitive" name="sensitive" value="true"${v.sensitive ? html` checked` : ''}${errors.attributes('f-sensitive', true)}> <span>Sensitive</span></label>
<span class="hint" id="f-sensitive-hint">A second person must approve a sensitive appeal before it is published (under your organisation’s policy). Always on while a girl, boy or minor is counted.</span></div>
<div class="actions">
<button type="submit" name="_action" value="save">${d.mode === 'create' ? 'Create draft' : 'Save changes'}</button>
<button type="submit" name="_action" value="preview" class="secondary" formaction="${d.action}#preview">Preview</button>
</div>
</form>`
}
