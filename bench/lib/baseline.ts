// The raw baselines, each in a fresh process like the worker under test:
//   nodemailer — a pooled transport composing every message (html + text +
//     headers, per-recipient links) as a hand-rolled script would;
//   undici     — `request` of the same body to the same URLs at the same
//     concurrency and connections per origin as the webhook pipeline;
//   fastify    — bare Fastify routes answering the same documents (JSON
//     serialised by Fastify) or the same bytes under the same Content-Type
//     (and, for a diagnostic, the same response headers).
// The runner sends one task over IPC and gets one result back.
import nodemailer from 'nodemailer'
import { Agent, request } from 'undici'
import Fastify from 'fastify'
import { serveOneTask, type BaselineResult, type BaselineTask, type FastifyTask, type NodemailerTask, type UndiciTask } from './ipc.js'

async function runNodemailer(task: NodemailerTask): Promise<BaselineResult> {
  const transport = nodemailer.createTransport({ url: task.smtpUrl, pool: true, maxConnections: task.connections, maxMessages: Infinity })
  let next = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: task.inFlight }, async () => {
    while (next < task.n) {
      const i = next++
      const link = `http://localhost:3000/subscriptions/token${i}`
      await transport.sendMail({
        from: task.from, to: `raw${i}@example.org`, subject: task.subject,
        text: task.text.replace(/\u0000\w+\u0000/g, link), html: task.html.replace(/\u0000\w+\u0000/g, link),
        headers: { ...task.headers, 'List-Unsubscribe': `<${link}/unsubscribe>` },
      })
    }
  }))
  const ms = performance.now() - started
  transport.close()
  return { ms: [ms] }
}

async function runUndici(task: UndiciTask): Promise<BaselineResult> {
  const agent = new Agent({ connections: task.connectionsPerOrigin, pipelining: 1, keepAliveTimeout: 30_000 })
  const body = Buffer.from(task.body)
  const headers = {
    'content-type': 'application/json', 'user-agent': 'bench', 'webhook-id': 'msg_01J0000000000000000000000A',
    'webhook-timestamp': '1700000000', 'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')}`,
  }
  const ms: number[] = []
  const cpu = process.cpuUsage()
  for (let round = 0; round < task.rounds; round++) {
    let next = 0
    const started = performance.now()
    await Promise.all(Array.from({ length: Math.min(task.inFlight, task.urls.length) }, async () => {
      while (next < task.urls.length) {
        const res = await request(task.urls[next++]!, { method: 'POST', dispatcher: agent, headers, body })
        if (res.statusCode >= 300) throw new Error(`raw request answered ${res.statusCode}`)
        await res.body.dump()
      }
    }))
    ms.push(performance.now() - started)
  }
  const used = process.cpuUsage(cpu)
  await agent.close()
  return { ms, cpuMicroseconds: used.user + used.system }
}

async function runFastify(task: FastifyTask): Promise<BaselineResult> {
  const app = Fastify({ logger: false })
  for (const [path, doc] of Object.entries(task.routes ?? {})) app.get(path, async () => doc)
  for (const [path, { body, type, headers }] of Object.entries(task.bodies ?? {})) {
    app.get(path, headers ? async (_request, reply) => reply.headers(headers).type(type).send(body) : async (_request, reply) => reply.type(type).send(body))
  }
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { port: (app.server.address() as { port: number }).port }
}

serveOneTask<BaselineTask>((task) =>
  task.cmd === 'nodemailer' ? runNodemailer(task) : task.cmd === 'undici' ? runUndici(task) : runFastify(task))
