// Runs the real `urgent-appeals` command as child processes: a clean
// environment (nothing inherited but PATH and HOME), captured output,
// bounded waits, and a kill at teardown for anything still running.
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { createTestDatabase } from './context.js'
import { ensureBuilt } from '../harness/build.js'

interface Tap { teardown(fn: () => unknown): void }

export const REPO = fileURLToPath(new URL('../..', import.meta.url))
export const BIN = fileURLToPath(new URL('../../bin/urgent-appeals.js', import.meta.url))

let compiled: boolean | undefined

/**
 * PATH and HOME only, plus `vars`; never a stale dist/. bin/ runs dist/ as
 * built from the current sources (test/harness/build.ts: compiled once for
 * every test and the benchmark; each process then starts in a third of the
 * CPU the sources through tsx take), or the sources themselves when that
 * build fails.
 */
export function cliEnv(vars: Record<string, string> = {}): NodeJS.ProcessEnv {
  compiled ??= ensureBuilt().ok
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    ...(compiled ? {} : { URGENT_APPEALS_FROM_SOURCE: '1' }),
    ...vars,
  }
}

export interface Running {
  child: ChildProcess
  stdout(): string
  stderr(): string
  /** Resolves with the first match of `pattern` in stdout+stderr; rejects on exit or timeout. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Sends `signal` and waits up to `timeoutMs` for the exit; SIGKILL after that. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>
}

/** `bin`: another copy of bin/urgent-appeals.js (a clone made by a test); BIN by default. */
export function startCli(t: Tap, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; bin?: string } = {}): Running {
  const child = spawn(process.execPath, [opts.bin ?? BIN, ...args], { cwd: opts.cwd ?? REPO, env: opts.env ?? cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  const listeners = new Set<() => void>()
  child.stdout!.on('data', (d) => { out += d; for (const l of listeners) l() })
  child.stderr!.on('data', (d) => { err += d; for (const l of listeners) l() })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => { for (const l of listeners) l(); resolve({ code, signal }) })
  })
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  return {
    child, exited,
    stdout: () => out,
    stderr: () => err,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = (out + err).match(pattern)
          if (match) { done(); resolve(match); return }
          if (child.exitCode !== null || child.signalCode !== null) {
            done(); reject(new Error(`exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}\nstdout: ${out}\nstderr: ${err}`))
          }
        }
        const timer = setTimeout(() => { done(); reject(new Error(`no ${pattern} within ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`)) }, timeoutMs)
        const done = () => { clearTimeout(timer); listeners.delete(check) }
        listeners.add(check)
        check()
      })
    },
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      const started = Date.now()
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      const result = await exited
      clearTimeout(timer)
      return { ...result, ms: Date.now() - started }
    },
  }
}

/** Runs a command to completion (bounded) and returns its exit and output. */
export async function runCli(t: Tap, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; bin?: string; timeoutMs?: number } = {}) {
  const running = startCli(t, args, opts)
  const timer = setTimeout(() => running.child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
  const { code, signal } = await running.exited
  clearTimeout(timer)
  return { code, signal, stdout: running.stdout(), stderr: running.stderr() }
}

/** Polls `url` until it answers 200 (bounded). */
export async function waitForHttp(url: string, timeoutMs: number, exited?: Promise<unknown>): Promise<Response> {
  const deadline = Date.now() + timeoutMs
  let gone = false
  void exited?.then(() => { gone = true })
  let last: unknown
  while (Date.now() < deadline && !gone) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
      if (res.status === 200) return res
      last = `HTTP ${res.status}`
    } catch (error) { last = error }
    await sleep(100)
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms${gone ? ' (the process exited)' : ''}: ${String(last)}`)
}

/** A new, empty (unmigrated) database on the shared server; dropped at teardown. */
export const createEmptyDatabase = (t: Tap) => createTestDatabase(t, { migrated: false })

/** The live processes started, directly or not, by `pid`, with their command lines. */
export function descendants(pid: number): Map<number, string> {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)])
    } catch { /* gone meanwhile */ }
  }
  const found = new Map<number, string>()
  const walk = (p: number) => {
    for (const child of children.get(p) ?? []) {
      try { found.set(child, readFileSync(`/proc/${child}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()) } catch { continue }
      walk(child)
    }
  }
  walk(pid)
  return found
}

/** Those of `pids` still running (zombies count as gone). */
export const alive = (pids: Iterable<number>) => [...pids].filter((pid) => {
  try { process.kill(pid, 0); return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ') } catch { return false }
})
