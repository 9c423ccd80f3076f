// Fault: Postgres restarts under a running `serve` and `worker`. During the
// outage the API answers 503 problem documents (never a 500, never a hang);
// afterwards it recovers by itself — no restart of our processes — and the
// worker delivers the next appeal to every supporter.
import tap from 'tap'
import { createPool } from '../../src/db/pool.js'
import { migrate } from '../../src/db/migrate.js'
import { startPostgres, freePort } from '../harness/services.js'
import { createKey, startPrivateRedis } from '../helpers/context.js'
import { anAppeal } from '../helpers/liaoning.js'
import { startSmtpSink } from '../helpers/smtp-sink.js'
import { roleEnv, seedSupporters, startServeProcess, startWorkerProcess, tally, until } from './helpers.js'

const SUPPORTERS = 300

tap.test('Postgres restarted: 503 problems during the outage, then the API and workers recover by themselves', async (t) => {
  const pgServer = await startPostgres()
  t.teardown(() => pgServer.stop())
  await migrate(pgServer.url)
  const redis = await startPrivateRedis(t)
  const sink = await startSmtpSink(t)
  const pool = createPool(pgServer.url, { max: 2 })
  t.teardown(() => pool.end())
  const { key } = await createKey(pool, 'Liaoning Watch', 'editor')
  const { key: reviewerKey } = await createKey(pool, 'Liaoning Watch', 'editor', 'reviewer')
  const intended = await seedSupporters(pool, SUPPORTERS)

  const port = await freePort()
  const env = roleEnv({ DATABASE_URL: pgServer.url, REDIS_URL: redis.url, SMTP_URL: sink.url, HOST: '127.0.0.1', PORT: String(port) })
  await startServeProcess(t, env)
  const worker = await startWorkerProcess(t, env)
  const api = (method: string, path: string, body?: unknown) => fetch(`http://127.0.0.1:${port}${path}`, {
    method, signal: AbortSignal.timeout(15_000),
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  const draft = await (await api('POST', '/v1/appeals', anAppeal())).json() as { id: string }
  t.ok(draft.id, 'a draft exists before the outage')
  // A child is counted: a colleague approves it (two-person rule) before the outage.
  const approved = await fetch(`http://127.0.0.1:${port}/v1/appeals/${draft.id}/approve`, {
    method: 'POST', signal: AbortSignal.timeout(15_000), headers: { authorization: `Bearer ${reviewerKey}`, 'if-match': '"1"' },
  })
  t.equal(approved.status, 200, 'approved by a second key')

  await pgServer.kill('SIGINT') // fast shutdown: every connection is terminated
  const during: Record<string, number> = {}
  for (const [method, path, body] of [
    ['GET', '/v1/appeals', undefined], ['GET', `/v1/appeals/${draft.id}`, undefined],
    ['POST', `/v1/appeals/${draft.id}/publish`, undefined], ['POST', '/v1/appeals', anAppeal()],
    ['GET', '/readyz', undefined], ['GET', '/v1/events', undefined],
  ] as const) {
    const started = Date.now()
    const res = await api(method, path, body)
    const text = await res.text()
    during[`${method} ${path.replace(draft.id, ':id')}`] = res.status
    t.equal(res.status, 503, `${method} ${path}: 503 during the outage (${text.slice(0, 160)})`)
    t.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, 'as a problem document')
    const problem = JSON.parse(text)
    t.ok(typeof problem.type === 'string' && typeof problem.title === 'string' && problem.status === 503 && typeof problem.detail === 'string',
      'with type, title, status and detail')
    t.ok(Date.now() - started < 10_000, `answered within 10 s (${Date.now() - started} ms)`)
  }
  t.comment(`during the outage: ${JSON.stringify(during)}`)

  await pgServer.start()
  const recovered = Date.now()
  await until(async () => (await api('GET', '/v1/appeals')).status === 200, 30_000, 'the API answers 200 again')
  t.comment(`API recovered ${Date.now() - recovered} ms after Postgres came back`)
  const published = await api('POST', `/v1/appeals/${draft.id}/publish`)
  t.equal(published.status, 200, 'publishing works again')
  const result = await until(() => {
    const r = tally(sink.messages, intended)
    return r.missing.length === 0 ? r : undefined
  }, 60_000, 'every supporter reached', () => ({ mails: sink.messages.length }))
  await new Promise((r) => setTimeout(r, 1000))
  t.comment(`all ${SUPPORTERS} supporters reached ${Date.now() - recovered} ms after Postgres came back`)
  t.equal(result.missing.length, 0, 'the worker resumed: every supporter got the alert')
  t.equal(tally(sink.messages, intended).duplicates, 0, 'once each')
  t.equal(worker.child.exitCode, null, 'the worker process survived the outage')
})
