// Summarises a V8 CPU profile (`npm run bench -- --cpu-prof` writes them
// under bench/results/profiles/<role>-<n>/): busy time, self time by module
// (a package under node_modules, a folder of src/, Node's internals, GC) and
// the top functions by self and by total time. Idle samples are left out.
//
//   npx tsx bench/lib/profile-summary.ts FILE.cpuprofile [--from FUNCTION] [--burst K] [--top N] [--per N] [--callers FUNCTION]
//
// --from starts the window at the first sample whose stack holds FUNCTION
// (e.g. processJob: leaves out start-up and module compilation); --burst
// keeps only the K-th stretch of work after that, stretches being parted by
// 150 ms or more of idle (a bench round: round 3 is the warmed-up one); --per
// divides every time by N (e.g. deliveries made) and prints µs per unit;
// --callers adds who calls FUNCTION (its time by the stack above it, from
// the nearest non-Node frame up). "By what it serves" charges each sample to
// the library anywhere on its stack (an HTTP request's socket writes count
// as undici, a query's parsing as pg), then to the nearest src/ file; pg and
// BullMQ time is split further by the nearest src/ function (none: a
// callback after an async hop, e.g. pool.query's connect or a socket read).
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: { from: { type: 'string' }, burst: { type: 'string' }, top: { type: 'string', default: '25' }, per: { type: 'string' }, callers: { type: 'string' } },
})
if (positionals.length !== 1) { console.error('usage: profile-summary.ts FILE.cpuprofile [--from FUNCTION] [--top N] [--per N]'); process.exit(2) }
const profile = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as Profile
// The bench runs the service compiled (dist/x.js is src/x.ts; line numbers stay the JavaScript's): read it as src/.
for (const n of profile.nodes) n.callFrame.url = n.callFrame.url.replace(/\/dist\//, '/src/')
const top = Number(opts.top)
const per = opts.per ? Number(opts.per) : null

const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

/** Where a frame's code lives: node_modules/<package>, src/<folder>, node:<internal>, or V8's own pseudo-frames. */
function moduleOf(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)'
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (nm) return nm[1]!
  const src = /\/src\/(?:([^/]+)\/)?[^/]+$/.exec(url)
  if (src) return `src/${src[1] ?? ''}`
  if (url.startsWith('node:')) return 'node: (internals)'
  return url.replace(/^file:\/\/.*\/(bench|test)\//, '$1/')
}
const short = (url: string) => url.replace(/^file:\/\/.*?\/(node_modules|src|bench|test)\//, '$1/')
const frameKey = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`

function stackHas(id: number, name: string): boolean {
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) if (byId.get(cur)!.callFrame.functionName === name) return true
  return false
}

let start = 0
if (opts.from) {
  start = profile.samples.findIndex((id) => stackHas(id, opts.from!))
  if (start < 0) { console.error(`no sample holds ${opts.from}`); process.exit(1) }
}
let end = profile.samples.length
const isIdle = (i: number) => byId.get(profile.samples[i]!)!.callFrame.functionName === '(idle)'
if (opts.burst) {
  // Stretches of work parted by at least BURST_GAP_US of idle samples.
  const BURST_GAP_US = 150_000
  const bursts: [number, number][] = []
  let from = start
  let idleSince = -1
  let idleUs = 0
  for (let i = start; i < profile.samples.length; i++) {
    if (isIdle(i)) {
      if (idleSince < 0) { idleSince = i; idleUs = 0 }
      idleUs += profile.timeDeltas[i + 1] ?? 0
      continue
    }
    if (idleSince >= 0 && idleUs >= BURST_GAP_US) { bursts.push([from, idleSince]); from = i }
    idleSince = -1
  }
  bursts.push([from, profile.samples.length])
  const k = Number(opts.burst)
  if (!(k >= 1 && k <= bursts.length)) { console.error(`--burst must be 1…${bursts.length}`); process.exit(2) }
  ;[start, end] = bursts[k - 1]!
}

const selfByModule = new Map<string, number>()
const selfByFrame = new Map<string, number>()
const totalByFrame = new Map<string, number>()
const byCaller = new Map<string, number>()
const byService = new Map<string, number>()
/** Libraries a sample is charged to when they are anywhere on its stack, in this order. */
const SERVING: [string, RegExp][] = [
  ['signing (src/webhooks/signing.ts)', /\/src\/webhooks\/signing\./], ['undici', /node_modules\/undici\//],
  ['pg', /node_modules\/pg(-[a-z]+)?\//], ['bullmq + ioredis', /node_modules\/(bullmq|ioredis|msgpackr)\//],
]
let busy = 0
let idle = 0
for (let i = start; i < end; i++) {
  const us = profile.timeDeltas[i + 1] ?? 0 // a sample's time runs until the next sample
  const leaf = byId.get(profile.samples[i]!)!
  if (leaf.callFrame.functionName === '(idle)') { idle += us; continue }
  busy += us
  const mod = moduleOf(leaf.callFrame.url, leaf.callFrame.functionName)
  selfByModule.set(mod, (selfByModule.get(mod) ?? 0) + us)
  selfByFrame.set(frameKey(leaf), (selfByFrame.get(frameKey(leaf)) ?? 0) + us)
  if (opts.callers) {
    // The first frames above the named one that are not Node's internals: whose call it is.
    const stack: string[] = []
    let cur: number | undefined = leaf.id
    while (cur !== undefined && byId.get(cur)!.callFrame.functionName !== opts.callers) cur = parent.get(cur)
    for (cur = cur === undefined ? undefined : parent.get(cur); cur !== undefined && stack.length < 3; cur = parent.get(cur)) {
      const n = byId.get(cur)!
      if (n.callFrame.url && !n.callFrame.url.startsWith('node:')) stack.push(frameKey(n))
    }
    if (stack.length > 0) byCaller.set(stack.join(' ← '), (byCaller.get(stack.join(' ← ')) ?? 0) + us)
  }
  {
    const frames: ProfileNode[] = []
    for (let cur: number | undefined = leaf.id; cur !== undefined; cur = parent.get(cur)) frames.push(byId.get(cur)!)
    const nearestSrc = frames.find((f) => /\/src\//.test(f.callFrame.url))
    const lib = SERVING.find(([, re]) => frames.some((f) => re.test(f.callFrame.url)))?.[0]
    let key: string
    if (leaf.callFrame.functionName === '(garbage collector)' || leaf.callFrame.functionName === '(program)') key = leaf.callFrame.functionName
    else if (lib === 'pg' || lib === 'bullmq + ioredis') key = `${lib} ← ${nearestSrc ? nearestSrc.callFrame.functionName || '(anonymous)' : '(no src/ frame)'}`
    else if (lib) key = lib
    else if (nearestSrc) key = `src: ${short(nearestSrc.callFrame.url)}`
    else key = '(Node internals only: microtasks, timers, streams)'
    byService.set(key, (byService.get(key) ?? 0) + us)
  }
  const seen = new Set<string>()
  for (let cur: number | undefined = leaf.id; cur !== undefined; cur = parent.get(cur)) {
    const key = frameKey(byId.get(cur)!)
    if (seen.has(key)) continue
    seen.add(key)
    totalByFrame.set(key, (totalByFrame.get(key) ?? 0) + us)
  }
}

const fmt = (us: number) => `${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / busy).toFixed(1).padStart(5)} %${per ? ` ${(us / per).toFixed(1).padStart(7)} µs/unit` : ''}`
const list = (title: string, m: Map<string, number>, n: number, filter: (k: string) => boolean = () => true) => {
  console.log(`\n${title}`)
  for (const [k, us] of [...m].filter(([k]) => filter(k)).sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${fmt(us)}  ${k}`)
}
console.log(`${positionals[0]}${opts.from ? ` from the first ${opts.from}` : ''}${opts.burst ? `, burst ${opts.burst}` : ''}: busy ${(busy / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms${per ? `, ${((busy / per)).toFixed(1)} µs busy per unit (${per})` : ''}`)
list('self time by module', selfByModule, 40)
list('by what it serves', byService, 40)
list('top functions by self time', selfByFrame, top)
list('top functions of src/ by total time (self + callees)', totalByFrame, top, (k) => / src\//.test(k))
if (opts.callers) list(`callers of ${opts.callers} (3 nearest frames outside Node)`, byCaller, top)
