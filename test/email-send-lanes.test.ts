// The crash-duplicate and withdrawal bounds of alert mail (send-lanes.ts),
// against a real SMTP sink and the product's pooled transport: a lane's
// next mail is not accepted by the relay before the lane's previous
// outcome is recorded, so a crash can leave at most one accepted,
// unrecorded mail per lane; and a mail whose lane's last write gives a
// verdict that does not admit it never reaches the relay at all.
import tap, { type Test as Tap } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { loadConfig } from '../src/config.js'
import { SendLanes, WithheldError } from '../src/email/send-lanes.js'
import { createMailTransport } from '../src/email/transport.js'
import { startSmtpSink } from './helpers/smtp-sink.js'

const message = (n: number) => Buffer.from(`From: a@example.org\r\nTo: s${n}@example.net\r\nSubject: ${n}\r\n\r\nalert ${n}\r\n`)

/** Verdicts are words here: a lane admits its next body unless the previous write said "stop". */
type Verdict = 'go' | 'stop'
const unlessStopped = (verdict: Verdict | undefined) => verdict !== 'stop'

async function setUp(t: Tap, lanes: number) {
  const sink = await startSmtpSink(t)
  const config = loadConfig({ SMTP_URL: sink.url })
  const transport = createMailTransport(config, { maxConnections: lanes })
  t.teardown(() => transport.close())
  const send = (n: number) => async (body: NodeJS.ReadableStream) => {
    await transport.sendMail({ envelope: { from: 'a@example.org', to: [`s${n}@example.net`] }, raw: body as never })
    return n
  }
  return { sink, lanes: new SendLanes<Verdict>(lanes), send }
}

tap.test('a lane holds its next mail until the previous outcome is recorded', async (t) => {
  const { sink, lanes, send } = await setUp(t, 1)
  let finishFirstRecord!: () => void
  const firstRecorded = new Promise<void>((resolve) => { finishFirstRecord = resolve })
  const recordedOrder: number[] = []
  const first = lanes.send(message(1), unlessStopped, send(1), async (n) => { await firstRecorded; recordedOrder.push(n); return 'go' })
  const second = lanes.send(message(2), unlessStopped, send(2), async (n) => { recordedOrder.push(n); return 'go' })

  await sink.waitForCount(1, 5000)
  await sleep(300)
  t.equal(sink.messages.length, 1, 'the second mail is not accepted while the first outcome is unrecorded')
  finishFirstRecord()
  t.equal(await first, 1, 'the first send resolves once recorded')
  t.equal(await second, 2)
  t.same(sink.messages.map((m) => m.to[0]), ['s1@example.net', 's2@example.net'], 'both arrive, in lane order')
  t.same(recordedOrder, [1, 2])
})

tap.test('at most one accepted, unrecorded mail per lane however many are queued', async (t) => {
  const size = 3
  const { sink, lanes, send } = await setUp(t, size)
  let recordsOpen = true
  let release!: () => void
  const held = new Promise<void>((resolve) => { release = () => { recordsOpen = false; resolve() } })
  const all = Array.from({ length: 20 }, (_, i) =>
    lanes.send(message(i), unlessStopped, send(i), async () => { if (recordsOpen) await held; return 'go' as const }))

  await sink.waitForCount(size, 5000)
  await sleep(300)
  t.equal(sink.messages.length, size, `with no outcome recorded, only ${size} mails (one per lane) reached the relay`)
  release()
  t.same((await Promise.all(all)).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i), 'every mail is sent and recorded')
  t.equal(sink.messages.length, 20, 'each exactly once')
})

tap.test('a verdict that does not admit the next mail aborts it before its end: the relay never accepts it', async (t) => {
  const { sink, lanes, send } = await setUp(t, 1)
  const stopped = (n: number) => async (body: NodeJS.ReadableStream) => {
    try { return await send(n)(body) } catch (error) { return error instanceof WithheldError ? -n : Promise.reject(error) }
  }
  const first = lanes.send(message(1), unlessStopped, send(1), async () => 'stop' as const)
  const second = lanes.send(message(2), unlessStopped, stopped(2), async () => 'go' as const)
  const third = lanes.send(message(3), unlessStopped, send(3), async () => 'go' as const)
  t.equal(await first, 1)
  t.equal(await second, -2, 'the held-back send settles with a WithheldError')
  t.equal(await third, 3, 'the next write said "go": the lane carries mail again (on a new connection)')
  await sleep(200)
  t.same(sink.messages.map((m) => m.to[0]), ['s1@example.net', 's3@example.net'], 'the relay never accepted the withheld mail')
})

tap.test('a failed outcome write fails that send and holds back nothing else for good', async (t) => {
  const { sink, lanes, send } = await setUp(t, 1)
  const failed = lanes.send(message(1), unlessStopped, send(1), async () => { throw new Error('database down') })
  const next = lanes.send(message(2), unlessStopped, async (body) => {
    try { return await send(2)(body) } catch { return -1 }
  }, async () => 'go' as const)
  const later = lanes.send(message(3), unlessStopped, send(3), async () => 'go' as const)
  await t.rejects(failed, /database down/, 'the send whose outcome was not written rejects')
  t.equal(await next, -1, 'the next body in that lane is never completed (its send fails and is retried later)')
  t.equal(await later, 3, 'the lane then carries mail again')
  t.same(sink.messages.map((m) => m.to[0]), ['s1@example.net', 's3@example.net'], 'the relay never accepted the held-back mail')
})

tap.test('a held body that fails unread does not bring the process down', async (t) => {
  const { lanes } = await setUp(t, 1)
  const failed = lanes.send(message(1), unlessStopped, async () => 1, async () => { throw new Error('database down') })
  // The relay refused before DATA: this send never reads its body, which then fails with the previous write.
  const unread = lanes.send(message(2), unlessStopped, async () => 2, async () => 'go' as const)
  await t.rejects(failed, /database down/)
  t.equal(await unread, 2, 'the send settles with its own result')
  await new Promise((resolve) => setTimeout(resolve, 50)) // an unheard stream error would surface here as an uncaught exception
  t.pass('no uncaught stream error')
})
