// The console's administration over HTTP (contract §7, §9): an admin's
// invitation and new enrolment link mailed through the email queue (the
// real SMTP sink, the real worker; the job holds the link's id only and
// no token reaches Redis or the logs), API keys (created and shown once,
// working against /v1, listed without the secret, revoked with a
// confirmation), the audit log naming the person, supporter counts, roles,
// and CSRF.
import t from 'tap'
import { Queue } from 'bullmq'
import type { RedisConnection } from '../src/queue/queues.js'
import { buildApp } from '../src/app.js'
import { createPool } from '../src/db/pool.js'
import { createLogger } from '../src/logger.js'
import { createFailFastRedis, queueKeyPrefix } from '../src/queue/queues.js'
import { startDeliveryWorkers } from '../src/delivery/workers.js'
import { EMAIL_QUEUE, enrolmentJobId, type EmailJob } from '../src/email/queue.js'
import { buildTestApp, createTestDatabase, testConfig } from './helpers/context.js'
import { startSmtpSink } from './helpers/smtp-sink.js'
import { linksIn, seedActiveSubscribers } from './helpers/supporters.js'
import { ConsoleBrowser, consoleSession } from './helpers/console.js'

interface Tap { teardown(fn: () => unknown): void }

/** Every value stored under the test's queue prefix, whatever the key's type. */
async function redisContents(redis: RedisConnection, prefix: string): Promise<string> {
  const out: string[] = []
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`)
    cursor = next
    for (const key of keys) {
      const type = await redis.type(key)
      const value = type === 'hash' ? await redis.hgetall(key)
        : type === 'list' ? await redis.lrange(key, 0, -1)
          : type === 'zset' ? await redis.zrange(key, '0', '-1')
            : type === 'set' ? await redis.smembers(key)
              : type === 'stream' ? await redis.xrange(key, '-', '+')
                : type === 'string' ? await redis.get(key) : null
      out.push(key, JSON.stringify(value))
    }
  } while (cursor !== '0')
  return out.join('\n')
}

/** The app with its real logger (every line kept, at trace), the sink, and the email worker started on demand. */
async function mailStack(t: Tap) {
  const sink = await startSmtpSink(t)
  const databaseUrl = await createTestDatabase(t)
  const config = await testConfig(databaseUrl, { SMTP_URL: sink.url, EMAIL_RETRY_SCHEDULE: '1,1' })
  const logs: string[] = []
  const logger = createLogger('trace', { write: (line: string) => { logs.push(line) } })
  const pool = createPool(databaseUrl, { max: 6 })
  const redis = createFailFastRedis(config.redisUrl)
  const app = await buildApp({ config, pool, redis, logger, gaugeRefreshMs: 0 })
  await app.ready()
  const queue = new Queue<EmailJob>(EMAIL_QUEUE, { connection: redis, prefix: queueKeyPrefix(config.queuePrefix, EMAIL_QUEUE) })
  const workerPool = createPool(databaseUrl, { max: 4 })
  let delivery: Awaited<ReturnType<typeof startDeliveryWorkers>> | null = null
  t.teardown(async () => {
    await delivery?.close()
    await queue.close()
    await app.close()
    redis.disconnect()
    await workerPool.end()
    await pool.end()
  })
  return {
    app, pool, redis, config, sink, logs, queue,
    async startWorker() { delivery = await startDeliveryWorkers({ config, pool: workerPool, logger }) },
  }
}

const shownLink = (body: string) => /<code class="link">([^<]+)<\/code>/.exec(body)?.[1]

t.test('an invitation from the console is mailed through the email queue; its link opens the enrol page and enrols; no token in Redis or the logs', async (t) => {
  const stack = await mailStack(t)
  const admin = await consoleSession(stack, 'admin', { org: 'Liaoning Watch', email: 'admin@example.org' })

  const invited = await admin.browser.postForm('/console/people', { _csrf: admin.csrf, email: 'min-ji@example.org', role: 'editor', displayName: 'Min-ji Park' })
  t.equal(invited.statusCode, 201, invited.body)
  t.match(invited.body, /and mailed to them/, 'the admin is told the link was mailed')
  const token = shownLink(invited.body)!.split('/').at(-1)!
  t.match(token, /^[A-Za-z0-9_-]{43}$/)

  // The job waits in Redis (no worker yet): it names the link, nothing else.
  const { rows: [link] } = await stack.pool.query<{ id: string }>(
    `SELECT t.id FROM enrolment_tokens t JOIN people p ON p.id = t.person_id WHERE p.email = 'min-ji@example.org'`)
  const job = await stack.queue.getJob(enrolmentJobId(link!.id))
  t.ok(job, 'an enrolment job is on the email queue')
  t.same(job!.data, { kind: 'enrolment', enrolmentId: link!.id }, 'the job holds the link\'s id only')
  const inRedis = await redisContents(stack.redis, stack.config.queuePrefix)
  t.ok(inRedis.includes(link!.id), 'the scan sees the job')
  t.notOk(inRedis.includes(token), 'the token is nowhere in Redis')
  t.notOk(inRedis.includes('min-ji@example.org'), 'nor the address')

  await stack.startWorker()
  const mail = await stack.sink.waitFor('min-ji@example.org', 15_000)
  const parsed = await mail.parsed()
  t.equal(parsed.subject, 'Create your passkey for the Liaoning Watch console')
  t.match(parsed.text!, /Hello Min-ji Park,/)
  t.match(parsed.text!, /Urgent Appeals console of Liaoning Watch, as an editor/)
  t.match(parsed.text!, /works once, until \d{1,2} \w+ \d{4}, \d\d:\d\d UTC/, 'says until when')
  t.match(parsed.text!, /If this wasn’t expected, ignore this message/)
  t.match(parsed.html as string, /Create your passkey<\/a>/)
  t.equal(parsed.headers.get('auto-submitted'), 'auto-generated')
  const links = (await linksIn(mail)).filter((l) => l.includes('/console/enrol/'))
  t.same(links, [`http://localhost:3000/console/enrol/${token}`], 'the mailed link is the one the admin saw')

  // The invitee opens the mailed link: the enrol page, then a passkey and a session.
  const invitee = new ConsoleBrowser(stack.app, stack.config.publicBaseUrl)
  const page = await invitee.get(new URL(links[0]!).pathname)
  t.equal(page.statusCode, 200)
  t.match(page.body, /min-ji@example\.org/)
  t.equal((await invitee.enrol(links[0]!)).statusCode, 200, 'enrolled through the mailed link')
  const landing = await invitee.get('/console')
  t.equal(landing.statusCode, 200)
  t.match(landing.body, /<dd>Editor<\/dd>/)

  const logs = stack.logs.join('')
  t.match(logs, /\/console\/enrol\/\[redacted\]/, 'the enrol requests are logged, their token redacted')
  t.notOk(logs.includes(token), 'the token is nowhere in the logs')
  t.notOk(logs.includes('min-ji@example.org'), 'nor the address')
})

t.test('"new enrolment link" mails a fresh link; the old one is void', async (t) => {
  const stack = await mailStack(t)
  const admin = await consoleSession(stack, 'admin', { org: 'Liaoning Watch', email: 'admin@example.org' })
  await stack.startWorker()
  const invited = await admin.browser.postForm('/console/people', { _csrf: admin.csrf, email: 'ana@example.org', role: 'editor' })
  t.equal(invited.statusCode, 201)
  const first = await stack.sink.waitFor('ana@example.org', 15_000)
  const { rows: [person] } = await stack.pool.query<{ id: string }>(`SELECT id FROM people WHERE email = 'ana@example.org'`)

  const resent = await admin.browser.postForm(`/console/people/${person!.id}/enrolment-link`, { _csrf: admin.csrf })
  t.equal(resent.statusCode, 200)
  t.match(resent.body, /and mailed to them/)
  await stack.sink.waitForCount(2, 15_000)
  const second = stack.sink.to('ana@example.org').find((m) => m !== first)!
  const [oldLink] = (await linksIn(first)).filter((l) => l.includes('/console/enrol/'))
  const [newLink] = (await linksIn(second)).filter((l) => l.includes('/console/enrol/'))
  t.not(newLink, oldLink, 'a new link')
  t.match((await second.parsed()).text!, /Hello,/, 'no name given: a plain greeting')
  const browser = new ConsoleBrowser(stack.app, stack.config.publicBaseUrl)
  t.equal((await browser.get(new URL(oldLink!).pathname)).statusCode, 410, 'the first link is void')
  t.equal((await browser.get(new URL(newLink!).pathname)).statusCode, 200, 'the mailed one works')
})

// ---- API keys, the audit log, supporter counts --------------------------------------

const keyOnPage = (body: string) => /<code class="link">(ua_[^<]+)<\/code>/.exec(body)?.[1]

t.test('an admin issues an API key: shown once, works against /v1, listed afterwards without the secret; revoked after a confirmation, /v1 refuses it', async (t) => {
  const ctx = await buildTestApp(t)
  const admin = await consoleSession(ctx, 'admin', { org: 'Liaoning Watch', email: 'admin@example.org' })

  const list = await admin.browser.get('/console/api-keys')
  t.equal(list.statusCode, 200)
  t.match(list.body, /<a href="\/console\/api-keys" aria-current="page">API keys<\/a>/, 'in the navigation, current')
  t.match(list.body, /editor test key/, 'the keys, as GET \/v1\/api-keys lists them')
  t.match(list.body, /Other NGO/, 'across organisations, as an admin key sees them')

  const issued = await admin.browser.postForm('/console/api-keys', { _csrf: admin.csrf, name: 'Newsroom CMS', role: 'editor', organisationId: ctx.orgIds.ngo })
  t.equal(issued.statusCode, 201, issued.body)
  t.equal(issued.headers['cache-control'], 'no-store', 'the page with the secret is never stored')
  const key = keyOnPage(issued.body)
  t.ok(key, 'the key is shown')
  t.match(issued.body, /only this once/)
  const used = await ctx.app.inject({ method: 'GET', url: '/v1/appeals', headers: { authorization: `Bearer ${key}` } })
  t.equal(used.statusCode, 200, 'the new key works against the API')

  const again = await admin.browser.get('/console/api-keys')
  t.match(again.body, /Newsroom CMS/, 'listed afterwards')
  t.notOk(again.body.includes(key!), 'without its secret')
  t.match(again.body, new RegExp(`<code>${key!.split('_').slice(0, 2).join('_')}…</code>`), 'by its visible prefix')
  const fromApi = (await ctx.request('admin', 'GET', '/v1/api-keys?limit=100')).json().items.find((k: { name: string }) => k.name === 'Newsroom CMS')
  t.match(fromApi, { role: 'editor', organisationId: ctx.orgIds.ngo }, 'the API sees the same key')

  const confirm = await admin.browser.get(`/console/api-keys/${fromApi.id}/revoke`)
  t.equal(confirm.statusCode, 200)
  t.match(confirm.body, /Revoke the key <strong>Newsroom CMS<\/strong>/)
  t.match(confirm.body, /stops working at once/, 'the confirmation says what will happen')
  t.equal((await ctx.app.inject({ method: 'GET', url: '/v1/appeals', headers: { authorization: `Bearer ${key}` } })).statusCode, 200, 'asking is not revoking')

  const revoked = await admin.browser.postForm(`/console/api-keys/${fromApi.id}/revoke`, { _csrf: admin.csrf })
  t.equal(revoked.statusCode, 303)
  t.equal(revoked.headers.location, '/console/api-keys?done=revoked', 'POST-redirect-GET')
  t.match((await admin.browser.get(revoked.headers.location as string)).body, /The key is revoked/)
  t.equal((await ctx.app.inject({ method: 'GET', url: '/v1/appeals', headers: { authorization: `Bearer ${key}` } })).statusCode, 401, 'the API refuses it at once')
  t.match((await admin.browser.get(`/console/api-keys/${fromApi.id}/revoke`)).body, /was revoked/, 'nothing left to confirm')

  const unknown = '00000000-0000-4000-8000-000000000000'
  t.equal((await admin.browser.get(`/console/api-keys/${unknown}/revoke`)).statusCode, 404, 'an unknown key: 404')
  t.equal((await admin.browser.postForm(`/console/api-keys/${unknown}/revoke`, { _csrf: admin.csrf })).statusCode, 404)
})

t.test('the key form says what is wrong at the form, with the API\'s rules', async (t) => {
  const ctx = await buildTestApp(t)
  const admin = await consoleSession(ctx, 'admin', { org: 'Liaoning Watch', email: 'admin@example.org' })
  const before = (await ctx.pool.query('SELECT 1 FROM api_keys')).rowCount
  const blank = await admin.browser.postForm('/console/api-keys', { _csrf: admin.csrf, name: '  ', role: 'editor', organisationId: ctx.orgIds.ngo })
  t.equal(blank.statusCode, 400)
  t.match(blank.body, /role="alert"><p>Give the key a name/)
  const partner = await admin.browser.postForm('/console/api-keys', { _csrf: admin.csrf, name: 'Desk', role: 'editor', organisationId: ctx.orgIds.partner })
  t.equal(partner.statusCode, 400)
  t.match(partner.body, /A partner organisation can only hold partner keys, not editor/, 'the service\'s own rule, at the form')
  t.match(partner.body, /value="Desk"/, 'what was typed is kept')
  t.equal((await ctx.pool.query('SELECT 1 FROM api_keys')).rowCount, before, 'no key issued')
})

t.test('the audit log shows people by their address and keys by their name, newest first, with the API\'s filters and older pages', async (t) => {
  const ctx = await buildTestApp(t)
  const admin = await consoleSession(ctx, 'admin', { org: 'Liaoning Watch', email: 'admin@example.org' })
  t.equal((await admin.browser.postForm('/console/api-keys', { _csrf: admin.csrf, name: 'Newsroom CMS', role: 'editor', organisationId: ctx.orgIds.ngo })).statusCode, 201)
  t.equal((await ctx.request('admin', 'POST', '/v1/organisations', { name: 'Later NGO', kind: 'ngo', contactEmail: 'office@later.example' })).statusCode, 201)

  const log = await admin.browser.get('/console/audit-log')
  t.equal(log.statusCode, 200)
  const byPerson = log.body.indexOf('<code>api-key.create</code>')
  const byKey = log.body.indexOf('<code>organisation.create</code>')
  t.ok(byKey > 0 && byPerson > byKey, 'newest first: the organisation (made later) above the key')
  const personEntry = log.body.slice(byPerson, log.body.indexOf('</li>', byPerson))
  t.match(personEntry, /admin@example\.org \(admin\)/, 'the person who acted, by address')
  t.match(personEntry, /&quot;role&quot;:&quot;editor&quot;/, 'what they did (the details, as the API has them)')
  const keyEntry = log.body.slice(byKey, log.body.indexOf('</li>', byKey))
  t.match(keyEntry, /API key “admin test key” <code>ua_/, 'the key that acted, by name and prefix')
  t.match(log.body, /Operator \(command line\)/, 'the CLI\'s own changes')

  const filtered = await admin.browser.get('/console/audit-log?action=api-key.create&resourceType=&resourceId=&organisationId=')
  t.equal(filtered.statusCode, 200)
  t.notMatch(filtered.body, /<code>organisation\.create<\/code>/, 'only the action asked for')
  t.match(filtered.body, /value="api-key\.create"/, 'the filter stays in the form')
  const byOrg = await admin.browser.get(`/console/audit-log?organisationId=${ctx.orgIds.otherNgo}`)
  t.notMatch(byOrg.body, /admin@example\.org \(admin\)/, 'by organisation, as the API filters')
  t.equal((await admin.browser.get('/console/audit-log?action=DROP%20TABLE')).statusCode, 400, 'a filter the API would refuse is refused')

  await ctx.pool.query(
    `INSERT INTO audit_log (organisation_id, actor_role, action, resource_type, resource_id, details)
     SELECT $1, 'editor', 'appeal.update', 'appeal', 'a' || i, '{}' FROM generate_series(1, 55) AS i`, [ctx.orgIds.ngo])
  const first = await admin.browser.get('/console/audit-log?action=appeal.update')
  t.equal((first.body.match(/<code>appeal\.update<\/code>/g) ?? []).length, 50, 'a page of 50')
  const older = /<a href="([^"]+)">Older entries<\/a>/.exec(first.body)?.[1]?.replace(/&amp;/g, '&')
  t.match(older, /action=appeal\.update/, 'the next page keeps the filter')
  const second = await admin.browser.get(older!)
  t.equal((second.body.match(/<code>appeal\.update<\/code>/g) ?? []).length, 5, 'the rest')
  t.match(second.body, /<code>a1<\/code>/, 'down to the oldest')
})

t.test('supporter counts match the subscriptions, as GET /v1/subscribers/stats gives them, without an address', async (t) => {
  const ctx = await buildTestApp(t)
  await seedActiveSubscribers(ctx, ['a@example.org', 'b@example.org', 'c@example.org'], { language: 'en' })
  await seedActiveSubscribers(ctx, ['d@example.org', 'e@example.org'], { language: 'fr' })
  t.equal((await ctx.request(null, 'POST', '/v1/subscriptions', { email: 'pending@example.org' })).statusCode, 202)
  const stats = (await ctx.request('editor', 'GET', '/v1/subscribers/stats')).json()
  t.match(stats, { total: 6, byStatus: { active: 5, pending: 1, unsubscribed: 0 }, activeByLanguage: { en: 3, fr: 2 } })

  const editor = await consoleSession(ctx, 'editor', { org: 'Liaoning Watch', email: 'editor@example.org' })
  const page = await editor.browser.get('/console/supporters')
  t.equal(page.statusCode, 200)
  t.match(page.body, /<strong>6<\/strong> supporters in all, of whom <strong>5<\/strong> receive alerts/)
  t.match(page.body, /<th scope="row"[^>]*>Active \(confirmed\)<\/th><td[^>]*>5<\/td>/)
  t.match(page.body, /<th scope="row"[^>]*>Waiting for confirmation<\/th><td[^>]*>1<\/td>/)
  t.match(page.body, /<th scope="row"[^>]*>English \(en\)<\/th><td[^>]*>3<\/td>/)
  t.match(page.body, /<th scope="row"[^>]*>French \(fr\)<\/th><td[^>]*>2<\/td>/)
  t.notMatch(page.body, /@example\.org<|[a-e]@example|pending@/, 'counts only: no address')
})

t.test('roles: editors get 403 on keys and the audit log, partners on supporter counts; the navigation shows each role its areas', async (t) => {
  const ctx = await buildTestApp(t)
  const admin = await consoleSession(ctx, 'admin', { org: 'Liaoning Watch', email: 'admin@example.org' })
  const editor = await consoleSession(ctx, 'editor', { org: 'Liaoning Watch', email: 'editor@example.org' })
  const partner = await consoleSession(ctx, 'partner', { org: 'Refugee Desk', email: 'desk@example.org' })
  for (const path of ['/console/api-keys', '/console/audit-log', `/console/api-keys/${ctx.orgIds.ngo}/revoke`]) {
    const res = await editor.browser.get(path)
    t.equal(res.statusCode, 403, `editor: GET ${path}`)
    t.match(res.body, /needs the admin role/)
  }
  const post = await editor.browser.postForm('/console/api-keys', { _csrf: editor.csrf, name: 'Mine', role: 'admin', organisationId: ctx.orgIds.ngo })
  t.equal(post.statusCode, 403, 'an editor cannot issue a key')
  t.equal((await ctx.pool.query(`SELECT 1 FROM api_keys WHERE name = 'Mine'`)).rowCount, 0)
  t.equal((await partner.browser.get('/console/supporters')).statusCode, 403, 'partner: no supporter counts')

  const nav = (body: string) => [...(/<nav aria-label="Console">([\s\S]*?)<\/nav>/.exec(body)?.[1] ?? '').matchAll(/>([^<>]+)<\/a>/g)].map((m) => m[1])
  const adminNav = nav((await admin.browser.get('/console')).body)
  t.ok(['Supporters', 'API keys', 'Audit log'].every((l) => adminNav.includes(l)), `admin: ${adminNav.join(', ')}`)
  const editorNav = nav((await editor.browser.get('/console')).body)
  t.ok(editorNav.includes('Supporters') && !editorNav.includes('API keys') && !editorNav.includes('Audit log'), `editor: ${editorNav.join(', ')}`)
})

t.test('CSRF: issuing or revoking a key without the session\'s token, or from another origin, is refused (403)', async (t) => {
  const ctx = await buildTestApp(t)
  const admin = await consoleSession(ctx, 'admin', { org: 'Liaoning Watch', email: 'admin@example.org' })
  const fields = { name: 'Forged', role: 'admin', organisationId: ctx.orgIds.ngo }
  t.equal((await admin.browser.postForm('/console/api-keys', fields)).statusCode, 403, 'no token')
  t.equal((await admin.browser.postForm('/console/api-keys', { ...fields, _csrf: 'x'.repeat(43) })).statusCode, 403, 'a wrong token')
  t.equal((await admin.browser.postForm('/console/api-keys', { ...fields, _csrf: admin.csrf }, { origin: 'https://evil.example' })).statusCode, 403, 'another origin')
  t.equal((await ctx.pool.query(`SELECT 1 FROM api_keys WHERE name = 'Forged'`)).rowCount, 0, 'no key issued')
  const { rows: [editorKey] } = await ctx.pool.query<{ id: string }>(`SELECT id FROM api_keys WHERE name = 'editor test key'`)
  t.equal((await admin.browser.postForm(`/console/api-keys/${editorKey!.id}/revoke`, {})).statusCode, 403)
  t.equal((await ctx.request('editor', 'GET', '/v1/appeals')).statusCode, 200, 'the key still works')
})
