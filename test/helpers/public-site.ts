// Appeals for the public site's tests, made through the API as staff make
// them: the Liaoning case with French and Chinese translations, two
// officials to write to (one reading Chinese, one with an email address),
// two follow-ups; a closed appeal with its outcome; a draft, an embargoed
// one, a withdrawn one and a withdrawn draft — each with a marker in every
// text field, so a test can assert that nothing of it is ever rendered.
import { anAppeal, approve, createDraft, createPublished } from './liaoning.js'
import type { TestApp } from './context.js'

/** Every text field of an appeal that must never be shown, marked with `marker`. */
export const secretAppeal = (marker: string, overrides: Record<string, unknown> = {}) => anAppeal({
  title: `${marker} title`, summary: `${marker} summary`, body: `${marker} body`,
  countries: ['SY'], subdivisions: [], themes: [`${marker.toLowerCase()}-theme`],
  asks: [`${marker} ask`], legalBasis: [`${marker} law`],
  targets: [{ name: `${marker} official`, salutation: `${marker} salutation`, address: `${marker} street`, email: `${marker.toLowerCase()}@example.org` }],
  sources: [{ title: `${marker} source`, url: `https://example.org/${marker}` }],
  ...overrides,
})

/** The published appeal of the screenshots: translations, two targets, follow-ups. */
export const liaoningWithEverything = () => anAppeal({
  targets: [
    {
      name: 'Xi Jinping', title: 'President of the People’s Republic of China', salutation: 'Dear President',
      country: 'CN', address: 'Zhongnanhai, Xichengqu\nBeijing 100017\nPeople’s Republic of China', preferredLanguage: 'zh',
    },
    {
      name: 'Ambassador of China to the United Kingdom', salutation: 'Your Excellency', country: 'GB',
      address: '49–51 Portland Place\nLondon W1B 1JL\nUnited Kingdom', email: 'ambassador@example.org', preferredLanguage: 'en',
    },
  ],
})

export const FRENCH = {
  title: 'Chine : sept Nord-Coréens risquent d’être renvoyés vers la torture',
  summary: 'Trois femmes, trois hommes et une fillette de 10 ans, détenus dans la province du Liaoning depuis le 28 avril 2019, risquent la torture s’ils sont expulsés vers la Corée du Nord.',
  body: 'Les autorités chinoises ont arrêté le groupe le **28 avril 2019**.',
  asks: [
    'Ne renvoyez pas de force les sept Nord-Coréens détenus dans la province du Liaoning.',
    'Accordez-leur l’asile ou permettez-leur de gagner un pays tiers en sécurité.',
    'Permettez au HCR d’exercer son mandat et de les rencontrer.',
  ],
}

export const CHINESE = {
  title: '中国：七名朝鲜人面临被强制遣返并遭受酷刑的危险',
  summary: '三名女性、三名男性和一名10岁女孩自2019年4月28日起被关押在辽宁省，如被遣返朝鲜，将面临遭受酷刑的严重危险。',
  body: '中国当局于**2019年4月28日**拘留了这一群体。',
  asks: ['不要强制遣返在辽宁省被拘留的七名朝鲜人。', '给予他们庇护，或允许他们安全前往第三国。', '允许联合国难民署履行职责并与他们会面。'],
}

export const FOLLOW_UPS = [
  'The seven were moved to a detention centre in **Shenyang** on 10 May 2019. They remain at risk of forced return.',
  'UNHCR has asked the Chinese authorities for access. Keep writing: the authorities have not answered yet.',
]

export interface Site {
  open: any
  closed: any
  draft: any
  scheduled: any
  withdrawn: any
  withdrawnDraft: any
}

async function ok(res: { statusCode: number; body: string }, what: string) {
  if (res.statusCode >= 300) throw new Error(`${what}: ${res.statusCode} ${res.body}`)
}

/** The published appeal with French and Chinese translations and two follow-ups. */
export async function publishEverything(ctx: TestApp, overrides: Record<string, unknown> = {}): Promise<any> {
  const appeal = await createPublished(ctx, { ...liaoningWithEverything(), ...overrides })
  await ok(await ctx.request('editor', 'PUT', `/v1/appeals/${appeal.id}/translations/fr`, FRENCH), 'French')
  await ok(await ctx.request('editor', 'PUT', `/v1/appeals/${appeal.id}/translations/zh-Hans`, CHINESE), 'Chinese')
  for (const body of FOLLOW_UPS) await ok(await ctx.request('editor', 'POST', `/v1/appeals/${appeal.id}/updates`, { body }), 'follow-up')
  return (await ctx.request(null, 'GET', `/v1/appeals/${appeal.id}`)).json()
}

/** `open`: overrides of the open appeal (the browser test gives it a deadline days away, as the screenshots show). */
export async function seedSite(ctx: TestApp, open: Record<string, unknown> = {}): Promise<Site> {
  const opened = await publishEverything(ctx, open)
  const closed = await createPublished(ctx, anAppeal({
    title: 'Iran: student activist released after a worldwide campaign', countries: ['IR'], themes: ['freedom-of-expression'],
    subdivisions: [], urgency: 'high', actionDeadline: null,
  }))
  await ok(await ctx.request('editor', 'POST', `/v1/appeals/${closed.id}/updates`, { body: 'She was moved to Evin prison on 3 March.' }), 'follow-up')
  await ok(await ctx.request('editor', 'POST', `/v1/appeals/${closed.id}/close`, {
    outcome: { code: 'released', note: 'She was released on bail on 2 April and is back with her family.' },
  }), 'close')
  const draft = await createDraft(ctx, secretAppeal('DRAFTMARK'))
  const scheduled = await createDraft(ctx, secretAppeal('EMBARGOMARK', { embargoUntil: new Date(Date.now() + 86_400_000).toISOString() }))
  await approve(ctx, scheduled.id)
  await ok(await ctx.request('editor', 'POST', `/v1/appeals/${scheduled.id}/publish`), 'schedule')
  const withdrawn = await createPublished(ctx, secretAppeal('WITHDRAWNMARK'))
  await ok(await ctx.request('editor', 'POST', `/v1/appeals/${withdrawn.id}/withdraw`, { reason: 'consent withdrawn by the family' }), 'withdraw')
  const withdrawnDraft = await createDraft(ctx, secretAppeal('WDRAFTMARK'))
  await ok(await ctx.request('editor', 'POST', `/v1/appeals/${withdrawnDraft.id}/withdraw`, { reason: 'never mind' }), 'withdraw draft')
  return {
    open: opened, closed: (await ctx.request(null, 'GET', `/v1/appeals/${closed.id}`)).json(), draft, scheduled, withdrawn, withdrawnDraft,
  }
}
