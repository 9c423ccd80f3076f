// The README's webhook receivers, run exactly as written: the code blocks
// headed `// receiver.mjs` and `// verify.mjs` are copied out of README.md
// into a folder of their own (with this repository's node_modules, where
// `standardwebhooks` is), started or imported as a reader would, and fed
// real signed deliveries from the running service — and a forged one.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from './harness/services.js'
import { buildTestApp } from './helpers/context.js'
import { createPublished } from './helpers/liaoning.js'
import { startReceiver } from './helpers/receiver.js'
import { createEndpoint, eventually, startDelivery } from './helpers/webhooks.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** The fenced code block of README.md whose first line is `// <name>`. */
function readmeBlock(name: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const block = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!).find((code) => code.startsWith(`// ${name}`))
  if (!block) throw new Error(`README.md has no code block starting with // ${name}`)
  return block
}

t.test('the README\'s receivers verify real deliveries and refuse a forged one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ua-readme-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
  writeFileSync(join(dir, 'receiver.mjs'), readmeBlock('receiver.mjs'))
  writeFileSync(join(dir, 'verify.mjs'), readmeBlock('verify.mjs'))

  const ctx = await buildTestApp(t) // WEBHOOK_ALLOW_PRIVATE_NETWORKS=true, as the README says a local try needs
  const port = await freePort()
  const endpoint = await createEndpoint(ctx, { url: `http://127.0.0.1:${port}/hooks/ua` })
  const capture = await startReceiver(t)
  const captured = await createEndpoint(ctx, { url: capture.url('/copy') })

  const receiver = spawn(process.execPath, ['receiver.mjs'], { cwd: dir, env: { ...process.env, UA_WEBHOOK_SECRET: endpoint.secret, PORT: String(port) } })
  t.teardown(() => { receiver.kill() })
  let stdout = ''
  let stderr = ''
  receiver.stdout.on('data', (d) => { stdout += d })
  receiver.stderr.on('data', (d) => { stderr += d })
  await eventually(async () => fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: '{}' }).then((r) => r.status === 400, () => false),
    10_000, `the README receiver listening (stderr: ${stderr})`)

  await startDelivery(t, ctx.config)
  await createPublished(ctx)
  const { rows: [event] } = await ctx.pool.query<{ id: string }>(`SELECT id FROM events WHERE type = 'appeal.published'`)
  await eventually(async () => stdout.includes(`${event!.id} appeal.published`), 15_000, 'the receiver to print the verified event')
  t.equal(stdout.trim().split('\n').length, 1, 'one line: the delivery, once')

  // A delivery replayed with a tampered body, and one signed with another secret, are refused.
  await eventually(async () => capture.to('/copy').length === 1, 10_000, 'the copy delivery')
  const real = capture.to('/copy')[0]!
  const headers = {
    'webhook-id': String(real.headers['webhook-id']), 'webhook-timestamp': String(real.headers['webhook-timestamp']),
    'webhook-signature': String(real.headers['webhook-signature']), 'content-type': 'application/json',
  }
  const tampered = await fetch(`http://127.0.0.1:${port}/hooks/ua`, { method: 'POST', headers, body: real.body.replace('North Koreans', 'nobody') })
  t.equal(tampered.status, 400, 'a tampered body is refused')
  const otherSecret = await fetch(`http://127.0.0.1:${port}/hooks/ua`, { method: 'POST', headers, body: real.body })
  t.equal(otherSecret.status, 400, 'a signature made with another endpoint\'s secret is refused')

  const { verify } = await import(join(dir, 'verify.mjs')) as { verify: (secret: string, headers: Record<string, string>, body: Buffer) => boolean }
  t.equal(verify(captured.secret, headers, Buffer.from(real.body)), true, 'verify.mjs accepts the real delivery')
  t.equal(verify(captured.secret, headers, Buffer.from(real.body.replace('North Koreans', 'nobody'))), false, 'and refuses a tampered body')
  t.equal(verify(endpoint.secret, headers, Buffer.from(real.body)), false, 'and another secret')
  t.equal(verify(captured.secret, { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 600) }, Buffer.from(real.body)), false, 'and an old timestamp')
})
