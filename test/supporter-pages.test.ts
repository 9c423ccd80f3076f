// The supporter pages as a mail client and a person use them: the visible
// unsubscribe link of a real alert (a page whose one button unsubscribes),
// erasure asked for twice and saying exactly what it deletes and keeps, a
// spent confirmation link, the country picker grouped by region with the
// chosen countries named, theme labels in the supporter's language, and
// themes a requester made up never printed.
import t from 'tap'
import { anAppeal, createPublished, expectProblem } from './helpers/liaoning.js'
import { eventually, linksIn, pathOf, startSupporterStack, subscribeAndConfirm, type SupporterStack } from './helpers/supporters.js'
import type { SinkMessage } from './helpers/smtp-sink.js'
import { COUNTRY_CODES, COUNTRY_REGIONS } from '../src/lib/codes.js'
import { LOCALES } from '../src/i18n/index.js'
import { THEMES, themeLabel } from '../src/i18n/themes.js'

const form = { 'content-type': 'application/x-www-form-urlencoded' }

async function statusOf(stack: SupporterStack, email: string): Promise<string | null> {
  const { rows } = await stack.pool.query<{ status: string }>('SELECT status FROM subscriptions WHERE email = $1', [email])
  return rows[0]?.status ?? null
}

async function ledger(stack: SupporterStack, email: string): Promise<string[]> {
  const { rows } = await stack.pool.query<{ action: string; source: string }>(
    `SELECT l.action, l.source FROM consent_ledger l JOIN subscriptions s ON s.id = l.subscription_id WHERE s.email = $1 ORDER BY l.id`, [email])
  return rows.map((r) => `${r.action}:${r.source}`)
}

/** The alert (not the confirmation) mailed to `email`, once it arrives. */
async function alertTo(stack: SupporterStack, email: string): Promise<SinkMessage> {
  await eventually(async () => stack.sink.to(email).length >= 2, 20_000, `an alert to ${email}`)
  return stack.sink.to(email)[1]!
}

const forms = (body: string) => [...body.matchAll(/<form method="post" action="([^"]+)">/g)].map((m) => m[1])
const buttons = (body: string) => (body.match(/<button/g) ?? []).length

t.test('the visible unsubscribe link of a real alert: a page with one button; GET changes nothing, the button unsubscribes', async (t) => {
  const stack = await startSupporterStack(t)
  const s = await subscribeAndConfirm(stack, 'lectora@example.org', { language: 'es' })
  await createPublished(stack, anAppeal())
  const parsed = await (await alertTo(stack, 'lectora@example.org')).parsed()

  const unsubscribePath = `/subscriptions/${s.manageToken}/unsubscribe`
  const inText = (await linksIn(stack.sink.to('lectora@example.org')[1]!)).filter((l) => l.endsWith('/unsubscribe'))
  const inHtml = [...String(parsed.html).matchAll(/href="([^"]+\/unsubscribe)"/g)].map((m) => m[1]!)
  t.same(inText.map(pathOf), [unsubscribePath], 'the text part shows the unsubscribe link')
  t.same(inHtml.map(pathOf), [unsubscribePath], 'the HTML part links it')
  t.equal(inHtml[0], inText[0], 'the same link in both parts')

  // A mail scanner (or the person) opening the link changes nothing.
  for (let i = 0; i < 2; i++) {
    const page = await stack.request(null, 'GET', pathOf(inText[0]!))
    t.equal(page.statusCode, 200)
    t.match(page.headers['content-type'], /^text\/html; charset=utf-8/)
    t.equal(page.headers['cache-control'], 'no-store')
    t.match(page.body, /<html lang="es"/, 'in the supporter\'s language')
    t.match(page.body, /¿Darte de baja de las alertas\?/)
    t.match(page.body, /l•••@e•••\.org/, 'the masked address')
    t.same(forms(page.body), [unsubscribePath], 'one form, posting to the one-click URL itself')
    t.equal(buttons(page.body), 1, 'one button')
    t.match(page.body, new RegExp(`<a href="/subscriptions/${s.manageToken}">¿Prefieres menos alertas\\? Cambia tus preferencias</a>`), 'a way to the preferences instead')
    t.notMatch(page.body, /<script/)
  }
  t.equal(await statusOf(stack, 'lectora@example.org'), 'active', 'GET did not unsubscribe')
  t.same(await ledger(stack, 'lectora@example.org'), ['subscribe:api', 'confirm:api'], 'nothing in the consent ledger either')

  // The button: what a browser posts for a form without fields.
  const done = await stack.request(null, 'POST', unsubscribePath, '', form)
  t.equal(done.statusCode, 200, 'the one-click route answers 200 with its page, no redirect')
  t.match(done.body, /Te has dado de baja/)
  t.equal(await statusOf(stack, 'lectora@example.org'), 'unsubscribed')
  t.same(await ledger(stack, 'lectora@example.org'), ['subscribe:api', 'confirm:api', 'unsubscribe:one-click'], 'the consent ledger records it')

  const again = await stack.request(null, 'GET', unsubscribePath)
  t.equal(again.statusCode, 200)
  t.match(again.body, /Ya te has dado de baja/, 'already unsubscribed: says so')
  t.same(forms(again.body), [`/subscriptions/${s.manageToken}/resubscribe`], 'and offers to subscribe again')
  t.equal(await statusOf(stack, 'lectora@example.org'), 'unsubscribed')

  const forged = `/subscriptions/${'A'.repeat(43)}/unsubscribe`
  const notFound = await stack.request(null, 'GET', forged, undefined, { 'accept-language': 'ko' })
  t.equal(notFound.statusCode, 404)
  t.match(notFound.body, /<html lang="ko"/)
  t.match(notFound.body, /유효하지 않은 링크입니다/, 'the friendly 404 page')
  expectProblem(t, await stack.request(null, 'GET', forged, undefined, { accept: 'application/json' }), 404, 'invalid-link')
})

t.test('erasure: the preferences link to a page saying what is deleted and kept; only its button erases', async (t) => {
  const stack = await startSupporterStack(t)
  const s = await subscribeAndConfirm(stack, 'effacer@example.org', { language: 'fr', countries: ['SY'] })
  const prefsPath = `/subscriptions/${s.manageToken}`

  const prefs = await stack.request(null, 'GET', prefsPath)
  t.match(prefs.body, new RegExp(`<a class="button secondary" href="${prefsPath}/erase">Supprimer mes données</a>`), 'the preferences link to the confirmation page')
  t.notOk(forms(prefs.body).includes(`${prefsPath}/erase`), 'and no longer erase at one press')
  t.match(prefs.body, /La page suivante indique exactement ce qui est supprimé et ce qui est conservé/)
  t.notMatch(prefs.body, /ne plus jamais vous écrire/, 'no promise the behaviour does not keep')

  const ask = await stack.request(null, 'GET', `${prefsPath}/erase`)
  t.equal(ask.statusCode, 200)
  t.match(ask.body, /<html lang="fr"/)
  t.match(ask.body, /<h1>Supprimer vos données \?<\/h1>/)
  for (const fact of [
    'votre adresse, votre langue et vos choix de pays, de thèmes et d’alertes',
    'les alertes qui attendent encore de vous être envoyées',
    'le décompte des courriels de confirmation envoyés à votre boîte',
    'le registre de votre consentement (chaque abonnement, confirmation et modification, avec sa date), sans aucune adresse',
    'marquée « effacée » : elle ne permet pas de retrouver l’adresse et ne bloque rien',
    'nous lui enverrons d’abord un courriel de confirmation, et rien d’autre tant qu’il n’est pas confirmé',
    'choisissez « Ce n’était pas moi » dans ce courriel',
  ]) t.ok(ask.body.includes(fact), `the page says: ${fact}`)
  t.same(forms(ask.body), [`${prefsPath}/erase`], 'one form')
  t.equal(buttons(ask.body), 1, 'one button')
  t.match(ask.body, new RegExp(`<a href="${prefsPath}">Garder mes données et revenir à mes préférences</a>`))
  t.equal(await statusOf(stack, 'effacer@example.org'), 'active', 'GET erased nothing')
  expectProblem(t, await stack.request(null, 'GET', `/subscriptions/${'B'.repeat(43)}/erase`, undefined, { accept: 'application/json' }), 404, 'invalid-link')
  t.equal((await stack.request(null, 'GET', `/subscriptions/${'B'.repeat(43)}/erase`)).statusCode, 404)

  const erased = await stack.request(null, 'POST', `${prefsPath}/erase`, '', form)
  t.equal(erased.statusCode, 200)
  t.match(erased.body, /Vos données ont été supprimées/)
  t.match(erased.body, /annulé les alertes qui attendaient encore de vous être envoyées et supprimé le décompte des courriels de confirmation/)
  t.match(erased.body, /qui ne bloque rien/)
  t.notMatch(erased.body, /Nous ne vous écrirons plus/, 'the old, untrue promise is gone')
  t.equal(await statusOf(stack, 'effacer@example.org'), null, 'erased')

  // Every language states the same facts: the catalogue entries exist and are translated.
  const { t: translate } = await import('../src/i18n/index.js')
  for (const key of ['erase.deletedCounter', 'erase.keptHash', 'erased.comeBack', 'erased.kept'] as const) {
    const texts = LOCALES.map((locale) => translate(locale, key))
    t.equal(new Set(texts).size, LOCALES.length, `${key}: five different translations`)
  }
})

t.test('a spent confirmation link says so and never shows the management link', async (t) => {
  const stack = await startSupporterStack(t)
  const s = await subscribeAndConfirm(stack, 'twice@example.org', { language: 'zh-Hans' })
  const page = await stack.request(null, 'GET', s.confirmPath)
  t.ok([404, 410].includes(page.statusCode), `not a success (${page.statusCode})`)
  t.match(page.body, /<html lang="zh-Hans"/)
  t.match(page.body, /此链接已被使用/)
  t.notOk(page.body.includes(s.manageToken), 'no management link: the mail may have been forwarded')
  t.equal(await statusOf(stack, 'twice@example.org'), 'active')
})

t.test('countries by region, chosen ones named; themes translated; made-up themes never printed but kept on request', async (t) => {
  const stack = await startSupporterStack(t)
  // Requester-chosen slugs a page must not print as words.
  await stack.request(null, 'POST', '/v1/subscriptions', { email: 'chosen@example.org', language: 'ko', themes: ['call-0800-win-now', 'torture'] })
  const mail = await stack.sink.waitFor('chosen@example.org')
  const confirmPath = pathOf((await linksIn(mail)).find((l) => l.includes('/confirm/'))!.replace(/#.*$/, ''))
  const confirm = await stack.request(null, 'GET', confirmPath)
  t.match(confirm.body, /주제: 고문 및 다른 주제 1개/, 'the confirm page names catalogue themes in Korean and counts the rest')
  t.notMatch(confirm.body, /call|0800|win/, 'the made-up slug is not printed')

  const s = await subscribeAndConfirm(stack, 'picker@example.org', { language: 'ko', countries: ['KP', 'SD', 'CN'], themes: ['torture', 'call-0800-win-now'] })
  await createPublished(stack, anAppeal({ themes: ['death-penalty', 'prison-labour'] }))
  const prefsPath = `/subscriptions/${s.manageToken}`
  const page = (await stack.request(null, 'GET', prefsPath)).body

  const regions = [...page.matchAll(/<details class="region" id="region-([0-9A-Z]+)">\n<summary>([^<]+)<\/summary>/g)].map((m) => [m[1], m[2]])
  t.same(regions, [
    ['019', '아메리카 대륙'], ['142', '아시아: 북한 및 중국'], ['002', '아프리카: 수단'], ['009', '오세아니아'], ['150', '유럽'], ['AQ', '남극 대륙'],
  ], 'one closed <details> per region in Korean order, each summary naming the countries chosen in it')
  t.match(page, /<input type="checkbox" name="countries" value="KP" checked> <span>북한<\/span>/)
  t.equal((page.match(/name="countries"/g) ?? []).length, COUNTRY_CODES.size, 'every country once')
  t.match(page, /<p class="current" id="current">현재 선택: 국가: 북한, 수단 및 중국\. 주제: 고문 및 다른 주제 1개\. 모든 알림\.<\/p>/, 'the current choice in words')
  t.match(page, /<input type="checkbox" name="themes" value="torture" checked> <span>고문<\/span>/, 'catalogue themes in Korean')
  t.match(page, /<input type="checkbox" name="themes" value="death-penalty"> <span>사형<\/span>/)
  t.match(page, /<input type="checkbox" name="themes" value="prison-labour"> <span>prison labour<\/span>/, 'a theme of a public appeal is offered')
  t.equal((page.match(/name="themes"/g) ?? []).length, THEMES.length + 1, 'the catalogue and the public appeal\'s other theme')
  t.match(page, /<input type="checkbox" name="keepOtherThemes" value="1" checked> <span>이전에 선택한 다른 주제 유지\(1개\)<\/span>/)
  t.notMatch(page, /call|0800|win-now/, 'the made-up slug appears nowhere, not even as a value')

  const api = `/v1/subscriptions/${s.manageToken}`
  const save = (body: string) => stack.request(null, 'POST', prefsPath, body, form)
  t.equal((await save('countries=FR&themes=children&keepOtherThemes=1')).statusCode, 200)
  t.same((await stack.request(null, 'GET', api)).json().themes, ['call-0800-win-now', 'children'], 'kept while ticked')
  const saved = await save('countries=FR&themes=children')
  t.match(saved.body, /유럽: 프랑스/, 'the saved page names the new choice')
  t.same((await stack.request(null, 'GET', api)).json().themes, ['children'], 'dropped when unticked')
  t.match((await save('themes=Not%20A%20Slug')).body, /일부 선택이 올바르지 않아/, 'a forged value is still refused')
})

t.test('the theme catalogue and the region table are complete', async (t) => {
  t.ok(THEMES.length >= 20 && THEMES.length <= 30, `${THEMES.length} themes`)
  for (const slug of THEMES) {
    t.match(slug, /^[a-z0-9-]{2,40}$/)
    const labels = LOCALES.map((locale) => themeLabel(locale, slug))
    t.ok(labels.every((l) => l.length > 0 && l !== slug.replace(/-/g, ' ')), `${slug}: labelled in every language`)
    t.not(labels[3], labels[0], `${slug}: Korean differs from English`)
    t.not(labels[4], labels[0], `${slug}: Chinese differs from English`)
  }
  t.equal(themeLabel('fr', 'land-rights'), 'land rights', 'outside the catalogue: the slug as words')
  const placed = Object.values(COUNTRY_REGIONS).flat()
  t.equal(placed.length, COUNTRY_CODES.size, 'no country in two regions')
  t.same([...new Set(placed)].sort(), [...COUNTRY_CODES].sort(), 'every country in a region')
})
