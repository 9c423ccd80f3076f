// The console's appeals over HTTP (contract §9, issue 11 item 3): drafting
// through the form with the API's validation errors at their fields, edits
// with the loaded version as If-Match and a way through a conflicting save,
// the Markdown preview rendered (and sanitised) as emails render it,
// translations side by side, the list's search, filters and pages, and who
// may do any of it (tenancy, roles, CSRF). Forms are submitted as a browser
// would: the fields the page rendered, changed where a person would type.
import t from 'tap'
import { buildTestApp, type TestApp } from './helpers/context.js'
import { formFields, setField, consoleSession, submitFields, type ConsoleSession } from './helpers/console.js'
import { anAppeal, createDraft, createPublished, liaoningAppeal } from './helpers/liaoning.js'
import { markdownToHtml } from '../src/email/markdown.js'

type Fields = [string, string][]

const set = (fields: Fields, changes: Record<string, string | string[]>): Fields =>
  Object.entries(changes).reduce((f, [name, value]) => setField(f, name, value), fields)

const save = (fields: Fields, action = 'save'): Fields => [...fields, ['_action', action]]

async function editor(ctx: TestApp, email = 'ana@example.org', org = 'Liaoning Watch', role: 'editor' | 'admin' | 'partner' = 'editor'): Promise<ConsoleSession> {
  return consoleSession(ctx, role, { org, email })
}

async function pageOf(ctx: TestApp, who: ConsoleSession, url: string) {
  const res = await who.browser.get(url)
  return res
}

/** The control's opening tag, by id. */
const tagOf = (page: string, id: string) => new RegExp(`<(input|textarea|select)[^>]*\\bid="${id}"[^>]*>`).exec(page)?.[0] ?? ''

/** The Liaoning seed as a person types it into the new-appeal form (with `total` as given). */
function liaoningForm(fields: Fields, total: string): Fields {
  const a = liaoningAppeal()
  return set(fields, {
    title: a.title, summary: a.summary, body: a.body, urgency: a.urgency, language: 'en', reference: a.reference,
    primaryCountry: 'CN', countries: ['KP'], subdivisions: 'CN-LN', themes: ['refoulement', 'torture', 'children'],
    'people-total': total, 'people-women': '3', 'people-men': '3', 'people-girls': '1', 'people-nationality': 'North Korean',
    'people-situation': 'detained', 'people-risks': 'torture\nforced labour\nexecution', 'people-detainedSince': '2019-04-28',
    'target-0-name': a.targets[0]!.name, 'target-0-title': a.targets[0]!.title, 'target-0-salutation': a.targets[0]!.salutation,
    'target-0-country': 'CN', 'target-0-address': a.targets[0]!.address, 'target-0-preferredLanguage': 'zh',
    asks: [...a.asks, ''], legalBasis: a.legalBasis.join('\n'), actionDeadline: a.actionDeadline,
    'source-0-title': a.sources[0]!.title, 'source-0-url': a.sources[0]!.url, 'source-0-publisher': a.sources[0]!.publisher,
    'source-0-publishedOn': a.sources[0]!.publishedOn,
  })
}

t.test('an editor drafts the Liaoning appeal through the form: a bad count is a 400 at its field, then the draft exists in the API', async (t) => {
  const ctx = await buildTestApp(t)
  const ana = await editor(ctx)

  const list = await pageOf(ctx, ana, '/console/appeals')
  t.equal(list.statusCode, 200, list.body.slice(0, 300))
  t.match(list.body, /<a href="\/console\/appeals" aria-current="page">Appeals<\/a>/, 'Appeals is in the console\'s navigation, current')
  t.match(list.body, /href="\/console\/appeals\/new"/, 'a "New appeal" link')

  const blank = await pageOf(ctx, ana, '/console/appeals/new')
  t.equal(blank.statusCode, 200)
  const fields = formFields(blank.body, 'appeal-form')
  t.ok(fields.some(([n]) => n === '_csrf'), 'the form carries the CSRF token')
  for (const id of ['f-title', 'f-summary', 'f-body', 'f-urgency', 'f-language', 'f-reference', 'f-primaryCountry', 'f-subdivisions',
    'f-people-total', 'f-people-girls', 'f-target-0-name', 'f-ask-0', 'f-legalBasis', 'f-actionDeadline', 'f-embargoUntil', 'f-source-0-url', 'f-sensitive']) {
    t.ok(tagOf(blank.body, id), `a control for ${id}`)
  }
  t.notMatch(blank.body, /name="[^"]*(?:victim|person-name|people-name)/i, 'no field for the names of people at risk')

  // "seven": the API's schema says what is wrong, at the field, and the form keeps what was typed.
  const bad = await submitFields(ctx.app, ana.browser, '/console/appeals/new', save(liaoningForm(fields, 'seven')))
  t.equal(bad.statusCode, 400, 'a validation error is a 400 page')
  t.match(bad.body, /<div class="notice error" role="alert" tabindex="-1" id="problems">\s*<h2>There is a problem<\/h2>/, 'an error summary on top')
  t.match(bad.body, /<li><a href="#f-people-total">People at risk, total: must be integer<\/a><\/li>/, 'which links to the field')
  const total = tagOf(bad.body, 'f-people-total')
  t.match(total, /aria-invalid="true"/, 'the field is marked invalid')
  t.match(total, /aria-describedby="f-people-total-error"/, 'and described by its error')
  t.match(total, /value="seven"/, 'what was typed is kept')
  t.match(bad.body, /<p class="field-error" id="f-people-total-error"><span class="visually-hidden">Error: <\/span>must be integer<\/p>/)
  t.match(tagOf(bad.body, 'f-title'), /value="China: seven North Koreans face forced return to torture"/, 'the rest of the form is kept')
  t.notMatch(tagOf(bad.body, 'f-title'), /aria-invalid/, 'a valid field is not marked')
  t.equal((await ctx.pool.query('SELECT 1 FROM appeals')).rowCount, 0, 'nothing was created')

  // A rule of the service (not of the schema) lands at its field too: a subdivision outside the countries.
  const outside = await submitFields(ctx.app, ana.browser, '/console/appeals/new',
    save(set(liaoningForm(formFields(bad.body, 'appeal-form'), '7'), { subdivisions: 'FR-75' })))
  t.equal(outside.statusCode, 400)
  t.match(tagOf(outside.body, 'f-subdivisions'), /aria-invalid="true"/)
  t.match(outside.body, /<a href="#f-subdivisions">Subdivisions: its country FR is not in countries<\/a>/)

  const created = await submitFields(ctx.app, ana.browser, '/console/appeals/new', save(liaoningForm(formFields(bad.body, 'appeal-form'), '7')))
  t.equal(created.statusCode, 303, created.body.slice(0, 500))
  const location = String(created.headers.location)
  t.match(location, /^\/console\/appeals\/[0-9a-f-]{36}\?done=created$/)
  const id = location.split('/')[3]!.split('?')[0]!

  const api = (await ctx.request('editor', 'GET', `/v1/appeals/${id}`)).json()
  const { reference: _r, ...expected } = liaoningAppeal()
  t.match(api, { ...expected, status: 'draft', version: 1, sensitive: true, approval: null }, 'every field as the API takes it')
  t.same(api.countries, ['CN', 'KP'], 'the primary country first')
  t.same(api.asks, liaoningAppeal().asks, 'the empty ask left out')
  t.equal(api.reference, 'UA 001/19')

  const shown = await pageOf(ctx, ana, location)
  t.equal(shown.statusCode, 200)
  t.match(shown.body, /The draft is created\./)
  t.match(shown.body, /<dt>Status<\/dt><dd>Draft<\/dd>/)
  t.match(shown.body, /<dt>Version<\/dt><dd>1,/)
  t.match(shown.body, /<dt>Approval<\/dt><dd>Not approved yet: a second person must approve/)
  t.match(shown.body, /None until it is published/, 'no public page for a draft')
  t.match(shown.body, /<section id="actions" aria-labelledby="actions-title">/, 'the place for the lifecycle actions')

  const audit = (await ctx.request('admin', 'GET', '/v1/audit-log?limit=100')).json()
  const entry = audit.items.find((e: { action: string }) => e.action === 'appeal.create')
  t.equal(entry?.personId, ana.person.id, 'the audit log names the person')
})

t.test('edits: only what changed, with the loaded version as If-Match; a concurrent save → the conflict page → keep mine on the new version', async (t) => {
  const ctx = await buildTestApp(t)
  const ana = await editor(ctx)
  const draft = await createDraft(ctx)
  const url = `/console/appeals/${draft.id}`

  const first = await pageOf(ctx, ana, url)
  t.equal(first.statusCode, 200)
  const loaded = formFields(first.body, 'appeal-form')
  t.same(loaded.find(([n]) => n === '_version'), ['_version', '1'], 'the form carries the version it shows')

  const unchanged = await submitFields(ctx.app, ana.browser, url, save(loaded))
  t.equal(unchanged.statusCode, 303)
  t.equal(unchanged.headers.location, `${url}?done=unchanged`, 'an untouched form saves nothing')
  t.equal((await ctx.request('editor', 'GET', `/v1/appeals/${draft.id}`)).json().version, 1, 'still version 1')

  const saved = await submitFields(ctx.app, ana.browser, url, save(set(loaded, { title: 'China: seven North Koreans at risk of refoulement' })))
  t.equal(saved.statusCode, 303)
  t.equal(saved.headers.location, `${url}?done=saved`)
  const v2 = (await ctx.request('editor', 'GET', `/v1/appeals/${draft.id}`)).json()
  t.equal(v2.version, 2)
  t.equal(v2.title, 'China: seven North Koreans at risk of refoulement')
  t.same(v2.countries, draft.countries, 'untouched fields as they were')
  const { rows: audit } = await ctx.pool.query(`SELECT details FROM audit_log WHERE action = 'appeal.update'`)
  t.same(audit[0]?.details, { fields: ['title'] }, 'the PATCH carried the title alone')

  // Ana opens version 2; meanwhile a colleague's API client saves a new summary.
  const mine = formFields((await pageOf(ctx, ana, url)).body, 'appeal-form')
  const theirs = await ctx.request('editor', 'PATCH', `/v1/appeals/${draft.id}`, { summary: 'Seven people, among them a girl of ten, face forced return.' }, { 'if-match': '"2"' })
  t.equal(theirs.statusCode, 200)
  const myBody = `${draft.body}\n\nUpdated: the group was moved to Dandong.`
  const conflict = await submitFields(ctx.app, ana.browser, url, save(set(mine, { body: myBody })))
  t.equal(conflict.statusCode, 409, 'the save is refused: the version changed')
  t.match(conflict.body, /<h1>Someone else saved this appeal first<\/h1>/)
  t.match(conflict.body, /You edited version 2 of .*; it is now version 3\. Your changes are <strong>not saved yet<\/strong>/s)
  t.match(conflict.body, /<tr><th scope="row">Summary<\/th><td>Yes<\/td><td>No<\/td><\/tr>/, 'what someone else changed')
  t.match(conflict.body, /<tr><th scope="row">Body<\/th><td>No<\/td><td>Yes<\/td><\/tr>/, 'what I changed')
  t.match(conflict.body, new RegExp(`<a class="button secondary" href="${url}">Discard mine \\(show version 3\\)</a>`), 'discard mine')
  t.match(conflict.body, /<button type="submit" form="appeal-form" name="_action" value="save">Keep my changes \(save them on version 3\)<\/button>/)
  const unsaved = (await ctx.request('editor', 'GET', `/v1/appeals/${draft.id}`)).json()
  t.equal(unsaved.version, 3, 'nothing of mine was saved')
  t.equal(unsaved.body, draft.body)

  const mergedForm = formFields(conflict.body, 'appeal-form')
  t.same(mergedForm.find(([n]) => n === '_version'), ['_version', '3'], 'the merged form is on the current version')
  t.same(mergedForm.find(([n]) => n === 'summary'), ['summary', 'Seven people, among them a girl of ten, face forced return.'], 'with their summary')
  t.same(mergedForm.find(([n]) => n === 'body'), ['body', myBody], 'and my body')
  const kept = await submitFields(ctx.app, ana.browser, url, save(mergedForm))
  t.equal(kept.statusCode, 303, kept.body.slice(0, 400))
  const v4 = (await ctx.request('editor', 'GET', `/v1/appeals/${draft.id}`)).json()
  t.equal(v4.version, 4, 'saved on the new version')
  t.equal(v4.body, myBody, 'my change')
  t.equal(v4.summary, 'Seven people, among them a girl of ten, face forced return.', 'theirs kept')

  // A published appeal: the same form, the same If-Match (the API requires it there).
  const published = await createPublished(ctx, anAppeal({ title: 'Published appeal' }))
  const pubUrl = `/console/appeals/${published.id}`
  const pubPage = await pageOf(ctx, ana, pubUrl)
  t.match(pubPage.body, new RegExp(`<a href="/appeals/${published.id}">`), 'a published appeal links its public page')
  const frozen = await submitFields(ctx.app, ana.browser, pubUrl, save(set(formFields(pubPage.body, 'appeal-form'), { reference: 'UA 999/99' })))
  t.equal(frozen.statusCode, 409, 'the API\'s 409 …')
  t.match(tagOf(frozen.body, 'f-reference'), /aria-invalid="true"/, '… at its field')
  t.match(frozen.body, /Reference: cannot change after publication/)
})

t.test('the Markdown preview renders what emails and feeds render: sanitised, and nothing is saved', async (t) => {
  const ctx = await buildTestApp(t)
  const ana = await editor(ctx)
  const fields = formFields((await pageOf(ctx, ana, '/console/appeals/new')).body, 'appeal-form')
  const body = '## Facts\n\nDetained on **28 April 2019**.\n\n<script>alert("pwned")</script>\n\n<img src="https://tracker.example/x.gif" onerror="alert(1)">\n\n[details](javascript:alert(1)) and [HRW](https://www.hrw.org/)'
  const res = await submitFields(ctx.app, ana.browser, '/console/appeals/new', save(set(fields, { title: 'Preview me', body }), 'preview'))
  t.equal(res.statusCode, 200)
  const preview = /<section class="preview" id="preview"[^>]*>([\s\S]*?)<\/section>/.exec(res.body)?.[1] ?? ''
  t.ok(preview.includes(markdownToHtml(body)), 'the email renderer\'s HTML, as is')
  t.match(preview, /<h3>Facts<\/h3>/)
  t.match(preview, /<strong>28 April 2019<\/strong>/)
  t.match(preview, /<a href="https:\/\/www\.hrw\.org\/" rel="noopener noreferrer">HRW<\/a>/)
  t.notMatch(res.body, /<script>alert/, 'no script comes out, anywhere on the page')
  t.notMatch(preview, /<img|onerror|javascript:|tracker\.example/, 'no image, handler or script link')
  t.match(res.body, /&lt;script&gt;alert\(&quot;pwned&quot;\)&lt;\/script&gt;/, 'the text area keeps the text, escaped')
  t.match(tagOf(res.body, 'f-title'), /value="Preview me"/, 'the form is kept')
  t.equal((await ctx.pool.query('SELECT 1 FROM appeals')).rowCount, 0, 'a preview saves nothing')

  const more = await submitFields(ctx.app, ana.browser, '/console/appeals/new', save(set(fields, { 'target-0-name': 'Xi Jinping' }), 'add-target'))
  t.equal(more.statusCode, 200)
  t.match(tagOf(more.body, 'f-target-0-name'), /value="Xi Jinping"/, 'the target typed is kept')
  t.ok(tagOf(more.body, 'f-target-1-name'), '"Add another target" shows a second one, without a script')
})

t.test('a translation side by side with the original, saved through the service and visible in the API', async (t) => {
  const ctx = await buildTestApp(t)
  const ana = await editor(ctx)
  const draft = await createDraft(ctx)
  const page = await pageOf(ctx, ana, `/console/appeals/${draft.id}`)
  t.match(page.body, /<h2 id="translations">Translations<\/h2>\s*<p>No translation yet\.<\/p>/)
  t.match(page.body, /<option value="fr">français \(fr\)<\/option>/, 'a language to add')
  t.notMatch(page.body, /<option value="en">/, 'not the original\'s')

  const chosen = await pageOf(ctx, ana, `/console/appeals/${draft.id}/translations?language=fr`)
  t.equal(chosen.statusCode, 303)
  const url = `/console/appeals/${draft.id}/translations/fr`
  t.equal(chosen.headers.location, url)
  const blank = await pageOf(ctx, ana, url)
  t.equal(blank.statusCode, 200)
  t.match(blank.body, /<h1>New translation: français \(fr\)<\/h1>/)
  t.match(blank.body, /<div class="side-by-side wide">\s*<section class="original"[^>]*lang="en">/, 'the original beside the form')
  t.ok(blank.body.includes(`<h3 lang="en">Title</h3><p>${draft.title}</p>`), 'the original\'s title')
  t.ok(blank.body.includes(markdownToHtml(draft.body)), 'the original\'s body as supporters read it')
  t.match(tagOf(blank.body, 'tr-title'), /lang="fr"/, 'the translation\'s fields are in French')

  const fields = formFields(blank.body, 'translation-form')
  const empty = await submitFields(ctx.app, ana.browser, url, save(set(fields, { summary: 'Résumé.' })))
  t.equal(empty.statusCode, 400)
  t.match(empty.body, /<a href="#tr-title">Title: must not be empty<\/a>/)
  t.match(tagOf(empty.body, 'tr-title'), /aria-invalid="true"/)
  t.match(empty.body, /Résumé\./, 'what was typed is kept')

  const french = {
    title: 'Chine : sept Nord-Coréens risquent un renvoi forcé vers la torture',
    summary: 'Trois femmes, trois hommes et une fillette de 10 ans sont détenus dans la province du Liaoning.',
    body: 'Les autorités chinoises ont arrêté le groupe le **28 avril 2019**.',
    asks: ['Ne renvoyez pas de force les sept Nord-Coréens.', 'Accordez-leur l’asile.'],
  }
  const saved = await submitFields(ctx.app, ana.browser, url, save(set(formFields(empty.body, 'translation-form'), {
    title: french.title, summary: french.summary, body: french.body, asks: [...french.asks, ''],
  })))
  t.equal(saved.statusCode, 303, saved.body.slice(0, 400))
  t.equal(saved.headers.location, `${url}?done=translated`)
  const api = (await ctx.request('editor', 'GET', `/v1/appeals/${draft.id}`)).json()
  t.match(api.translations, [{ language: 'fr', ...french }], 'the API shows the translation')
  t.equal(api.version, 2)

  const again = await pageOf(ctx, ana, `${url}?done=translated`)
  t.match(again.body, /<h1>Translation: français \(fr\)<\/h1>/)
  t.match(again.body, /The translation is saved\./)
  t.match(tagOf(again.body, 'tr-title'), new RegExp(`value="${french.title}"`))
  const listed = await pageOf(ctx, ana, `/console/appeals/${draft.id}`)
  t.match(listed.body, new RegExp(`<a href="${url}">français \\(fr\\)</a>`), 'listed on the appeal\'s page')
  t.notMatch(listed.body, /<option value="fr">/, 'and no longer offered as new')
  t.equal((await pageOf(ctx, ana, `/console/appeals/${draft.id}/translations/FR`)).headers.location, url, 'one URL per language')
})

t.test('the list: drafts and published, search, filters, pages; a bad filter is a 400 at its field', async (t) => {
  const ctx = await buildTestApp(t)
  const ana = await editor(ctx)
  await createDraft(ctx, anAppeal({ title: 'Laos: activist disappeared in Vientiane', countries: ['LA'], subdivisions: [], urgency: 'high', themes: ['enforced-disappearance'] }))
  await createDraft(ctx, anAppeal({ title: 'Iran: lawyer sentenced to flogging', countries: ['IR'], subdivisions: [], urgency: 'normal', themes: ['torture'] }))
  await createPublished(ctx, anAppeal({ title: 'China: seven North Koreans face forced return' }))
  await createDraft(ctx, anAppeal({ title: 'Other NGO draft: never listed here' }), 'otherEditor')

  const all = await pageOf(ctx, ana, '/console/appeals')
  t.equal(all.statusCode, 200)
  t.match(all.body, /Laos: activist disappeared/)
  t.match(all.body, /Iran: lawyer sentenced/)
  t.match(all.body, /China: seven North Koreans/)
  t.notMatch(all.body, /Other NGO draft/, 'another organisation\'s draft is never listed')

  const search = await pageOf(ctx, ana, '/console/appeals?q=flogging')
  t.match(search.body, /Iran: lawyer sentenced/)
  t.notMatch(search.body, /Laos: activist|China: seven/, 'search finds only the match')
  t.match(tagOf(search.body, 'l-q'), /value="flogging"/, 'the search is kept in its field')

  const drafts = await pageOf(ctx, ana, '/console/appeals?status=draft')
  t.match(drafts.body, /Laos: activist/)
  t.notMatch(drafts.body, /China: seven/, 'status filter')
  const kp = await pageOf(ctx, ana, '/console/appeals?country=KP')
  t.match(kp.body, /China: seven/)
  t.notMatch(kp.body, /Laos: activist|Iran: lawyer/, 'country filter')
  const theme = await pageOf(ctx, ana, '/console/appeals?theme=enforced-disappearance&urgency=high')
  t.match(theme.body, /Laos: activist/)
  t.notMatch(theme.body, /Iran: lawyer|China: seven/, 'theme and urgency filters')
  t.match(theme.body, /<option value="high" selected>High<\/option>/, 'the filters are kept')

  const bad = await pageOf(ctx, ana, '/console/appeals?country=XX')
  t.equal(bad.statusCode, 400)
  t.match(tagOf(bad.body, 'l-country'), /aria-invalid="true"/)
  t.match(bad.body, /<a href="#l-country">Country: XX is not an ISO 3166-1 country<\/a>/)

  for (let i = 0; i < 19; i++) await createDraft(ctx, anAppeal({ title: `Batch appeal ${i}` }))
  const first = await pageOf(ctx, ana, '/console/appeals?status=draft')
  const next = /<a href="(\/console\/appeals\?status=draft&amp;cursor=[^"]+)" rel="next">Next page<\/a>/.exec(first.body)
  t.ok(next, 'a next page, keeping the filter')
  t.equal((first.body.match(/<li class="card">/g) ?? []).length, 20)
  const second = await pageOf(ctx, ana, next![1]!.replace(/&amp;/g, '&'))
  t.equal((second.body.match(/<li class="card">/g) ?? []).length, 1, 'the 21st draft on the second page')
  t.match(second.body, /First page/)
})

t.test('who may: another organisation\'s appeal is not found, partners are refused, a form without the CSRF token does nothing', async (t) => {
  const ctx = await buildTestApp(t)
  const ana = await editor(ctx)
  const theirDraft = await createDraft(ctx, anAppeal({ title: 'Their draft' }), 'otherEditor')
  const theirPublished = await createPublished(ctx, anAppeal({ title: 'Their published appeal' }), 'otherEditor')
  for (const appeal of [theirDraft, theirPublished]) {
    const res = await pageOf(ctx, ana, `/console/appeals/${appeal.id}`)
    t.equal(res.statusCode, 404, `${appeal.title}: not found in the console`)
    t.notMatch(res.body, /Their/, 'nothing of it is shown')
    const fields = formFields((await pageOf(ctx, ana, '/console/appeals/new')).body, 'appeal-form')
    const post = await submitFields(ctx.app, ana.browser, `/console/appeals/${appeal.id}`,
      save(set(fields, { _version: String(appeal.version), title: 'Hijacked' })))
    t.equal(post.statusCode, 404, 'nor can it be saved')
    t.equal((await pageOf(ctx, ana, `/console/appeals/${appeal.id}/translations/fr`)).statusCode, 404, 'nor translated')
  }
  t.equal((await ctx.request('otherEditor', 'GET', `/v1/appeals/${theirDraft.id}`)).json().title, 'Their draft', 'unchanged')
  t.equal((await pageOf(ctx, ana, '/console/appeals/00000000-0000-4000-8000-000000000000')).statusCode, 404)
  t.equal((await pageOf(ctx, ana, '/console/appeals/not-a-uuid')).statusCode, 404)

  const partner = await editor(ctx, 'desk@example.org', 'Refugee Desk', 'partner')
  const refused = await pageOf(ctx, partner, '/console/appeals')
  t.equal(refused.statusCode, 403, 'a partner may not')
  t.match(String(refused.headers['content-type']), /text\/html/, 'a console error page')
  t.notMatch((await pageOf(ctx, partner, '/console')).body, /href="\/console\/appeals"/, 'and does not see Appeals in the navigation')
  t.equal((await pageOf(ctx, partner, '/console/appeals/new')).statusCode, 403)

  const fields = formFields((await pageOf(ctx, ana, '/console/appeals/new')).body, 'appeal-form')
  const typed = save(liaoningForm(fields, '7'))
  const withoutToken = await submitFields(ctx.app, ana.browser, '/console/appeals/new', typed.filter(([n]) => n !== '_csrf'))
  t.equal(withoutToken.statusCode, 403, 'no CSRF token: refused')
  const otherOrigin = await submitFields(ctx.app, ana.browser, '/console/appeals/new', typed, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })
  t.equal(otherOrigin.statusCode, 403, 'from another origin: refused')
  const { rows } = await ctx.pool.query(`SELECT 1 FROM appeals WHERE title = $1`, [liaoningAppeal().title])
  t.equal(rows.length, 0, 'nothing was created')
  t.equal((await submitFields(ctx.app, ana.browser, '/console/appeals/new', typed)).statusCode, 303, 'the same form with its token: created')
})
