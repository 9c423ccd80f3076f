// Real clients for the feed tests: libxml2's xmllint (Debian's
// libxml2-utils, installed by .ci/run) for well-formedness, the OASIS CAP
// 1.2 schema and XPath checks of RFC 4287's structural rules, which no
// schema of the RFC's own carries in a form xmllint reads.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const CAP_XSD = fileURLToPath(new URL('../fixtures/cap-v1.2.xsd', import.meta.url))

function withFile<T>(xml: string, fn: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'ua-feed-'))
  try {
    const path = join(dir, 'doc.xml')
    writeFileSync(path, xml)
    return fn(path)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Runs xmllint; returns its exit code and what it printed. */
export function xmllint(xml: string, args: string[]): { code: number; output: string } {
  return withFile(xml, (path) => {
    try {
      const output = execFileSync('xmllint', [...args, path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 })
      return { code: 0, output }
    } catch (error) {
      const e = error as { status?: number; stdout?: string; stderr?: string; message: string }
      return { code: e.status ?? -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message }
    }
  })
}

/** `xmllint --schema` against the OASIS CAP 1.2 schema: '' when valid, else xmllint's complaint. */
export function capSchemaErrors(xml: string): string {
  const r = xmllint(xml, ['--noout', '--nonet', '--schema', CAP_XSD])
  return r.code === 0 ? '' : r.output
}

/** Evaluates an XPath 1.0 expression (numbers and booleans) over the document. */
export function xpath(xml: string, expression: string): string {
  const r = xmllint(xml, ['--nonet', '--xpath', expression])
  if (r.code !== 0) throw new Error(`xmllint --xpath ${expression}: ${r.output}`)
  return r.output.trim()
}

const A = (name: string) => `*[local-name()='${name}' and namespace-uri()='http://www.w3.org/2005/Atom']`
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

/**
 * RFC 4287's structural rules (sections 4.1.1–4.1.3, 4.2.6, 4.2.7, 3.3),
 * as XPath counts that must all be zero; returns the rules broken.
 */
export function atomRuleViolations(xml: string): string[] {
  const wellFormed = xmllint(xml, ['--noout', '--nonet'])
  if (wellFormed.code !== 0) return [`not well-formed XML: ${wellFormed.output}`]
  const feed = `/${A('feed')}`
  const entry = `${feed}/${A('entry')}`
  const rules: [string, string][] = [
    ['the root is atom:feed', `count(/*) - count(${feed})`],
    ['atom:feed has exactly one atom:id, atom:title and atom:updated',
      `count(${feed}[count(${A('id')}) != 1 or count(${A('title')}) != 1 or count(${A('updated')}) != 1])`],
    ['atom:feed has at most one atom:subtitle, atom:generator, atom:icon, atom:logo, atom:rights',
      `count(${feed}[count(${A('subtitle')}) > 1 or count(${A('generator')}) > 1 or count(${A('icon')}) > 1 or count(${A('logo')}) > 1 or count(${A('rights')}) > 1])`],
    ['atom:feed has an atom:author unless every atom:entry has one',
      `count(${feed}[not(${A('author')})]/${A('entry')}[not(${A('author')})])`],
    ['atom:feed should have a rel="self" link', `count(${feed}[not(${A('link')}[@rel='self'])])`],
    ['every atom:entry has exactly one atom:id, atom:title and atom:updated, and at most one atom:content, atom:summary, atom:published',
      `count(${entry}[count(${A('id')}) != 1 or count(${A('title')}) != 1 or count(${A('updated')}) != 1 or count(${A('content')}) > 1 or count(${A('summary')}) > 1 or count(${A('published')}) > 1])`],
    ['every atom:entry has a rel="alternate" link or atom:content',
      `count(${entry}[not(${A('link')}[not(@rel) or @rel='alternate']) and not(${A('content')})])`],
    ['every atom:link has an href', `count(//${A('link')}[not(@href)])`],
    ['every atom:category has a term', `count(//${A('category')}[not(@term)])`],
    ['every text construct has type text, html or xhtml',
      `count((${feed}/${A('title')} | ${feed}/${A('subtitle')} | ${entry}/${A('title')} | ${entry}/${A('summary')})[@type and @type!='text' and @type!='html' and @type!='xhtml'])`],
  ]
  const broken: string[] = []
  for (const [rule, expression] of rules) {
    if (xpath(xml, expression) !== '0') broken.push(rule)
  }
  // What XPath 1.0 cannot say simply: ids are absolute IRIs and unique, dates RFC 3339, alternates unique per (type, hreflang).
  const ids = [...xml.matchAll(/<id>([^<]*)<\/id>/g)].map((m) => m[1]!)
  if (ids.some((id) => !/^[a-z][a-z0-9+.-]*:\S+$/i.test(id))) broken.push('atom:id is an absolute IRI')
  if (new Set(ids).size !== ids.length) broken.push('atom:id values are unique')
  const dates = [...xml.matchAll(/<(updated|published)>([^<]*)<\/\1>/g)].map((m) => m[2]!)
  if (dates.some((d) => !RFC3339.test(d) || Number.isNaN(Date.parse(d)))) broken.push('dates are RFC 3339 date-times')
  for (const block of xml.split('<entry').slice(1)) {
    const alternates = [...block.matchAll(/<link\b([^>]*)\/>/g)].map((m) => m[1]!)
      .filter((a) => !/\brel="/.test(a) || /\brel="alternate"/.test(a))
      .map((a) => `${/\btype="([^"]*)"/.exec(a)?.[1] ?? ''}|${/\bhreflang="([^"]*)"/.exec(a)?.[1] ?? ''}`)
    if (new Set(alternates).size !== alternates.length) { broken.push('no two alternate links of an entry share type and hreflang'); break }
  }
  return broken
}
