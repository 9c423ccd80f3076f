// `npm run bench`: the service against the raw limits of its libraries, on
// this machine, in the same run. Starts its own Postgres and Redis (the test
// harness's), the sinks (SMTP + HTTP receivers) in a child process, the
// worker and the API under test as real `urgent-appeals` processes, and each
// raw baseline in a fresh child process; prints a table and writes
// bench/results/latest.json. Targets are reported, never enforced: the exit
// code is non-zero only when something crashed. The worker and the API run
// as deployed: compiled to dist/ (`npm run build`, done first, incrementally)
// and started with plain `node dist/cli.js`, no tsx loader in them.
//
//   npm run bench [-- --scenario NAME[,NAME]] [--n N] [--quick] [--no-build]
//
// Scenarios: freeze, api-reads, public-reads (the appeal page and the two
// feeds), latency, webhook-fanout (two variants: --endpoints on 20 origins,
// and half as many on one origin), email-fanout (the last also measures API
// reads under fan-out and the memory targets).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { execFileSync } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import tap from 'tap'
import autocannon from 'autocannon'
import { Redis } from 'ioredis'
import { startPostgres, startRedis, freePort, type RunningPostgres, type RunningRedis } from '../test/harness/services.js'
import { ensureBuilt } from '../test/harness/build.js'
import { buildTestApp, TEST_SECRETS_KEY, type TestApp } from '../test/helpers/context.js'
import { anAppeal, approve, createDraft, createPublished } from '../test/helpers/liaoning.js'
import { publishEverything } from '../test/helpers/public-site.js'
import { createEndpoint } from '../test/helpers/webhooks.js'
import { renderAlert } from '../src/email/alert-message.js'
import { freezeEmailAudience } from '../src/repositories/email-deliveries.js'
import { QUEUE, queueKeyPrefix } from '../src/queue/queues.js'
import { cpuSince, cpuSnapshot, ipcChild, niceOf, peakRssMB, postgresPids, renice, ROOT, rssMB, spawnNode, stopAllChildren, type Child } from './lib/processes.js'
import type { BaselineResult, BaselineTask, LoadResult, SinkStats } from './lib/ipc.js'
import { cpuTicks, describeLoad, machineLoadSince, type MachineLoad } from './lib/machine-load.js'

// The test helpers import tap, whose root test would time out a long run: this process is no test.
tap.setTimeout(0)

// ---------------------------------------------------------------------------
// Options.

const SCENARIOS = ['freeze', 'api-reads', 'public-reads', 'latency', 'webhook-fanout', 'email-fanout'] as const
type Scenario = (typeof SCENARIOS)[number]
const ALIASES: Record<string, Scenario> = {
  email: 'email-fanout', webhook: 'webhook-fanout', webhooks: 'webhook-fanout', api: 'api-reads', 'api-under-fanout': 'email-fanout', memory: 'email-fanout',
  pages: 'public-reads', feeds: 'public-reads', public: 'public-reads',
}

const { values: flags } = parseArgs({
  options: {
    scenario: { type: 'string', multiple: true },
    n: { type: 'string' },
    endpoints: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    /** Use dist/ as it is (e.g. while other work leaves src/ half-edited). */
    'no-build': { type: 'boolean', default: false },
    /** The worker's nice value (0 = the API's priority), as a deployment gives it a lower CPU weight. */
    'worker-nice': { type: 'string', default: '10' },
    out: { type: 'string' },
    /** Rounds of each webhook fan-out variant (the median is reported). */
    'webhook-rounds': { type: 'string' },
    /** KEY=VALUE added to the worker's environment (e.g. WORKER_HEAP_GROWTH_PERCENT=0), to measure a setting. */
    'worker-env': { type: 'string', multiple: true },
  },
})
const quick = flags.quick!
const selected = new Set<Scenario>()
for (const name of (flags.scenario ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)) {
  const scenario = (SCENARIOS as readonly string[]).includes(name) ? name as Scenario : ALIASES[name]
  if (!scenario) { console.error(`unknown scenario ${name}; one of ${SCENARIOS.join(', ')}`); process.exit(2) }
  selected.add(scenario)
}
if (selected.size === 0) for (const s of SCENARIOS) selected.add(s)
const N = Number(flags.n ?? (quick ? 1_000 : 100_000))
const WORKER_NICE = Number(flags['worker-nice'])
if (!(Number.isInteger(WORKER_NICE) && WORKER_NICE >= 0 && WORKER_NICE <= 19)) { console.error('--worker-nice must be 0…19'); process.exit(2) }
const ENDPOINTS = Number(flags.endpoints ?? (quick ? 100 : 2_000))
if (!(N >= 10 && N <= 10_000_000) || !(ENDPOINTS >= 20 && ENDPOINTS <= 100_000)) { console.error('--n must be 10…10 000 000, --endpoints 20…100 000'); process.exit(2) }
const ORIGINS = 20
/**
 * The webhook fan-out's variants: endpoints spread over many origins (the
 * connection pools add up), and half as many on one origin (every request
 * shares that origin's 16 connections, so per-request cost shows).
 */
const WEBHOOK_VARIANTS = [
  { endpoints: ENDPOINTS, origins: ORIGINS },
  { endpoints: Math.round(ENDPOINTS / 2), origins: 1 },
] as const
/** The webhook scenario registers every endpoint for one partner organisation: lift the per-organisation cap to the largest --endpoints. */
const MAX_ENDPOINTS = '100000'
const LATENCY_PUBLISHES = quick ? 5 : 20
// Five: the raw loop and ours both still speed up after their third round (JIT, connections), and a median of 5 moves less.
const WEBHOOK_ROUNDS = Number(flags['webhook-rounds'] ?? (quick ? 1 : 5))
if (!(Number.isInteger(WEBHOOK_ROUNDS) && WEBHOOK_ROUNDS >= 1 && WEBHOOK_ROUNDS <= 20)) { console.error('--webhook-rounds must be 1…20'); process.exit(2) }
const WORKER_ENV: Record<string, string> = {}
for (const pair of flags['worker-env'] ?? []) {
  const at = pair.indexOf('=')
  if (at < 1) { console.error('--worker-env takes KEY=VALUE'); process.exit(2) }
  WORKER_ENV[pair.slice(0, at)] = pair.slice(at + 1)
}
// --quick (CI) only keeps every scenario from rotting, so its sizes are small: its numbers are no measurement.
const READ_SECONDS = quick ? 1 : 10
const UNDER_FANOUT_SECONDS = quick ? 1 : 20
/** The product's shape: 5 SMTP connections; webhook chunks of 200 × 32 requests, 16 chunk jobs at once, 16 connections per origin. */
const SMTP_POOL = 5
const webhookInFlight = (endpoints: number) => Math.min(16, Math.ceil(endpoints / 200)) * 32
const CONNECTIONS_PER_ORIGIN = 16
const TIMELINE_BUCKET_MS = 10
/** Issue 12's targets where they are not written at the row: email fan-out against raw nodemailer, the worker's peak RSS. */
const EMAIL_TARGET = 1.1
const WORKER_RSS_TARGET_MB = 150

// ---------------------------------------------------------------------------
// Results.

interface Row {
  scenario: string
  measure: string
  ours: number | null
  baseline: number | null
  unit: string
  /** Higher is better for throughput ratios; for latencies and sizes there is no ratio. */
  ratio: number | null
  target: string
  met: boolean | null
  /**
   * What this run measured that limits the row (CPU per operation of each
   * process, the plan's node times, serve's own latency histogram). Printed
   * under the table when the target is missed, with how busy the machine was.
   */
  cause?: string
  details?: Record<string, unknown>
}
const rows: Row[] = []
const failures: { scenario: string; error: string }[] = []
const say = (m: string) => console.error(`[bench] ${m}`)

// ---------------------------------------------------------------------------
// Servers and processes.

const teardowns: (() => Promise<unknown> | unknown)[] = []
const t = { teardown: (fn: () => unknown) => { teardowns.push(fn) } }
let pg: RunningPostgres | undefined
let redisServer: RunningRedis | undefined
let redis: Redis | undefined
let sinks: Awaited<ReturnType<typeof ipcChild<{ smtpPort: number; httpPorts: number[] }>>> | undefined
let sinksPid = 0

/** The sinks' process (SMTP + ORIGINS HTTP receivers). */
async function startSinks(): Promise<void> {
  const child = spawnNode('bench/lib/sinks.ts', [String(ORIGINS)])
  sinksPid = child.pid
  sinks = await ipcChild(child)
}

async function cleanup(): Promise<void> {
  await stopAllChildren()
  for (const fn of teardowns.splice(0).reverse()) await Promise.resolve().then(fn).catch(() => {})
  redis?.disconnect()
  await redisServer?.stop().catch(() => {})
  await pg?.stop().catch(() => {})
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { say(`${signal}: cleaning up`); void cleanup().finally(() => process.exit(130)) })
}

const sinkStats = async () => (await sinks!.call<{ stats: SinkStats }>({ cmd: 'stats' })).stats
const resetSinks = () => sinks!.call({ cmd: 'reset' })

async function untilSinks(check: (s: SinkStats) => boolean, timeoutMs: number, what: string): Promise<SinkStats> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const s = await sinkStats()
    if (check(s)) return s
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms (mail ${s.mail.count}, http ${s.http.count})`)
    await sleep(20)
  }
}

function serviceEnv(ctx: TestApp, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: ctx.config.databaseUrl, REDIS_URL: ctx.config.redisUrl, SECRETS_KEY: TEST_SECRETS_KEY,
    SMTP_URL: `smtp://127.0.0.1:${sinks!.ready.smtpPort}`, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    PUBLIC_RATE_LIMIT: '999999999', WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION: MAX_ENDPOINTS, LOG_LEVEL: 'info', ...extra,
  }
}

let profiles = 0
/** With --cpu-prof, the worker, API and baseline processes write V8 CPU profiles under bench/results/profiles/<role>-<n>/. */
const nodeArgs = (role: string) => (flags['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'bench/results/profiles', `${role}-${++profiles}`)}`] : [])

/** The compiled CLI the worker and API run from. */
const CLI = 'dist/cli.js'

/**
 * `npm run build` through the tests' shared build (test/harness/build.ts:
 * incremental, and nothing at all when dist/ was already built from these
 * sources, e.g. by CI's setup or a test). Type errors are the typecheck's
 * business: tsc still writes every file, so they are shown and the run goes on.
 */
function buildService(): void {
  if (flags['no-build']) {
    if (!existsSync(join(ROOT, CLI))) throw new Error(`--no-build, but there is no ${CLI}: run npm run build`)
    return
  }
  const build = ensureBuilt()
  if (!build.ok) {
    if (!existsSync(join(ROOT, CLI))) throw new Error(`npm run build failed and wrote no ${CLI}: ${build.output}`.slice(0, 4000))
    say(`npm run build reported errors (the compiled files are used anyway):\n${build.output.split('\n').slice(0, 20).join('\n')}`)
  }
  say(build.built ? `built ${CLI} in ${round(build.ms / 1000, 1)} s` : `${CLI} is up to date (built from these sources before)`)
}

/**
 * `urgent-appeals worker` as a real process; resolves once it has started.
 * It runs at nice --worker-nice (10 unless told), as the README recommends
 * when the worker shares cores with `serve`: the API's reads go first. Its
 * raw baselines (undici, nodemailer) run at the same nice.
 */
async function startWorkerProcess(ctx: TestApp): Promise<Child> {
  const child = spawnNode(CLI, ['worker'], { env: serviceEnv(ctx, WORKER_ENV), nodeArgs: nodeArgs('worker'), plain: true, nice: WORKER_NICE })
  await child.waitFor(/worker started/, 30_000)
  return child
}

/** `urgent-appeals serve` (request logs off, like the bare baseline); resolves with its base URL once it answers. */
async function startServeProcess(ctx: TestApp): Promise<{ child: Child; base: string }> {
  const port = await freePort()
  const child = spawnNode(CLI, ['serve'], { env: serviceEnv(ctx, { PORT: String(port), LOG_LEVEL: 'warn' }), nodeArgs: nodeArgs('serve'), plain: true })
  const base = `http://127.0.0.1:${port}`
  for (let i = 0; i < 300; i++) {
    if (child.proc.exitCode !== null) throw new Error(`serve exited: ${child.output().slice(-2000)}`)
    if (await fetch(`${base}/healthz`).then((r) => r.ok, () => false)) return { child, base }
    await sleep(100)
  }
  throw new Error(`serve did not answer: ${child.output().slice(-2000)}`)
}

/** Runs one task in a fresh child (bench/lib/ipc.ts serveOneTask); the child stays up for the caller to stop. */
async function childTask<R extends { error?: string }>(script: string, task: object, timeoutMs: number, what: string, extraNodeArgs: string[] = [], nice = 0): Promise<{ result: R; child: Child }> {
  const child = spawnNode(script, [], { nodeArgs: extraNodeArgs, nice })
  const ipc = await ipcChild<boolean>(child)
  const result = await ipc.call<R>(task as Record<string, unknown>, timeoutMs)
  if (result.error) throw new Error(`${what}: ${result.error}`)
  return { result, child }
}

/** A raw baseline in a fresh child; the worker's (undici, nodemailer) at the worker's nice, so a ratio compares equals on a shared machine. */
function baseline(task: BaselineTask, timeoutMs: number): Promise<{ result: BaselineResult; child: Child }> {
  return childTask<BaselineResult>('bench/lib/baseline.ts', task, timeoutMs, `baseline ${task.cmd}`, nodeArgs(`baseline-${task.cmd}`), task.cmd === 'fastify' ? 0 : WORKER_NICE)
}

/** A fresh database (cloned from the migrated template) with keys for each role; Redis emptied. */
async function freshApp(): Promise<TestApp> {
  await redis!.flushall()
  return buildTestApp(t, { SMTP_URL: `smtp://127.0.0.1:${sinks!.ready.smtpPort}`, PUBLIC_RATE_LIMIT: '999999999', WEBHOOK_MAX_ENDPOINTS_PER_ORGANISATION: MAX_ENDPOINTS })
}

async function seedSupporters(ctx: TestApp, n: number): Promise<void> {
  await ctx.pool.query(
    `INSERT INTO subscriptions (email, email_hash, language, countries, status, manage_nonce, manage_token_hash, confirmed_at)
     SELECT 'supporter' || i || '@example.org', sha256(convert_to('e' || i, 'UTF8')),
            (ARRAY['en', 'fr', 'es', 'ko', 'zh-Hans'])[1 + i % 5], '{}', 'active',
            sha256(convert_to('n' || i, 'UTF8')), sha256(convert_to('m' || i, 'UTF8')), now()
       FROM generate_series(1, $1::int) AS i`, [n])
  await ctx.pool.query('ANALYZE subscriptions')
}

/** `count` endpoints spread round-robin over the first `origins` receivers (each its own origin). */
async function seedEndpoints(ctx: TestApp, count: number, origins = ORIGINS): Promise<string[]> {
  const ports = sinks!.ready.httpPorts.slice(0, origins)
  const urls = Array.from({ length: count }, (_, i) => `http://127.0.0.1:${ports[i % ports.length]}/partner/${i}`)
  let next = 0
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < urls.length) await createEndpoint(ctx, { url: urls[next++]! })
  }))
  return urls
}

/** Publishes a fresh draft; returns when the API answered, and when the request started. */
async function publish(ctx: TestApp): Promise<number> {
  const draft = await createDraft(ctx)
  await approve(ctx, draft.id) // a child case: approved by a second key before the clock starts
  const started = Date.now()
  const res = await ctx.request('editor', 'POST', `/v1/appeals/${draft.id}/publish`)
  if (res.statusCode !== 200) throw new Error(`publish failed: ${res.statusCode} ${res.body}`)
  return started
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]! }
const percentile = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! }
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits

// ---------------------------------------------------------------------------
// Scenarios.

async function scenarioFreeze(): Promise<void> {
  const ctx = await freshApp()
  await seedSupporters(ctx, N)
  await publish(ctx) // no worker runs: the event waits undispatched, we freeze by hand
  const { rows: [event] } = await ctx.pool.query<{ id: string; payload: { data: { appeal: { countries: string[]; themes: string[]; urgency: string } } } }>(
    `SELECT id, payload FROM events WHERE type = 'appeal.published' ORDER BY position DESC LIMIT 1`)
  const appeal = event!.payload.data.appeal
  const times: number[] = []
  let frozen = 0
  for (let i = 0; i < 3; i++) {
    await ctx.pool.query('DELETE FROM deliveries WHERE event_id = $1', [event!.id])
    await ctx.pool.query('VACUUM deliveries')
    const started = performance.now()
    frozen = await freezeEmailAudience(ctx.pool, event!.id, { countries: appeal.countries, themes: appeal.themes ?? [], urgency: appeal.urgency })
    times.push(performance.now() - started)
  }
  if (frozen !== N) throw new Error(`froze ${frozen} rows, expected ${N}`)
  // Where the time goes: the same statement under EXPLAIN ANALYZE (rolled back), plan nodes with their own time.
  const plan = await explainFreeze(ctx, event!.id, appeal)
  const ms = median(times)
  const insertMs = Object.entries(plan.nodesMs ?? {}).filter(([name]) => name.startsWith('ModifyTable')).reduce((a, [, x]) => a + x, 0)
  rows.push({
    cause: `under EXPLAIN ANALYZE the statement took ${plan.executionMs} ms, of which the insert itself (heap and index entries) ${round(insertMs, 0)} ms and choosing the supporters the rest`,
    scenario: 'audience freeze', measure: `${N} delivery rows, one INSERT … SELECT (median of 3)`, ours: round(ms, 0), baseline: null, unit: 'ms',
    ratio: null, target: `≤ ${round(1000 * N / 100_000, 0)} ms (1 s per 100 000)`, met: ms <= 1000 * N / 100_000,
    details: { runsMs: times.map((x) => round(x, 0)), rowsPerSecond: Math.round(N / (ms / 1000)), plan },
  })
}

interface PlanNode { 'Node Type': string; 'Actual Total Time': number; 'Actual Loops': number; Plans?: PlanNode[]; [k: string]: unknown }
interface FreezePlan { executionMs?: number; nodesMs?: Record<string, number>; triggers?: unknown[] }

/** The freeze statement's plan: each node's exclusive time (ms), and trigger/commit time outside the nodes. */
async function explainFreeze(ctx: TestApp, eventId: string, appeal: { countries: string[]; themes: string[]; urgency: string }): Promise<FreezePlan> {
  const client = await ctx.pool.connect()
  try {
    await client.query('BEGIN')
    await client.query('DELETE FROM deliveries WHERE event_id = $1', [eventId])
    const db = { query: async (text: string, values?: unknown[]) => client.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`, values) }
    let out: FreezePlan = {}
    await freezeEmailAudience({
      query: async (text: string, values?: unknown[]) => {
        const { rows } = await db.query(text, values)
        const root = (rows[0] as { 'QUERY PLAN': { Plan: PlanNode; 'Execution Time': number; Triggers?: unknown[] }[] })['QUERY PLAN'][0]!
        const nodes: Record<string, number> = {}
        const walk = (n: PlanNode) => {
          const own = n['Actual Total Time'] * n['Actual Loops'] - (n.Plans ?? []).reduce((a, c) => a + c['Actual Total Time'] * c['Actual Loops'], 0)
          const name = `${n['Node Type']}${n['Relation Name'] ? ` on ${String(n['Relation Name'])}` : ''}${n['Index Name'] ? ` (${String(n['Index Name'])})` : ''}`
          nodes[name] = round((nodes[name] ?? 0) + own, 1)
          for (const c of n.Plans ?? []) walk(c)
        }
        walk(root.Plan)
        out = { executionMs: round(root['Execution Time'], 1), nodesMs: nodes, triggers: root.Triggers ?? [] }
        return { rowCount: 0, rows: [] }
      },
    } as never, eventId, { countries: appeal.countries, themes: appeal.themes ?? [], urgency: appeal.urgency })
    return out
  } finally {
    await client.query('ROLLBACK').catch(() => {})
    client.release()
  }
}

/** Latency under a fixed rate, measured from a process of its own (bench/lib/load.ts). */
async function latencyLoad(opts: autocannon.Options): Promise<LoadResult> {
  const { result, child } = await childTask<LoadResult>('bench/lib/load.ts', opts, ((opts.duration as number) + 30) * 1000, 'load')
  await child.stop()
  if (result.bad > 0) throw new Error(`load ${opts.url}: ${result.bad} non-2xx answers, errors or timeouts`)
  return { p50: result.p50, p99: result.p99, requests: result.requests, bad: result.bad }
}

async function cannon(opts: autocannon.Options): Promise<autocannon.Result> {
  const result = await autocannon({ ...opts })
  const bad = result.non2xx + result.errors + result.timeouts
  if (bad > 0) throw new Error(`autocannon ${opts.url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`)
  return result
}

interface ReadCase {
  name: string
  ours: string
  raw: string
  /** A bare route answering ours' exact bytes with ours' response headers too: how much of the gap is the headers (a diagnostic in the details). */
  rawSameHeaders?: string
  target: number
  /** Appended to the measure text. */
  note?: string
  details?: Record<string, unknown>
}

/** Redis's own process, to count its CPU time. */
async function redisPid(): Promise<number> {
  return Number(/process_id:(\d+)/.exec(await redis!.info('server'))![1])
}

/**
 * Each case in turn: a warm-up of both, then ours and the bare route at the
 * same settings; one row each. CPU µs per request of `serve`, of Redis (the
 * public rate limit's counters) and of the bare server go in the details:
 * on a shared machine they say more about the cost than req/s does.
 */
async function compareReads(scenario: string, cases: ReadCase[], pids: { serve: number; bare: number }): Promise<void> {
  const settings = { connections: 10, pipelining: 1, duration: READ_SECONDS }
  const redisProcess = await redisPid()
  for (const c of cases) {
    await cannon({ url: c.ours, connections: 10, duration: 1 }) // warm-up
    await cannon({ url: c.raw, connections: 10, duration: 1 })
    const before = { serve: cpuSnapshot([pids.serve]), redis: cpuSnapshot([redisProcess]) }
    const ours = await cannon({ url: c.ours, ...settings })
    const oursCpu = { serve: cpuSince(before.serve, [pids.serve]), redis: cpuSince(before.redis, [redisProcess]) }
    const bareBefore = cpuSnapshot([pids.bare])
    const raw = await cannon({ url: c.raw, ...settings })
    const bareCpu = cpuSince(bareBefore, [pids.bare])
    const perRequest = (seconds: number, n: number) => round((1e6 * seconds) / Math.max(1, n), 0)
    let sameHeaders: Record<string, number> | undefined
    if (c.rawSameHeaders) {
      await cannon({ url: c.rawSameHeaders, connections: 10, duration: 1 })
      const before = cpuSnapshot([pids.bare])
      const r = await cannon({ url: c.rawSameHeaders, ...settings })
      sameHeaders = { reqPerSecond: round(r.requests.average, 0), ratio: round(ours.requests.average / r.requests.average), cpuMicrosecondsPerRequest: perRequest(cpuSince(before, [pids.bare]), r.requests.total) }
    }
    const ratio = ours.requests.average / raw.requests.average
    const cpu = { serve: perRequest(oursCpu.serve, ours.requests.total), redis: perRequest(oursCpu.redis, ours.requests.total), bare: perRequest(bareCpu, raw.requests.total) }
    rows.push({
      cause: `serve took ${cpu.serve} µs of CPU per request (Redis ${cpu.redis}) against the bare server's ${cpu.bare}`
        + (sameHeaders ? `, ${sameHeaders.cpuMicrosecondsPerRequest} with our exact bytes and headers` : ''),
      scenario, measure: `${c.name}, req/s (autocannon ${settings.connections} connections, ${settings.duration} s)${c.note ? `; ${c.note}` : ''}`,
      ours: round(ours.requests.average, 0), baseline: round(raw.requests.average, 0), unit: 'req/s',
      ratio: round(ratio), target: `ratio ≥ ${c.target}`, met: ratio >= c.target,
      details: {
        oursP99Ms: ours.latency.p99, baselineP99Ms: raw.latency.p99, ...c.details,
        cpuMicrosecondsPerRequest: cpu,
        ...(sameHeaders ? { bareWithOurHeaders: sameHeaders } : {}),
      },
    })
  }
}

async function scenarioApiReads(): Promise<void> {
  const ctx = await freshApp()
  let id = ''
  for (let i = 0; i < 25; i++) id = (await createPublished(ctx)).id
  const serve = await startServeProcess(ctx)
  const oneRes = await fetch(`${serve.base}/v1/appeals/${id}`)
  const oneText = await oneRes.text()
  const one = JSON.parse(oneText) as unknown
  // Every header ours sends but those Node writes itself: security headers, rate-limit counts, ETag.
  const ownHeaders = Object.fromEntries([...oneRes.headers].filter(([name]) => !['date', 'connection', 'keep-alive', 'content-length', 'content-type', 'transfer-encoding'].includes(name)))
  const list = await (await fetch(`${serve.base}/v1/appeals?limit=20`)).json() as { items: unknown[] }
  if (list.items.length !== 20) throw new Error(`list returned ${list.items.length} items`)
  const bare = await baseline({
    cmd: 'fastify', routes: { '/one': one, '/list': list },
    bodies: { '/one-with-headers': { body: oneText, type: oneRes.headers.get('content-type') ?? 'application/json', headers: ownHeaders } },
  }, 30_000)
  const bareBase = `http://127.0.0.1:${bare.result.port}`
  await compareReads('API reads', [
    { name: 'GET /v1/appeals/{id}', ours: `${serve.base}/v1/appeals/${id}`, raw: `${bareBase}/one`, rawSameHeaders: `${bareBase}/one-with-headers`, target: 0.7 },
    { name: 'GET /v1/appeals (list of 20)', ours: `${serve.base}/v1/appeals?limit=20`, raw: `${bareBase}/list`, target: 0.3 },
  ], { serve: serve.child.pid, bare: bare.child.pid })
  await bare.child.stop()
  await serve.child.stop()
}

/** One plain GET (no conditional headers): the exact body and its Content-Type. */
async function representation(url: string): Promise<{ body: string; type: string }> {
  const res = await fetch(url)
  const body = await res.text()
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${body.slice(0, 500)}`)
  return { body, type: res.headers.get('content-type') ?? '' }
}

const PUBLIC_APPEALS = 20

/**
 * The public site's reads against a bare route answering the same bytes:
 * the appeal page (translations, two targets, two follow-ups) and both
 * feeds over PUBLIC_APPEALS published appeals. Plain GETs, so what is
 * measured is the 200 path through the in-process public read cache
 * (routes/public-read.ts), not a 304.
 */
async function scenarioPublicReads(): Promise<void> {
  const ctx = await freshApp()
  const { id } = await publishEverything(ctx) as { id: string }
  for (let i = 1; i < PUBLIC_APPEALS; i++) await createPublished(ctx)
  const serve = await startServeProcess(ctx)
  const paths = { page: `/appeals/${id}`, atom: '/feeds/appeals.atom', json: '/feeds/appeals.json' }
  const bodies = {
    '/page': await representation(`${serve.base}${paths.page}`),
    '/atom': await representation(`${serve.base}${paths.atom}`),
    '/json': await representation(`${serve.base}${paths.json}`),
  }
  const entries = { atom: bodies['/atom'].body.split('</entry>').length - 1, json: (JSON.parse(bodies['/json'].body) as { items: unknown[] }).items.length }
  if (entries.atom < PUBLIC_APPEALS || entries.json < PUBLIC_APPEALS) throw new Error(`feeds show ${entries.atom} Atom entries and ${entries.json} JSON Feed items for ${PUBLIC_APPEALS} appeals`)
  const bare = await baseline({ cmd: 'fastify', bodies }, 30_000)
  const bareBase = `http://127.0.0.1:${bare.result.port}`
  // The bare routes must answer what ours answers, byte for byte.
  for (const [path, want] of Object.entries(bodies)) {
    const got = await representation(`${bareBase}${path}`)
    if (got.body !== want.body || got.type !== want.type) throw new Error(`bare ${path} answers other bytes (${got.type}) than ours (${want.type})`)
  }
  const kb = (path: keyof typeof bodies) => `${round(Buffer.byteLength(bodies[path].body) / 1024, 1)} KB`
  const note = `${PUBLIC_APPEALS} published appeals; plain GETs (no conditional headers): the 200 path through the in-process public read cache`
  const details = (path: keyof typeof bodies) => ({ bytes: Buffer.byteLength(bodies[path].body), contentType: bodies[path].type })
  await compareReads('public reads', [
    { name: `GET /appeals/{id} (HTML page, ${kb('/page')})`, ours: `${serve.base}${paths.page}`, raw: `${bareBase}/page`, target: 0.5, note, details: details('/page') },
    { name: `GET /feeds/appeals.atom (${entries.atom} entries, ${kb('/atom')})`, ours: `${serve.base}${paths.atom}`, raw: `${bareBase}/atom`, target: 0.5, note, details: details('/atom') },
    { name: `GET /feeds/appeals.json (${entries.json} items, ${kb('/json')})`, ours: `${serve.base}${paths.json}`, raw: `${bareBase}/json`, target: 0.5, note, details: details('/json') },
  ], { serve: serve.child.pid, bare: bare.child.pid })
  await bare.child.stop()
  await serve.child.stop()
}

async function scenarioLatency(): Promise<void> {
  const ctx = await freshApp()
  const supporters = 100
  await seedEndpoints(ctx, ORIGINS) // one endpoint per origin
  await seedSupporters(ctx, supporters)
  const worker = await startWorkerProcess(ctx)
  const webhook: number[] = []
  const mail: number[] = []
  for (let i = 0; i < LATENCY_PUBLISHES; i++) {
    await resetSinks()
    const started = await publish(ctx)
    const s = await untilSinks((x) => x.http.count >= ORIGINS && x.mail.count >= supporters, 30_000, 'latency round')
    webhook.push(s.http.first - started)
    mail.push(s.mail.first - started)
    await sleep(100)
  }
  await worker.stop()
  const measure = (what: string) => `publish → first ${what}, ${LATENCY_PUBLISHES} publishes (${ORIGINS} endpoints, ${supporters} supporters)`
  // Issue 12's targets (raised from 50/250 and 500/1000 ms).
  for (const [what, xs, p50, p99] of [['webhook', webhook, 25, 100], ['mail', mail, 100, 500]] as const) {
    const a = percentile(xs, 50)
    const b = percentile(xs, 99)
    rows.push({ scenario: `alert latency p50`, measure: measure(what), ours: a, baseline: null, unit: 'ms', ratio: null, target: `≤ ${p50} ms`, met: a <= p50, details: { samplesMs: xs } })
    rows.push({ scenario: `alert latency p99`, measure: measure(what), ours: b, baseline: null, unit: 'ms', ratio: null, target: `≤ ${p99} ms`, met: b <= p99 })
  }
}

async function scenarioWebhookFanout(): Promise<void> {
  for (const { endpoints, origins } of WEBHOOK_VARIANTS) await webhookFanout(endpoints, origins)
}

/** `endpoints` partner endpoints on `origins` origins: publish → last 2xx, against raw undici at the same concurrency. */
async function webhookFanout(endpoints: number, origins: number): Promise<void> {
  const ctx = await freshApp()
  const where = `${endpoints} endpoints on ${origins === 1 ? 'one origin' : `${origins} origins`}`
  say(`registering ${where}`)
  const urls = await seedEndpoints(ctx, endpoints, origins)
  const worker = await startWorkerProcess(ctx)
  const ours: number[] = []
  const firsts: number[] = []
  // CPU time of each process over the rounds: on a small machine the worker, Postgres and the receivers share the cores.
  const pgPids = () => postgresPids(pg!.port)
  const cpuBefore = { worker: cpuSnapshot([worker.pid]), postgres: cpuSnapshot(pgPids()), sinks: cpuSnapshot([sinksPid]) }
  let lastRoundTimeline: number[] = []
  let workerCpuInRounds = 0 // seconds, publish → last 2xx of each round
  for (let r = 0; r < WEBHOOK_ROUNDS; r++) {
    await resetSinks()
    const roundCpu = cpuSnapshot([worker.pid])
    const started = await publish(ctx)
    const s = await untilSinks((x) => x.http.count >= endpoints, 120_000, `${endpoints} webhooks`)
    workerCpuInRounds += cpuSince(roundCpu, [worker.pid])
    ours.push(s.http.last - started)
    firsts.push(s.http.first - started)
    lastRoundTimeline = (await sinks!.call<{ timeline: number[] }>({ cmd: 'timeline', since: started, bucketMs: TIMELINE_BUCKET_MS })).timeline
    await sleep(500) // outcomes written, chunk jobs done
  }
  const perDelivery = (before: Map<number, number>, pids: number[]) => round((1e6 * cpuSince(before, pids)) / (endpoints * WEBHOOK_ROUNDS), 0)
  const cpuMicrosecondsPerDelivery: Record<string, number> = {
    worker: perDelivery(cpuBefore.worker, [worker.pid]), postgres: perDelivery(cpuBefore.postgres, pgPids()), sinks: perDelivery(cpuBefore.sinks, [sinksPid]),
  }
  const workerPeak = peakRssMB(worker.pid)
  await worker.stop()
  const body = (await sinks!.call<{ body: string }>({ cmd: 'sample' })).body
  await resetSinks()
  const inFlight = webhookInFlight(endpoints)
  const raw = await baseline({ cmd: 'undici', urls, body, inFlight, connectionsPerOrigin: CONNECTIONS_PER_ORIGIN, rounds: WEBHOOK_ROUNDS }, 120_000)
  await raw.child.stop()
  cpuMicrosecondsPerDelivery.rawUndici = round(raw.result.cpuMicroseconds! / (endpoints * WEBHOOK_ROUNDS), 0)
  const oursMs = median(ours)
  const rawMs = median(raw.result.ms!)
  const ratio = rawMs / oursMs
  const cpu = cpuMicrosecondsPerDelivery
  // The worker's CPU from each publish to its last 2xx, against that time: near 100 % (one core) means its thread set the pace.
  const workerBusy = Math.round((100 * 1000 * workerCpuInRounds) / ours.reduce((a, b) => a + b, 0))
  rows.push({
    cause: `the worker took ${cpu.worker} µs of CPU per delivery, and used ${workerBusy} % of one core from publish to last 2xx (its JavaScript runs on one thread), where the raw loop took`
      + ` ${cpu.rawUndici} µs per request; Postgres took ${cpu.postgres} µs and the receivers ${cpu.sinks} µs per delivery on the same cores;`
      + ` the first partner was called ${round(median(firsts), 0)} ms after the publish (outbox relay, fan-out, first slice, claim: median), of the raw loop's ${round(rawMs, 0)} ms for every request`,
    scenario: 'webhook fan-out', measure: `${where}: publish → last 2xx (median of ${WEBHOOK_ROUNDS}), deliveries/s`,
    ours: round(endpoints / (oursMs / 1000), 0), baseline: round(endpoints / (rawMs / 1000), 0), unit: '/s',
    ratio: round(ratio), target: 'ratio ≥ 0.7', met: ratio >= 0.7,
    details: {
      oursMs: ours.map((x) => round(x, 0)), firstDeliveryMs: firsts, baselineMs: raw.result.ms!.map((x) => round(x, 0)),
      // Webhooks accepted per TIMELINE_BUCKET_MS after the last round's publish: gaps show where the pipeline waits.
      lastRoundTimeline,
      bodyBytes: Buffer.byteLength(body), inFlight, connectionsPerOrigin: CONNECTIONS_PER_ORIGIN, workerPeakRssMB: workerPeak,
      // Over the rounds (including the 500 ms pauses; the publishing API runs in the bench process and is not counted).
      cpuMicrosecondsPerDelivery,
    },
  })
}

/** Public appeal reads `serve` has answered, cumulative per histogram bucket (`le` in seconds), from its /metrics. */
async function servedWithin(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text()
  const out: Record<string, number> = {}
  for (const m of text.matchAll(/^ua_http_request_duration_seconds_bucket\{le="([^"]+)",method="GET",route="\/v1\/appeals[^"]*"\} (\d+)$/gm)) {
    out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2])
  }
  return out
}

async function redisUsedMB(): Promise<number> {
  const info = await redis!.info('memory')
  return Number(/used_memory:(\d+)/.exec(info)![1]) / 1e6
}

async function scenarioEmailFanout(): Promise<void> {
  // The SMTP sink stands in for the relay, which in production runs on other
  // machines, not on the API's cores: during this scenario it runs at the
  // worker's nice, for the raw nodemailer baseline and for ours alike.
  const sinkNiceBefore = niceOf(sinksPid) ?? 0
  const sinkNice = renice(sinksPid, WORKER_NICE) ? WORKER_NICE : sinkNiceBefore
  try {
    await emailFanout(sinkNice)
  } finally {
    renice(sinksPid, sinkNiceBefore)
  }
}

async function emailFanout(sinkNice: number): Promise<void> {
  const ctx = await freshApp()
  // 1. Raw nodemailer, composing each message of the same content.
  const draft = await createDraft(ctx, anAppeal())
  const sample = renderAlert({ type: 'appeal.published', data: { appeal: draft } }, 'en', { listId: 'alerts.localhost' })
  await resetSinks()
  say(`raw nodemailer: ${N} messages`)
  const raw = await baseline({
    cmd: 'nodemailer', smtpUrl: `smtp://127.0.0.1:${sinks!.ready.smtpPort}`, n: N, connections: SMTP_POOL, inFlight: 50,
    from: ctx.config.mailFrom, subject: sample.subject, text: sample.spec.text, html: sample.spec.html, headers: sample.spec.headers ?? {},
  }, Math.max(120_000, N * 20))
  await raw.child.stop()
  await untilSinks((s) => s.mail.count >= N, 10_000, 'raw mails')
  const rawMs = raw.result.ms![0]!

  // 2. The fan-out, with API reads at 50 req/s alongside, worker RSS and Redis memory sampled.
  // Appeals to read first, fanned out while nobody is subscribed yet (the audience is frozen at fan-out).
  const worker = await startWorkerProcess(ctx)
  const serve = await startServeProcess(ctx)
  let id = ''
  for (let i = 0; i < 3; i++) id = (await createPublished(ctx)).id
  // The worker process runs with the deployed queue prefix ('ua', config.ts), not the test app's own.
  const fanoutsDone = `${queueKeyPrefix('ua', QUEUE.fanout)}:${QUEUE.fanout}:completed`
  for (let i = 0; i < 300 && Number(await redis!.zcard(fanoutsDone)) < 3; i++) await sleep(100)
  await seedSupporters(ctx, N)
  // Each response's own time: autocannon's coordinated-omission correction
  // assumes a request every ceil(1 / per-connection rate) ms — 1 ms here,
  // where the real gap is 100 ms — so one X-ms response would add X − 1
  // synthetic samples and p99 would be the run's single worst stall.
  const reads = { url: serve.base, connections: 5, overallRate: 50, duration: UNDER_FANOUT_SECONDS, ignoreCoordinatedOmission: true,
    requests: [{ method: 'GET' as const, path: `/v1/appeals/${id}` }, { method: 'GET' as const, path: '/v1/appeals?limit=20' }] }
  // Warm up first (JIT, connections, the read cache; Postgres settles after seeding), so "idle" is not a cold start.
  await latencyLoad({ ...reads, duration: 2 })
  const servedBeforeIdle = await servedWithin(serve.base)
  const idle = await latencyLoad(reads)
  const servedAfterIdle = await servedWithin(serve.base)
  await resetSinks()
  const redisBefore = await redisUsedMB()
  let redisPeak = redisBefore
  let rssPeakSampled = 0
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      redisPeak = Math.max(redisPeak, await redisUsedMB().catch(() => 0))
      rssPeakSampled = Math.max(rssPeakSampled, rssMB(worker.pid) ?? 0)
      await sleep(100)
    }
  })()
  say(`fan-out: ${N} supporters`)
  const pgPidsBefore = postgresPids(pg!.port)
  const cpuBefore = cpuSnapshot([worker.pid, sinksPid, ...pgPidsBefore])
  const started = await publish(ctx)
  const servedBefore = await servedWithin(serve.base)
  const busy = latencyLoad(reads)
  const done = await untilSinks((s) => s.mail.count >= N, Math.max(120_000, N * 30), `${N} mails`)
  const workerCpu = cpuSince(cpuBefore, [worker.pid])
  const sinkCpu = cpuSince(cpuBefore, [sinksPid])
  // Postgres serves the 50 req/s reads' misses too (few: they are cached), but mostly the worker's claims and outcomes.
  const pgCpu = cpuSince(cpuBefore, postgresPids(pg!.port))
  const underFanout = await busy
  const servedAfter = await servedWithin(serve.base)
  sampling = false
  await sampler
  const oursMs = done.mail.last - started
  const workerPeak = peakRssMB(worker.pid)
  await serve.child.stop()
  await worker.stop()
  const ratio = rawMs / oursMs
  const perMail = (seconds: number) => round((seconds * 1e6) / N, 0)
  rows.push({
    cause: `the worker took ${perMail(workerCpu)} µs of CPU per mail, Postgres ${perMail(pgCpu)} µs and the SMTP sink ${perMail(sinkCpu)} µs, over ${round(oursMs / 1000, 1)} s`,
    scenario: 'email fan-out', measure: `${N} supporters: publish → last mail accepted, mails/s (pool of ${SMTP_POOL})`,
    ours: round(N / (oursMs / 1000), 0), baseline: round(N / (rawMs / 1000), 0), unit: '/s', ratio: round(ratio), target: `ratio ≥ ${EMAIL_TARGET}`, met: ratio >= EMAIL_TARGET,
    details: {
      oursMs: round(oursMs, 0), baselineMs: round(rawMs, 0), readsDuringFanout: '50 req/s for ' + UNDER_FANOUT_SECONDS + ' s',
      workerNice: WORKER_NICE, smtpSinkNice: sinkNice,
      // CPU time per mail (publish → last mail), steadier than rates on a shared machine; the sink process only takes mail here.
      cpuMicrosecondsPerMail: { worker: perMail(workerCpu), smtpSink: perMail(sinkCpu), postgres: perMail(pgCpu) },
    },
  })
  const p99Ratio = underFanout.p99 / Math.max(1, idle.p99)
  const served = (after: Record<string, number>, before: Record<string, number>) => Object.fromEntries(Object.entries(after).map(([le, n]) => [le, n - (before[le] ?? 0)]))
  const duringFanout = served(servedAfter, servedBefore)
  rows.push({
    cause: `serve itself answered ${duringFanout['0.005'] ?? '?'} of ${duringFanout['+Inf'] ?? '?'} reads during the fan-out within 5 ms`
      + ` (its own request-duration histogram); the rest of the ${underFanout.p99} ms p99 is the request waiting for a CPU`,
    scenario: 'API under fan-out', measure: `p99 of 50 req/s reads (one appeal, list of 20) during the ${N} fan-out vs idle`,
    ours: underFanout.p99, baseline: idle.p99, unit: 'ms', ratio: round(p99Ratio), target: '≤ 2× idle', met: p99Ratio <= 2,
    details: {
      idle, underFanout, workerNice: WORKER_NICE, smtpSinkNice: sinkNice,
      // What `serve` itself took (its request-duration histogram), idle and during the fan-out: the rest of the client's latency is waiting for a CPU.
      servedIdle: served(servedAfterIdle, servedBeforeIdle),
      servedDuringFanout: duringFanout,
    },
  })
  rows.push({
    scenario: 'memory: worker peak RSS', measure: `worker process VmHWM over start-up and the ${N} fan-out`, ours: round(workerPeak ?? rssPeakSampled, 0), baseline: null,
    unit: 'MB', ratio: null, target: `≤ ${WORKER_RSS_TARGET_MB} MB`, met: (workerPeak ?? rssPeakSampled) <= WORKER_RSS_TARGET_MB, details: { sampledPeakMB: round(rssPeakSampled, 0) },
  })
  const growth = redisPeak - redisBefore
  rows.push({
    scenario: 'memory: Redis growth', measure: `used_memory peak − before, during the ${N} fan-out`, ours: round(growth, 1), baseline: null,
    unit: 'MB', ratio: null, target: '≤ 50 MB', met: growth <= 50, details: { beforeMB: round(redisBefore, 1), peakMB: round(redisPeak, 1) },
  })
}

// ---------------------------------------------------------------------------
// Table and main.

function fmt(x: number | null, unit: string): string {
  if (x === null) return '—'
  return `${x.toLocaleString('en-US')} ${unit}`
}

function table(): string {
  const head = ['scenario', 'measure', 'ours', 'baseline', 'ratio', 'target', 'met?']
  const body = rows.map((r) => [r.scenario, r.measure, fmt(r.ours, r.unit), fmt(r.baseline, r.unit), r.ratio === null ? '—' : `${r.ratio}`, r.target, r.met === null ? '—' : r.met ? 'yes' : '**no**'])
  const lines = [head, head.map(() => '---'), ...body].map((cols) => `| ${cols.join(' | ')} |`)
  return lines.join('\n')
}

/** One line per missed target: what the run measured that limits it, and how busy the whole machine was meanwhile. */
function misses(): string {
  return rows.filter((r) => r.met === false).map((r) => {
    const load = r.details?.machine as MachineLoad | undefined
    const context = load ? describeLoad(load, cpus().length) : ''
    return `- ${r.scenario} (${r.measure}): ${[r.cause ?? 'nothing more measured for this row', context].filter(Boolean).join('; ')}.`
  }).join('\n')
}

function machine() {
  let commit = ''
  try { commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim() } catch { /* not a clone */ }
  return { nproc: cpus().length, cpu: cpus()[0]?.model ?? '', memoryGB: round(totalmem() / 2 ** 30, 1), node: process.version, platform: `${process.platform} ${process.arch}`, commit }
}

const RUNNERS: Record<Scenario, () => Promise<void>> = {
  freeze: scenarioFreeze, 'api-reads': scenarioApiReads, 'public-reads': scenarioPublicReads, latency: scenarioLatency, 'webhook-fanout': scenarioWebhookFanout, 'email-fanout': scenarioEmailFanout,
}

async function main(): Promise<void> {
  const started = Date.now()
  say(`${quick ? 'quick' : 'full'} run: ${[...selected].join(', ')} (n=${N}, endpoints=${ENDPOINTS})`)
  buildService()
  ;[pg, redisServer] = await Promise.all([startPostgres(), startRedis()])
  process.env.TEST_DATABASE_URL = pg.url
  process.env.TEST_REDIS_URL = redisServer.url
  redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 })
  await startSinks()
  for (const scenario of SCENARIOS) {
    if (!selected.has(scenario)) continue
    const at = Date.now()
    const ticks = cpuTicks()
    const firstRow = rows.length
    say(`${scenario}…`)
    try {
      await RUNNERS[scenario]()
      const load = machineLoadSince(ticks)
      for (const row of rows.slice(firstRow)) row.details = { ...row.details, machine: load }
      say(`${scenario} done in ${round((Date.now() - at) / 1000, 1)} s`)
    } catch (error) {
      failures.push({ scenario, error: String((error as Error)?.stack ?? error) })
      say(`${scenario} FAILED: ${(error as Error)?.message ?? error}`)
      await stopAllChildren().catch(() => {})
      await startSinks()
    }
  }
  const seconds = round((Date.now() - started) / 1000, 1)
  console.log(table())
  const missed = misses()
  if (missed) console.log(`\nMisses and their measured causes:\n${missed}`)
  console.log(`\n${quick ? 'quick' : 'full'} run, ${seconds} s, worker at nice ${WORKER_NICE}; machine: ${JSON.stringify(machine())}`)
  const out = flags.out ?? join(ROOT, 'bench/results/latest.json')
  mkdirSync(join(out, '..'), { recursive: true })
  writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), quick, n: N, endpoints: ENDPOINTS, workerNice: WORKER_NICE, seconds, machine: machine(), rows, failures }, null, 2)}\n`)
  say(`wrote ${out}`)
  if (failures.length > 0) throw new Error(`${failures.length} scenario(s) crashed: ${failures.map((f) => f.scenario).join(', ')}`)
}

main().then(async () => {
  await cleanup()
  process.exit(0)
}, async (error: unknown) => {
  console.error(error)
  await cleanup()
  process.exit(1)
})
