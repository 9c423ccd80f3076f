// Each appeal as OASIS CAP 1.2 messages, as a CAP consumer sees them: every
// message (Alert, Update, Cancel, the content-free Cancel of a withdrawal,
// several languages) valid against the official CAP 1.2 schema with
// xmllint; identifiers stable across reads and cache drops; references to
// the earlier messages; the mapping of urgency, severity, certainty and
// area; the Atom index of current messages, parsed by a real feed parser.
import t from 'tap'
import { parseAtomFeed } from 'feedsmith'
import { buildTestApp, type TestApp } from './helpers/context.js'
import { anAppeal, approve, createDraft, createPublished, expectProblem, expectStatus, type Tap } from './helpers/liaoning.js'
import { atomRuleViolations, capSchemaErrors, xpath } from './helpers/feeds.js'

const BASE = 'https://alerts.example.org'
const SENDER = 'alerts.example.org'
const CAP = (name: string) => `*[local-name()='${name}' and namespace-uri()='urn:oasis:names:tc:emergency:cap:1.2']`
const CAP_SENT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}-00:00$/

/** The appeal's CAP document: 200, its type, valid against the OASIS schema. */
async function capOf(t: Tap, ctx: TestApp, id: string): Promise<{ xml: string; etag: string; lastModified: string }> {
  const res = await ctx.request(null, 'GET', `/appeals/${id}/cap.xml`)
  t.equal(res.statusCode, 200, `cap.xml: ${res.statusCode === 200 ? 'ok' : res.body.slice(0, 300)}`)
  t.equal(res.headers['content-type'], 'application/cap+xml; charset=utf-8')
  t.equal(capSchemaErrors(res.body), '', 'valid against the OASIS CAP 1.2 schema (xmllint --schema)')
  return { xml: res.body, etag: String(res.headers.etag), lastModified: String(res.headers['last-modified']) }
}

const header = (xml: string, name: string) => xpath(xml, `string(/${CAP('alert')}/${CAP(name)})`)
const infoValues = (xml: string, name: string) =>
  Number(xpath(xml, `count(/${CAP('alert')}/${CAP('info')})`)) === 0 ? []
    : Array.from({ length: Number(xpath(xml, `count(/${CAP('alert')}/${CAP('info')})`)) },
      (_, i) => xpath(xml, `string(/${CAP('alert')}/${CAP('info')}[${i + 1}]/${CAP(name)})`))

/** The appeal's lifecycle events, oldest first: the messages' identifiers and times. */
async function eventsOf(ctx: TestApp, appealId: string): Promise<{ id: string; type: string; timestamp: string }[]> {
  const { rows } = await ctx.pool.query<{ id: string; type: string; timestamp: string }>(
    `SELECT id, type, payload->>'timestamp' AS timestamp FROM events WHERE appeal_id = $1 ORDER BY position`, [appealId])
  return rows
}
const capTime = (iso: string) => `${iso.slice(0, 19)}-00:00`
const ref = (e: { id: string; timestamp: string }) => `${SENDER},${e.id},${capTime(e.timestamp)}`

t.test('Alert, Update, Cancel: one message per lifecycle event, schema-valid, each referencing the earlier ones', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_BASE_URL: BASE })
  // Translated before publication: the Alert carries one info per language.
  const draft = await createDraft(ctx)
  expectStatus(t, await ctx.request('editor', 'PUT', `/v1/appeals/${draft.id}/translations/ko`,
    { title: '중국: 북한 주민 7명 강제송환 위기', summary: '랴오닝성에 구금된 7명이 고문 위험에 처해 있다.', asks: ['강제송환하지 마십시오.'] }), 201)
  expectStatus(t, await ctx.request('editor', 'PUT', `/v1/appeals/${draft.id}/translations/fr`,
    { title: 'Chine : sept Nord-Coréens menacés de renvoi forcé', summary: 'Sept personnes détenues au Liaoning risquent la torture.' }), 201)
  await approve(ctx, draft.id)
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${draft.id}/publish`), 200)
  const id = draft.id as string

  // ---- Alert
  const alert = await capOf(t, ctx, id)
  let events = await eventsOf(ctx, id)
  t.equal(events.length, 1)
  t.equal(header(alert.xml, 'identifier'), events[0]!.id, 'identifier: the appeal.published event id')
  t.equal(header(alert.xml, 'sender'), SENDER, 'sender: the host of PUBLIC_BASE_URL')
  t.match(header(alert.xml, 'sent'), CAP_SENT)
  t.equal(header(alert.xml, 'sent'), capTime(events[0]!.timestamp), 'sent: the event time')
  t.same([header(alert.xml, 'status'), header(alert.xml, 'msgType'), header(alert.xml, 'scope')], ['Actual', 'Alert', 'Public'])
  t.equal(xpath(alert.xml, `count(/${CAP('alert')}/${CAP('references')})`), '0', 'an Alert references nothing')
  t.same(infoValues(alert.xml, 'language'), ['en', 'fr', 'ko'], 'one info per language: the original, then each translation')
  t.same(infoValues(alert.xml, 'headline'), ['China: seven North Koreans face forced return to torture', 'Chine : sept Nord-Coréens menacés de renvoi forcé', '중국: 북한 주민 7명 강제송환 위기'])
  t.same(infoValues(alert.xml, 'urgency'), ['Immediate', 'Immediate', 'Immediate'], 'critical → Immediate')
  t.same(infoValues(alert.xml, 'severity'), ['Extreme', 'Extreme', 'Extreme'], 'critical → Extreme')
  t.same(infoValues(alert.xml, 'certainty'), ['Observed', 'Observed', 'Observed'], 'detained since a date → Observed')
  t.same(infoValues(alert.xml, 'category'), ['Safety', 'Safety', 'Safety'])
  t.same(infoValues(alert.xml, 'responseType'), ['Execute', 'Execute', 'Execute'])
  t.same(infoValues(alert.xml, 'expires'), ['2099-06-30T23:59:59-12:00', '2099-06-30T23:59:59-12:00', '2099-06-30T23:59:59-12:00'], 'the deadline, anywhere on Earth')
  t.same(infoValues(alert.xml, 'web'), [`${BASE}/appeals/${id}`, `${BASE}/appeals/${id}?lang=fr`, `${BASE}/appeals/${id}?lang=ko`], 'web: the appeal page')
  t.match(infoValues(alert.xml, 'instruction')[2], /강제송환하지 마십시오/, 'translated asks as the instruction')
  t.match(infoValues(alert.xml, 'description')[0], /^Three women, three men/)
  t.notMatch(infoValues(alert.xml, 'description')[0], /\*\*/, 'plain text, not Markdown')
  const geocodes = (i: number) => xpath(alert.xml, `concat(`
    + `string(/${CAP('alert')}/${CAP('info')}[${i}]/${CAP('area')}[1]/${CAP('areaDesc')}), '|', `
    + `string(/${CAP('alert')}/${CAP('info')}[${i}]/${CAP('area')}[1]/${CAP('geocode')}/${CAP('valueName')}), '=', `
    + `string(/${CAP('alert')}/${CAP('info')}[${i}]/${CAP('area')}[1]/${CAP('geocode')}/${CAP('value')}), '|', `
    + `string(/${CAP('alert')}/${CAP('info')}[${i}]/${CAP('area')}[2]/${CAP('areaDesc')}), '|', `
    + `string(/${CAP('alert')}/${CAP('info')}[${i}]/${CAP('area')}[2]/${CAP('geocode')}/${CAP('valueName')}), '=', `
    + `string(/${CAP('alert')}/${CAP('info')}[${i}]/${CAP('area')}[2]/${CAP('geocode')}/${CAP('value')}))`)
  t.equal(geocodes(1), 'China (CN-LN)|ISO3166-2=CN-LN|North Korea|ISO3166-1=KP', 'one area per country: its subdivisions, else the country')
  t.equal(geocodes(2), 'Chine (CN-LN)|ISO3166-2=CN-LN|Corée du Nord|ISO3166-1=KP', 'area names in the info\'s language')
  t.equal((await ctx.request(null, 'GET', `/appeals/${id}/cap.xml`)).body, alert.xml, 'the same message again, byte for byte')

  // ---- Update per follow-up
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${id}/updates`, { body: 'The seven were **moved** to Tumen.' }), 201)
  const update = await capOf(t, ctx, id)
  events = await eventsOf(ctx, id)
  t.equal(header(update.xml, 'msgType'), 'Update')
  t.equal(header(update.xml, 'identifier'), events[1]!.id, 'identifier: the follow-up\'s event id')
  t.not(header(update.xml, 'identifier'), header(alert.xml, 'identifier'))
  t.equal(header(update.xml, 'references'), ref(events[0]!), 'references the Alert as sender,identifier,sent')
  t.equal(header(update.xml, 'references'), `${SENDER},${header(alert.xml, 'identifier')},${header(alert.xml, 'sent')}`, 'the triple matches the Alert as it was served')
  t.match(infoValues(update.xml, 'description')[0], /^Update 1: The seven were moved to Tumen\./)
  t.match(infoValues(update.xml, 'description')[2], /^업데이트 1|^Update 1|The seven were moved to Tumen/, 'the follow-up reaches every language')
  t.not(update.etag, alert.etag)

  // ---- Update for a material change
  const current = (await ctx.request('editor', 'GET', `/v1/appeals/${id}`)).json()
  expectStatus(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${id}`,
    { urgency: 'high', peopleAtRisk: { total: 7 } }, { 'if-match': `"${current.version}"` }), 200)
  const material = await capOf(t, ctx, id)
  events = await eventsOf(ctx, id)
  t.equal(header(material.xml, 'msgType'), 'Update')
  t.equal(header(material.xml, 'identifier'), events[2]!.id)
  t.equal(header(material.xml, 'references'), `${ref(events[0]!)} ${ref(events[1]!)}`, 'references every earlier message, oldest first')
  t.same(infoValues(material.xml, 'urgency'), ['Expected', 'Expected', 'Expected'], 'high → Expected')
  t.same(infoValues(material.xml, 'severity'), ['Severe', 'Severe', 'Severe'], 'high → Severe')
  t.same(infoValues(material.xml, 'certainty'), ['Likely', 'Likely', 'Likely'], 'no documented ongoing situation → Likely')

  // A change that is not news (sources) sends no message: the current one is unchanged.
  const again = (await ctx.request('editor', 'GET', `/v1/appeals/${id}`)).json()
  expectStatus(t, await ctx.request('editor', 'PATCH', `/v1/appeals/${id}`,
    { sources: [{ title: 'Another report', url: 'https://example.org/report' }] }, { 'if-match': `"${again.version}"` }), 200)
  t.equal((await ctx.request(null, 'GET', `/appeals/${id}/cap.xml`)).body, material.xml, 'a sent message never changes')

  // ---- Cancel on close
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${id}/close`, { outcome: { code: 'released', note: 'All seven reached Seoul.' } }), 200)
  const cancel = await capOf(t, ctx, id)
  events = await eventsOf(ctx, id)
  t.equal(header(cancel.xml, 'msgType'), 'Cancel')
  t.equal(header(cancel.xml, 'identifier'), events[3]!.id)
  t.equal(header(cancel.xml, 'references'), events.slice(0, 3).map(ref).join(' '))
  t.same(infoValues(cancel.xml, 'urgency'), ['Past', 'Past', 'Past'], 'closed → Past')
  t.same(infoValues(cancel.xml, 'responseType'), ['None', 'None', 'None'])
  t.same(infoValues(cancel.xml, 'certainty'), ['Observed', 'Observed', 'Observed'], 'an outcome recorded → Observed')
  t.match(infoValues(cancel.xml, 'description')[0], /^Outcome: Released\nAll seven reached Seoul\./)
  t.match(infoValues(cancel.xml, 'description')[1], /^Issue ?: Libération/, 'outcome labels in the info\'s language')
  t.notMatch(infoValues(cancel.xml, 'description')[1], /Chinese authorities/, 'a translation without a background of its own does not borrow the English one')
  t.equal(xpath(cancel.xml, `count(//${CAP('expires')} | //${CAP('instruction')})`), '0', 'nothing left to do: no instruction, no expiry')

  // ---- Withdrawn: a Cancel with no content at all
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${id}/withdraw`, { reason: 'The families asked us to.' }), 200)
  const withdrawn = await capOf(t, ctx, id)
  events = await eventsOf(ctx, id)
  t.equal(header(withdrawn.xml, 'msgType'), 'Cancel')
  t.equal(header(withdrawn.xml, 'identifier'), events[4]!.id, 'identifier: the withdrawal event')
  t.equal(header(withdrawn.xml, 'references'), events.slice(0, 4).map(ref).join(' '), 'cancels every earlier message')
  t.equal(xpath(withdrawn.xml, `count(/${CAP('alert')}/*)`), '7', 'identifier, sender, sent, status, msgType, scope, references: nothing else')
  t.notMatch(withdrawn.xml, /China|Chine|중국|Tumen|Seoul|Liaoning|CN-LN|Released/, 'none of its content')
})

t.test('drafts, scheduled drafts, withdrawn drafts and unknown appeals have no CAP message', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_BASE_URL: BASE })
  const draft = await createDraft(ctx)
  const scheduled = await createDraft(ctx, anAppeal({ embargoUntil: '2099-01-01T00:00:00Z' }))
  await approve(ctx, scheduled.id)
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${scheduled.id}/publish`), 200)
  const withdrawnDraft = await createDraft(ctx)
  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${withdrawnDraft.id}/withdraw`, { reason: 'Never mind.' }), 200)
  for (const [what, id] of [['a draft', draft.id], ['a scheduled draft', scheduled.id], ['a withdrawn draft', withdrawnDraft.id],
    ['an unknown id', '00000000-0000-4000-8000-000000000000']] as const) {
    expectProblem(t, await ctx.request(null, 'GET', `/appeals/${id}/cap.xml`), 404, 'not-found')
    t.pass(what)
  }
  expectProblem(t, await ctx.request(null, 'GET', '/appeals/not-a-uuid/cap.xml'), 400, 'validation-error')
})

t.test('the CAP index lists each public appeal\'s current message; conditional GET on every CAP document', async (t) => {
  const ctx = await buildTestApp(t, { PUBLIC_BASE_URL: BASE })
  const first = await createPublished(ctx, anAppeal({ title: 'China: first appeal' }))
  const second = await createPublished(ctx, anAppeal({ title: 'Iran: second appeal', countries: ['IR'], subdivisions: [] }))
  const draft = await createDraft(ctx, anAppeal({ title: 'Draft: not listed' }))

  const index = async () => {
    const res = await ctx.request(null, 'GET', '/feeds/cap.atom')
    t.equal(res.statusCode, 200)
    t.equal(res.headers['content-type'], 'application/atom+xml; charset=utf-8')
    t.same(atomRuleViolations(res.body), [], 'RFC 4287 structural rules hold')
    return { res, feed: parseAtomFeed(res.body) }
  }
  let { res, feed } = await index()
  t.notMatch(res.body, draft.id, 'no draft')
  const entryOf = (id: string) => feed.entries?.find((e) => e.links?.some((l) => l.href === `${BASE}/appeals/${id}/cap.xml`))
  const firstAlert = (await eventsOf(ctx, first.id))[0]!
  t.equal(entryOf(first.id)?.id, `${BASE}/appeals/${first.id}/cap.xml#${firstAlert.id}`, 'the entry id names the current message')
  t.same(entryOf(first.id)?.links?.find((l) => l.type === 'application/cap+xml'), { href: `${BASE}/appeals/${first.id}/cap.xml`, rel: 'alternate', type: 'application/cap+xml' })
  t.equal(feed.entries?.[0]?.title?.value, 'Iran: second appeal', 'the newest message first')

  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${first.id}/updates`, { body: 'Moved to Tumen.' }), 201)
  ;({ res, feed } = await index())
  const update = (await eventsOf(ctx, first.id))[1]!
  t.equal(entryOf(first.id)?.id, `${BASE}/appeals/${first.id}/cap.xml#${update.id}`, 'a new message: a new entry')
  t.equal(feed.entries?.[0]?.title?.value, 'China: first appeal', 'now the newest')
  t.match(entryOf(first.id)?.summary?.value, /^CAP Update msg_/)

  expectStatus(t, await ctx.request('editor', 'POST', `/v1/appeals/${second.id}/close`, { outcome: { code: 'no_change' } }), 200)
  ;({ res, feed } = await index())
  t.match(entryOf(second.id)?.summary?.value, /^CAP Cancel/, 'a closed appeal: its Cancel')

  for (const path of ['/feeds/cap.atom', `/appeals/${first.id}/cap.xml`]) {
    const full = await ctx.request(null, 'GET', path)
    t.equal(full.headers['cache-control'], 'public, no-cache')
    t.equal((await ctx.request(null, 'GET', path, undefined, { 'if-none-match': String(full.headers.etag) })).statusCode, 304, `${path}: If-None-Match → 304`)
    t.equal((await ctx.request(null, 'GET', path, undefined, { 'if-modified-since': String(full.headers['last-modified']) })).statusCode, 304, `${path}: If-Modified-Since → 304`)
  }
})
