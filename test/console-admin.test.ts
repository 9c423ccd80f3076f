// The console's administration over HTTP (contract §7, §9): an admin's
// invitation and new enrolment link mailed through the email queue (the
// real SMTP sink, the real worker; the job holds the link's id only and
// no token reaches Redis or the logs), API keys (created and shown once,
// working against /v1, listed without the secret, revoked with a
// confirmation), the audit log naming the person, supporter counts, roles,
// and CSRF.
import t from 'tap'
import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { buildApp } from '../src/app.js'
import { createPool } from '../src/db/pool.js'
import { createLogger } from '../src/logger.js'
import { createFailFastRedis } from '../src/queue/queues.js'
import { startDeliveryWorkers } from '../src/delivery/workers.js'
import { EMAIL_QUEUE, enrolmentJobId, type EmailJob } from '../src/email/queue.js'
import { createTestDatabase, testConfig } from './helpers/context.js'
import { startSmtpSink } from './helpers/smtp-sink.js'
import { linksIn } from './helpers/supporters.js'
import { ConsoleBrowser, signInAs } from './helpers/console.js'

type Tap = typeof t

/** Every value stored under the test's queue prefix, whatever the key's type. */
async function redisContents(redis: Redis, prefix: string): Promise<string> {
  const out: string[] = []
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
    cursor = next
    for (const key of keys) {
      const type = await redis.type(key)
      const value = type === 'hash' ? await redis.hgetall(key)
        : type === 'list' ? await redis.lrange(key, 0, -1)
          : type === 'zset' ? await redis.zrange(key, 0, -1)
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
  const queue = new Queue<EmailJob>(EMAIL_QUEUE, { connection: redis, prefix: config.queuePrefix })
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
  const admin = await signInAs(stack, 'Liaoning Watch', 'admin@example.org', 'admin')

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
  const admin = await signInAs(stack, 'Liaoning Watch', 'admin@example.org', 'admin')
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
