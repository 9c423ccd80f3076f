// Child processes of the bench: every one is registered here and killed on
// the way out — normal end, crash or signal — so a run leaves nothing behind.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

const children = new Set<ChildProcess>()
process.on('exit', () => { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL') })

export interface Child {
  proc: ChildProcess
  pid: number
  /** Everything written to stdout and stderr so far (last 64 KB). */
  output(): string
  /** Resolves with the first line matching `pattern`; rejects on exit or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<void>
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>
}

/**
 * `node --import tsx <script> …args` from the repository root, with IPC;
 * `plain`: without tsx, for compiled JavaScript (the service under test runs
 * from dist/ as deployed: tsx's loader alone costs ~40 MB of RSS); `nice`:
 * at that lower CPU priority.
 */
export function spawnNode(script: string, args: string[], options: { env?: Record<string, string>; nodeArgs?: string[]; plain?: boolean; nice?: number } = {}): Child {
  const loader = options.plain ? [] : ['--import', 'tsx']
  const command = [process.execPath, ...(options.nodeArgs ?? []), ...loader, script, ...args]
  // Under nice(1), which execs node in place (same pid): every thread of node starts at that priority.
  if (options.nice) command.unshift('nice', '-n', String(options.nice))
  const proc = spawn(command[0]!, command.slice(1), {
    cwd: ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  children.add(proc)
  let out = ''
  const listeners = new Set<() => void>()
  const append = (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-65_536)
    for (const l of listeners) l()
  }
  proc.stdout!.on('data', append)
  proc.stderr!.on('data', append)
  const exited = new Promise<void>((resolve) => proc.once('exit', () => { children.delete(proc); resolve() }))
  return {
    proc,
    pid: proc.pid!,
    output: () => out,
    waitFor(pattern, timeoutMs) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(out)) { done(); resolve() }
        }
        const onExit = () => { done(); reject(new Error(`${script} exited before ${pattern}: ${out.slice(-2000)}`)) }
        const timer = setTimeout(() => { done(); reject(new Error(`${script}: no ${pattern} within ${timeoutMs} ms: ${out.slice(-2000)}`)) }, timeoutMs)
        const done = () => { clearTimeout(timer); listeners.delete(check); proc.off('exit', onExit) }
        listeners.add(check)
        proc.once('exit', onExit)
        check()
      })
    },
    async stop(graceMs = 10_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      proc.kill('SIGTERM')
      const killed = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)])
      if (!killed) { proc.kill('SIGKILL'); await exited }
    },
  }
}

/** A child that speaks the bench's request/reply IPC: waits for `{ ready }`, then `call` sends `{ id, … }`. */
export async function ipcChild<R>(child: Child, timeoutMs = 30_000): Promise<{ ready: R; call<T>(message: Record<string, unknown>, timeoutMs?: number): Promise<T> }> {
  let nextId = 1
  const pending = new Map<number, (m: unknown) => void>()
  const ready = await new Promise<R>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child not ready within ${timeoutMs} ms: ${child.output().slice(-2000)}`)), timeoutMs)
    child.proc.once('exit', () => reject(new Error(`child exited before it was ready: ${child.output().slice(-2000)}`)))
    child.proc.on('message', (m: { ready?: R; id?: number }) => {
      if (m.ready !== undefined) { clearTimeout(timer); resolve(m.ready); return }
      if (m.id !== undefined) { pending.get(m.id)?.(m); pending.delete(m.id) }
    })
  })
  return {
    ready,
    call<T>(message: Record<string, unknown>, callTimeoutMs = 30_000) {
      const id = nextId++
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => { pending.delete(id); reject(new Error(`no reply to ${JSON.stringify(message).slice(0, 80)}`)) }, callTimeoutMs)
        pending.set(id, (m) => { clearTimeout(timer); resolve(m as T) })
        child.proc.send({ id, ...message })
      })
    },
  }
}

/** Peak resident set size (VmHWM) of a live process, in MB. */
export function peakRssMB(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : null
  } catch {
    return null
  }
}

/** Current resident set size (VmRSS), in MB. */
export function rssMB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : null
  } catch {
    return null
  }
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map(async (c) => {
    if (c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise((resolve) => c.once('exit', resolve))
    c.kill('SIGTERM')
    if (!(await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]))) c.kill('SIGKILL')
  }))
}

/** CPU seconds (user + system) a live process has used so far; null once it is gone. */
export function cpuSeconds(pid: number): number | null {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
  } catch {
    return null
  }
}
/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100

/** The live process listening as Postgres on `port` (the postmaster, by its command line) and all its children (the backends). */
export function postgresPids(port: number): number[] {
  const all: { pid: number; ppid: number; cmd: string }[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ')
      all.push({ pid: Number(name), ppid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]), cmd })
    } catch { /* gone meanwhile */ }
  }
  const postmaster = all.find((p) => /postgres/.test(p.cmd) && p.cmd.includes(` -p ${port} `))
  return postmaster ? [postmaster.pid, ...all.filter((p) => p.ppid === postmaster.pid).map((p) => p.pid)] : []
}

/** CPU seconds so far of each process in `pids`, to subtract later with `cpuSince`. */
export function cpuSnapshot(pids: number[]): Map<number, number> {
  return new Map(pids.map((pid) => [pid, cpuSeconds(pid) ?? 0]))
}

/** CPU seconds `pids` used since `before` (processes started since count from zero; ones gone since are lost). */
export function cpuSince(before: Map<number, number>, pids: number[]): number {
  return pids.reduce((sum, pid) => sum + Math.max(0, (cpuSeconds(pid) ?? 0) - (before.get(pid) ?? 0)), 0)
}

/**
 * Sets the nice value of every thread of a live process (setpriority on
 * Linux is per thread: renicing the pid alone leaves node's GC and libuv
 * threads at the old value). Raising priority again (a lower value) needs
 * root or CAP_SYS_NICE; returns whether every thread took it.
 */
export function renice(pid: number, nice: number): boolean {
  let tids: string[]
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return false
  }
  const result = spawnSync('renice', ['-n', String(nice), '-p', ...tids], { encoding: 'utf8' })
  return result.status === 0
}

/** The nice value of a live process's main thread, or null once it is gone. */
export function niceOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])
  } catch {
    return null
  }
}
