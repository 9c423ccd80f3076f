// How busy the whole machine was over a stretch of a benchmark run: every
// process's CPU time (from /proc/stat), not only the ones a scenario
// measures. On a shared machine (CI runs the quick benchmark beside the
// fault suite) this is the first thing a missed target competes with.
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'

export interface CpuTicks { busy: number; total: number }

/** The machine's CPU ticks so far, busy and in all (idle and iowait are the only idle states). */
export function cpuTicks(): CpuTicks {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number)
  const total = fields.reduce((a, b) => a + b, 0)
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0)
  return { busy: total - idle, total }
}

export interface MachineLoad {
  /** Share of all cores' time spent running anything, since the snapshot. */
  busyPercent: number
  /** The 1-minute load average at the end. */
  loadAverage: number
}

export function machineLoadSince(before: CpuTicks): MachineLoad {
  const now = cpuTicks()
  const total = now.total - before.total
  return { busyPercent: total > 0 ? Math.round((100 * (now.busy - before.busy)) / total) : 0, loadAverage: Math.round(loadavg()[0]! * 10) / 10 }
}

export const describeLoad = (load: MachineLoad, cores: number) =>
  `the ${cores} cores were ${load.busyPercent} % busy over the scenario (load average ${load.loadAverage})`
