// Scale-out on a real Redis Cluster: three masters on loopback, two `worker`
// and two `serve` processes given every master as REDIS_URL. Appeals are
// published through both APIs; one API is killed with SIGKILL while a
// publish is in flight to it, and publishing goes on through the other.
// Every appeal Postgres holds as published reaches every supporter (SMTP
// sink) and every partner (receiver), nobody twice; and each queue's keys
// sit on one master while the queues together use at least two — each
// queue has its own hash tag (src/queue/queues.ts).
import tap from 'tap'
import { EMAIL_QUEUE } from '../../src/email/queue.js'
import { QUEUE } from '../../src/queue/queues.js'
import { WEBHOOK_QUEUE } from '../../src/webhooks/queue.js'
import { freePort } from '../harness/services.js'
import { buildTestApp } from '../helpers/context.js'
import { anAppeal } from '../helpers/liaoning.js'
import { startReceiver } from '../helpers/receiver.js'
import { startSmtpSink } from '../helpers/smtp-sink.js'
import { createEndpoint } from '../helpers/webhooks.js'
import { killHard, roleEnv, seedSupporters, startRedisCluster, startServeProcess, startWorkerProcess, tally, until } from './helpers.js'

const SUPPORTERS = 1500
const PARTNERS = 20
/** Published through API A before the kill, through B, and through A after it. */
const BEFORE = 2
const AFTER = 2
const STARTUP_MS = 90_000

tap.test('a fan-out on a 3-master Redis Cluster completes with nothing lost while an API process is killed', async (t) => {
  const cluster = await startRedisCluster(t, 3)
  const sink = await startSmtpSink(t)
  const receiver = await startReceiver(t)
  const ctx = await buildTestApp(t, { REDIS_URL: cluster.url, SMTP_URL: sink.url })
  const intended = await seedSupporters(ctx.pool, SUPPORTERS)
  for (let i = 0; i < PARTNERS; i++) await createEndpoint(ctx, { url: receiver.url(`/partner/${i}`) })

  const [portA, portB] = [await freePort(), await freePort()]
  const env = roleEnv({ DATABASE_URL: ctx.config.databaseUrl, REDIS_URL: cluster.url, SMTP_URL: sink.url, HOST: '127.0.0.1' })
  // Four processes loading the sources at once on two shared cores: allow them more than the usual 30 s.
  const [, , , apiB] = await Promise.all([
    startWorkerProcess(t, env, STARTUP_MS), startWorkerProcess(t, env, STARTUP_MS),
    startServeProcess(t, { ...env, PORT: String(portA) }, STARTUP_MS), startServeProcess(t, { ...env, PORT: String(portB) }, STARTUP_MS),
  ])

  const call = (port: number, key: string, method: string, path: string, headers: Record<string, string> = {}, body?: unknown) =>
    fetch(`http://127.0.0.1:${port}${path}`, {
      method, signal: AbortSignal.timeout(15_000),
      headers: { authorization: `Bearer ${key}`, ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    })
  /** Creates a draft and has a second editor approve it (the seed appeal counts a child): ready to publish. */
  const approvedDraft = async (port: number): Promise<string> => {
    const created = await call(port, ctx.keys.editor, 'POST', '/v1/appeals', {}, anAppeal())
    if (created.status !== 201) throw new Error(`create on ${port}: ${created.status} ${await created.text()}`)
    const { id } = await created.json() as { id: string }
    const read = await call(port, ctx.keys.reviewer, 'GET', `/v1/appeals/${id}`)
    const approved = await call(port, ctx.keys.reviewer, 'POST', `/v1/appeals/${id}/approve`, { 'if-match': read.headers.get('etag') ?? '' })
    if (approved.status !== 200) throw new Error(`approve on ${port}: ${approved.status} ${await approved.text()}`)
    return id
  }
  const publish = async (port: number, id: string) => {
    const res = await call(port, ctx.keys.editor, 'POST', `/v1/appeals/${id}/publish`)
    if (res.status !== 200) throw new Error(`publish on ${port}: ${res.status} ${await res.text()}`)
    return id
  }

  const started = Date.now()
  const acknowledged: string[] = []
  for (let i = 0; i < BEFORE; i++) acknowledged.push(await publish(i % 2 === 0 ? portA : portB, await approvedDraft(i % 2 === 0 ? portA : portB)))
  await sink.waitForCount(Math.round(SUPPORTERS * 0.2), 60_000)
  // Mid-fan-out: B is killed with a publish in flight (it may or may not
  // have committed — Postgres says which), while A creates and publishes on.
  const inFlightId = await approvedDraft(portB)
  const inFlight = call(portB, ctx.keys.editor, 'POST', `/v1/appeals/${inFlightId}/publish`).then((r) => r.status, () => 'no answer')
  const afterKill = (async () => {
    const ids: string[] = []
    for (let i = 0; i < AFTER; i++) ids.push(await publish(portA, await approvedDraft(portA)))
    return ids
  })()
  await killHard(apiB)
  const atKill = { mails: sink.messages.length, webhooks: receiver.requests.length }
  acknowledged.push(...await afterKill)
  const inFlightAnswer = await inFlight
  t.comment(`API B killed ${Date.now() - started} ms after the first publish, at ${JSON.stringify(atKill)}; the publish in flight to it: ${inFlightAnswer}`)
  t.ok(atKill.mails < SUPPORTERS * BEFORE, 'the fan-out was still running when the API died')
  t.equal(apiB.child.signalCode, 'SIGKILL', 'API B is gone')
  const ready = await call(portA, ctx.keys.editor, 'GET', '/readyz')
  t.equal(ready.status, 200, 'API A stays ready on the cluster')
  // A keyless read is counted by the public rate limit: its script runs on the cluster too.
  const keyless = await fetch(`http://127.0.0.1:${portA}/v1/appeals`, { signal: AbortSignal.timeout(15_000) })
  t.equal(keyless.status, 200, 'a public read answers')

  // Postgres is the truth: every appeal it holds as published must reach everyone.
  const { rows } = await ctx.pool.query<{ id: string }>(`SELECT id FROM appeals WHERE status = 'published'`)
  const published = rows.map((r) => r.id)
  t.ok(acknowledged.every((id) => published.includes(id)), 'every publish answered 200 is published')
  if (inFlightAnswer === 200) t.ok(published.includes(inFlightId), 'the in-flight publish answered 200, so it is published')
  t.ok(published.length === acknowledged.length || published.length === acknowledged.length + 1, `${published.length} appeals published`)
  const expectedMails = SUPPORTERS * published.length
  const expectedWebhooks = PARTNERS * published.length
  await until(() => sink.messages.length >= expectedMails && receiver.requests.length >= expectedWebhooks,
    120_000, 'every delivery made', () => ({ mails: sink.messages.length, webhooks: receiver.requests.length, expectedMails, expectedWebhooks }))
  const deliveredIn = Date.now() - started
  await new Promise((r) => setTimeout(r, 1500)) // anything doubled would arrive now

  const mail = tally(sink.messages, intended)
  // A copy of the same mail has the same Message-ID; each supporter should hold one per published appeal.
  const messageIds = new Set(sink.messages.map((m) => m.raw.toString('latin1').match(/^Message-ID:\s*(\S+)/im)?.[1] ?? ''))
  const perSupporter = new Map<string, number>()
  for (const m of sink.messages) for (const to of m.to) perSupporter.set(to, (perSupporter.get(to) ?? 0) + 1)
  const mailDuplicates = sink.messages.length - messageIds.size
  const perWebhook = new Map<string, number>()
  for (const r of receiver.requests) {
    const id = `${r.path} ${String(r.headers['webhook-id'])}`
    perWebhook.set(id, (perWebhook.get(id) ?? 0) + 1)
  }
  const webhookDuplicates = [...perWebhook.values()].reduce((sum, n) => sum + n - 1, 0)
  t.comment(`${sink.messages.length} mails and ${receiver.requests.length} webhooks for ${published.length} appeals in ${deliveredIn} ms `
    + `(${Math.round(sink.messages.length / (deliveredIn / 1000))} mails/s over 2 workers); duplicates: ${mailDuplicates} mails, ${webhookDuplicates} webhooks`)
  t.equal(mail.missing.length, 0, 'every supporter reached')
  t.equal(mail.strays, 0, 'nobody else mailed')
  // No worker died: as with two workers on one Redis (two-workers.test.ts), nobody hears twice.
  t.equal(mailDuplicates, 0, 'no Message-ID twice: no supporter mailed twice for one appeal')
  t.ok([...perSupporter.values()].every((n) => n === published.length), `each supporter got ${published.length} mails, one per published appeal`)
  t.equal(sink.messages.length, expectedMails, 'one mail per supporter per published appeal')
  t.equal(perWebhook.size, expectedWebhooks, 'every partner got every published appeal')
  t.equal(webhookDuplicates, 0, 'each exactly once')
  const { rows: status } = await ctx.pool.query<{ channel: string; n: number; not_done: number }>(
    `SELECT channel, count(*)::int AS n, count(*) FILTER (WHERE status NOT IN ('sent', 'delivered'))::int AS not_done
       FROM deliveries GROUP BY channel ORDER BY channel`)
  t.same(status, [
    { channel: 'email', n: expectedMails, not_done: 0 },
    { channel: 'webhook', n: expectedWebhooks, not_done: 0 },
  ], 'every delivery row ends sent or delivered')

  // Where the keys are: each master asked for the keys it holds itself.
  const queues = [QUEUE.fanout, QUEUE.maintenance, EMAIL_QUEUE, WEBHOOK_QUEUE]
  const holders = new Map<string, Set<number>>(queues.map((q) => [q, new Set()]))
  const perNode: Record<number, number> = {}
  let oldLayout = 0
  let rateLimitKeys = 0
  for (const port of cluster.ports) {
    const keys = (await cluster.cli(port, '--scan', '--pattern', 'ua*')).split('\n').filter(Boolean)
    rateLimitKeys += keys.filter((k) => k.startsWith('ua:public-rate-limit:')).length
    perNode[port] = Number((await cluster.cli(port, 'DBSIZE')).trim())
    for (const key of keys) {
      const queue = /^ua:\{([^}]+)\}:/.exec(key)?.[1]
      if (queue !== undefined) holders.get(queue)?.add(port)
    }
    oldLayout += (await cluster.cli(port, '--scan', '--pattern', '{ua}*')).split('\n').filter(Boolean).length
  }
  const masters = new Set([...holders.values()].flatMap((ports) => [...ports]))
  t.comment(`keys per master: ${JSON.stringify(perNode)}; queues on: ${JSON.stringify(Object.fromEntries([...holders].map(([q, p]) => [q, [...p]])))}`)
  for (const [queue, ports] of holders) t.equal(ports.size, 1, `the ${queue} queue's keys are all on one master (one hash tag)`)
  t.ok(masters.size >= 2, `the queues are spread over ${masters.size} of the ${cluster.ports.length} masters`)
  t.equal(oldLayout, 0, 'no key under the old shared {ua} tag')
  t.ok(rateLimitKeys >= 1, 'the public rate limit counted in the cluster')
  const slot = async (key: string) => Number((await cluster.cli(cluster.ports[0]!, 'CLUSTER', 'KEYSLOT', key)).trim())
  t.equal(await slot('ua:{email}:email:wait'), await slot('ua:{email}:email:active'), 'CLUSTER KEYSLOT: one queue, one slot')
  t.not(await slot('ua:{email}:email:wait'), await slot('ua:{webhook}:webhook:wait'), 'CLUSTER KEYSLOT: two queues, two slots')
})
