// One compiled dist/ for everything that runs the service as deployed: the
// Docker layout check (test/compose.test.ts), the CLI and fault tests
// (test/helpers/cli.ts) and the benchmark (bench/run.ts) all take it from
// here instead of each running tsc again (a full build is ~30 s of CPU).
// It is `npm run build` (tsc -p tsconfig.build.json, what the Dockerfile
// runs), incremental, into dist/; dist/.build-stamp.json records the
// fingerprint of what it was built from (src/, the tsconfigs, the lockfile)
// with tsc's verdict, so the same sources are compiled once and a changed
// file is never run stale. Outputs whose source is gone are removed, so
// dist/ holds what the image would. A lock folder serialises builders
// (test files run in parallel, and several checkouts' runs may overlap).
//
//   npx tsx test/harness/build.ts     (CI builds once, next to the typecheck)
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const DIST = join(ROOT, 'dist')
const STAMP = join(DIST, '.build-stamp.json')
const LOCK = join(DIST, '.build-lock')
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc')
/** The command, as npm run build with tsc's incremental state kept in dist/ (as the benchmark always did). */
export const BUILD_ARGS = ['-p', 'tsconfig.build.json', '--incremental', '--tsBuildInfoFile', 'dist/.tsbuildinfo']
const LOCK_WAIT_MS = 10 * 60_000

export interface Build {
  /** tsc exited 0. When false, tsc still wrote every file it could (type errors do not stop emit). */
  ok: boolean
  /** tsc's output (its errors). */
  output: string
  /** The fingerprint of the sources dist/ was built from. */
  fingerprint: string
  /** Compiled in this call (false: dist/ was already built from these sources). */
  built: boolean
  ms: number
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)])
}

/** What a build depends on: every file under src/, both tsconfigs, the lockfile (the compiler and @types versions). */
export function sourceFingerprint(): string {
  const hash = createHash('sha256')
  const files = [...walk(join(ROOT, 'src')).sort(), ...['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'].map((f) => join(ROOT, f))]
  for (const file of files) {
    hash.update(relative(ROOT, file)).update('\0')
    hash.update(existsSync(file) ? readFileSync(file) : 'missing').update('\0')
  }
  return hash.digest('hex').slice(0, 24)
}

function readStamp(): { fingerprint: string; ok: boolean; output: string } | undefined {
  try { return JSON.parse(readFileSync(STAMP, 'utf8')) } catch { return undefined }
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (error) { return (error as NodeJS.ErrnoException).code === 'EPERM' }
}

/** Takes the builders' lock (a folder holding the owner's pid), breaking one left by a dead process; bounded. */
function lock(): () => void {
  mkdirSync(DIST, { recursive: true })
  const deadline = Date.now() + LOCK_WAIT_MS
  for (;;) {
    try {
      mkdirSync(LOCK)
      writeFileSync(join(LOCK, 'pid'), String(process.pid))
      return () => rmSync(LOCK, { recursive: true, force: true })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    let owner = NaN
    try { owner = Number(readFileSync(join(LOCK, 'pid'), 'utf8')) } catch { /* being written or removed */ }
    const age = (() => { try { return Date.now() - statSync(LOCK).mtimeMs } catch { return 0 } })()
    if ((Number.isInteger(owner) && owner > 0 && !pidAlive(owner)) || (Number.isNaN(owner) && age > 10_000)) {
      rmSync(LOCK, { recursive: true, force: true })
      continue
    }
    if (Date.now() > deadline) throw new Error(`another build held ${LOCK} for ${LOCK_WAIT_MS / 1000} s (pid ${owner}); remove it if that process is gone`)
    sleepSync(200)
  }
}

/** Compiled outputs whose source file is gone (a deleted or renamed module): the image would not have them. */
function removeOrphans(): void {
  for (const file of walk(DIST)) {
    const rel = relative(DIST, file)
    const m = /^(.*)\.(js|js\.map|d\.ts|d\.ts\.map)$/.exec(rel)
    if (m && !existsSync(join(ROOT, 'src', `${m[1]}.ts`))) rmSync(file)
  }
}

/**
 * dist/ compiled from the current sources: at once when it already is (a
 * fingerprint check, ~50 ms), else tsc runs (serialised across processes).
 * Synchronous, so a helper can call it right before spawning a process.
 */
export function ensureBuilt(): Build {
  const started = Date.now()
  const fingerprint = sourceFingerprint()
  const current = readStamp()
  if (current?.fingerprint === fingerprint && existsSync(join(DIST, 'cli.js'))) {
    return { ...current, fingerprint, built: false, ms: Date.now() - started }
  }
  const unlock = lock()
  try {
    // Someone else may have built these very sources while we waited.
    const again = readStamp()
    if (again?.fingerprint === fingerprint && existsSync(join(DIST, 'cli.js'))) {
      return { ...again, fingerprint, built: false, ms: Date.now() - started }
    }
    rmSync(STAMP, { force: true })
    const run = spawnSync(process.execPath, [TSC, ...BUILD_ARGS], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    const ok = run.status === 0
    const output = `${run.error ? `${run.error}\n` : ''}${run.stdout ?? ''}${run.stderr ?? ''}`.trim()
    removeOrphans()
    writeFileSync(STAMP, `${JSON.stringify({ fingerprint, ok, output, at: new Date().toISOString() }, null, 2)}\n`)
    return { ok, output, fingerprint, built: true, ms: Date.now() - started }
  } finally {
    unlock()
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const build = ensureBuilt()
  const what = build.built ? `built dist/ in ${(build.ms / 1000).toFixed(1)} s` : 'dist/ is up to date'
  console.log(`${what} (${build.fingerprint})${build.ok ? '' : `; tsc reported errors:\n${build.output.split('\n').slice(0, 40).join('\n')}`}`)
  process.exit(build.ok ? 0 : 1)
}
