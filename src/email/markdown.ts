// Owns turning staff-written Markdown into what a mail may carry: HTML from
// `marked`, cut down by `sanitize-html` to an allow-list (no images, styles,
// scripts or forms: nothing that loads from elsewhere or tracks a reader),
// and plain text from that same HTML so both parts say the same thing.
import { Marked } from 'marked'
import sanitizeHtml from 'sanitize-html'
import { compile } from 'html-to-text'

const marked = new Marked({ gfm: true, breaks: false, async: false })

const SANITIZE: sanitizeHtml.IOptions = {
  allowedTags: ['p', 'br', 'strong', 'b', 'em', 'i', 'a', 'ul', 'ol', 'li', 'blockquote', 'h3', 'h4', 'code', 'pre', 'hr', 'table', 'thead', 'tbody', 'tr', 'th', 'td'],
  allowedAttributes: { a: ['href', 'title', 'rel'] },
  allowedSchemes: ['https', 'http', 'mailto'],
  allowProtocolRelative: false,
  disallowedTagsMode: 'discard',
  // Headings of the appeal body sit below the mail's own h1/h2.
  transformTags: {
    h1: 'h3', h2: 'h3', h5: 'h4', h6: 'h4',
    a: sanitizeHtml.simpleTransform('a', { rel: 'noopener noreferrer' }),
  },
}

export function markdownToHtml(markdown: string): string {
  return sanitizeHtml(marked.parse(markdown) as string, SANITIZE)
}

const toText = compile({
  wordwrap: 76,
  selectors: [
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true, linkBrackets: ['<', '>'] } },
    { selector: 'h3', options: { uppercase: false } },
    { selector: 'h4', options: { uppercase: false } },
    { selector: 'table', format: 'dataTable' },
  ],
})

export function htmlToText(markup: string): string {
  return toText(markup)
}
