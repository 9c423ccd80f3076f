// Owns the per-endpoint limit on concurrent webhook requests in one worker
// process: a counting semaphore per endpoint id with a bounded wait, so one
// slow partner cannot take every request a chunk job may run at once. A row
// whose wait runs out is deferred by the claim stage (claim.ts), not dropped.

export class EndpointSlots {
  private readonly state = new Map<string, { active: number; waiters: (() => void)[] }>()

  constructor(private readonly limit: number) {}

  /** Takes a free slot at once if there is one (no promise, no tick: the common case of a fan-out). */
  tryAcquire(id: string): boolean {
    let s = this.state.get(id)
    if (!s) { s = { active: 0, waiters: [] }; this.state.set(id, s) }
    if (s.active >= this.limit) return false
    s.active++
    return true
  }

  /** True once a slot is held; false when none freed up within `waitMs`. */
  acquire(id: string, waitMs: number): Promise<boolean> {
    if (this.tryAcquire(id)) return Promise.resolve(true)
    const entry = this.state.get(id)!
    return new Promise<boolean>((resolve) => {
      const wake = () => { clearTimeout(timer); entry.active++; resolve(true) }
      const timer = setTimeout(() => {
        const i = entry.waiters.indexOf(wake)
        if (i >= 0) entry.waiters.splice(i, 1)
        resolve(false)
      }, waitMs)
      entry.waiters.push(wake)
    })
  }

  release(id: string): void {
    const s = this.state.get(id)
    if (!s) return
    s.active--
    const next = s.waiters.shift()
    if (next) next()
    else if (s.active === 0) this.state.delete(id)
  }
}
