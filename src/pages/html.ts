// Owns safe HTML building for server-rendered pages and mails: a tagged
// template that escapes every interpolated value unless it is already
// SafeHtml, so user-supplied text can never become markup.

export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string { return this.value }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!)

type Value = SafeHtml | string | number | null | undefined | false | readonly Value[]

function render(value: Value): string {
  if (value === null || value === undefined || value === false) return ''
  if (value instanceof SafeHtml) return value.value
  if (Array.isArray(value)) return value.map(render).join('')
  return escapeHtml(String(value))
}

export function html(strings: TemplateStringsArray, ...values: Value[]): SafeHtml {
  let out = strings[0]!
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!
  return new SafeHtml(out)
}

/** Markup produced by a trusted renderer (e.g. sanitised Markdown). */
export const trusted = (markup: string) => new SafeHtml(markup)
