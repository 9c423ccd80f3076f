// Owns the bound on what a crash can send twice. Alert mails go out in a
// fixed number of lanes (one per SMTP connection); a lane's next mail opens
// its SMTP transaction at once, but its body, whose final "." commits the
// relay to delivering it, is held back until the lane's previous outcome is
// written. So each lane has at most one mail accepted and not yet recorded,
// and the envelope round trips overlap that write instead of waiting for it.
import { PassThrough, type Readable } from 'node:stream'

interface Lane { recorded: Promise<void> }

/** The message as a stream that ends once `previous` has settled well, or fails if it did not. */
function after(previous: Promise<void>, raw: Buffer): Readable {
  const body = new PassThrough()
  // The sender sees the failure through its own listener; if it never got
  // as far as reading the body (the connection failed first), the error
  // must not go unheard, which would end the process.
  body.on('error', () => {})
  previous.then(() => body.end(raw), (error: unknown) => body.destroy(error as Error))
  return body
}

export class SendLanes {
  private readonly free: Lane[]
  private readonly queued: ((lane: Lane) => void)[] = []

  constructor(readonly size: number) {
    this.free = Array.from({ length: size }, () => ({ recorded: Promise.resolve() }))
  }

  /**
   * Sends one message in the next free lane, then records its result.
   * `send` gets the message as a stream that ends only once the lane's
   * previous result is recorded, and must settle (not throw) with the
   * result; resolves when this result is recorded, rejects if it was not.
   */
  async send<T>(raw: Buffer, send: (body: Readable) => Promise<T>, record: (result: T) => Promise<void>): Promise<T> {
    const lane = this.free.pop() ?? await new Promise<Lane>((resolve) => this.queued.push(resolve))
    let recorded: Promise<void>
    let result: T
    try {
      result = await send(after(lane.recorded, raw))
      recorded = record(result)
    } catch (error) {
      recorded = Promise.reject(error)
    }
    // A failed write poisons only the lane's next body (that send fails and is retried), not the lane.
    lane.recorded = recorded.catch(() => { throw new Error('the previous outcome in this lane was not recorded') })
    lane.recorded.catch(() => {})
    const next = this.queued.shift()
    if (next) next(lane)
    else this.free.push(lane)
    await recorded
    return result!
  }
}
