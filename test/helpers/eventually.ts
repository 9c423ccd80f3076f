// The one bounded poll every test uses to wait for something asynchronous
// (a NOTIFY, a worker, a mail in the sink): never a fixed sleep, never unbounded.
import { setTimeout as sleep } from 'node:timers/promises'

type Falsy = undefined | null | false

/**
 * Resolves with `check`'s first truthy value; rejects after `timeoutMs`
 * naming `what` (and what `seen` reports, for a useful failure).
 */
export async function eventually<T>(
  check: () => Promise<T | Falsy> | T | Falsy, timeoutMs: number, what: string,
  options: { intervalMs?: number; seen?: () => unknown } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) {
      const seen = options.seen ? ` (last seen: ${JSON.stringify(options.seen())})` : ''
      throw new Error(`${what} not reached within ${timeoutMs} ms${seen}`)
    }
    await sleep(options.intervalMs ?? 25)
  }
}
