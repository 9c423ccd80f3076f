// Owns writing text into XML 1.0 (Atom feeds, CAP messages): escaping, and
// dropping the characters XML 1.0 cannot carry at all. Appeal text may
// hold C0 controls (only U+0000 is refused on input); one of them left in
// would make the whole feed unparseable for every reader.

// C0 controls but tab, LF and CR; U+FFFE/U+FFFF; unpaired surrogates.
const NOT_XML = /[\u0001-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF\u0000]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }

/** Text content or an attribute value, escaped, with what XML 1.0 cannot carry removed. */
const xmlText = (value: string | number): string =>
  String(value).replace(NOT_XML, '').replace(/[&<>"']/g, (c) => ESCAPES[c]!)

/** `<name>text</name>`, or nothing when the value is absent or empty. */
export function element(name: string, value: string | number | null | undefined, attributes = ''): string {
  if (value === null || value === undefined || value === '') return ''
  return `<${name}${attributes}>${xmlText(value)}</${name}>`
}

/** ` name="value"` for each present value. */
export function attrs(values: Record<string, string | number | null | undefined>): string {
  let out = ''
  for (const [name, value] of Object.entries(values)) {
    if (value !== null && value !== undefined && value !== '') out += ` ${name}="${xmlText(value)}"`
  }
  return out
}
