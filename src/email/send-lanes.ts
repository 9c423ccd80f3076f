// Owns the bound on what a crash or a withdrawal can let through. Alert
// mails go out in a fixed number of lanes (one per SMTP connection); a
// lane's next mail opens its SMTP transaction at once, but its body, whose
// final "." commits the relay to delivering it, is held back until the
// lane's previous outcome is written. So each lane has at most one mail
// accepted and not yet recorded, and the envelope round trips overlap that
// write instead of waiting for it. The write also brings a verdict (e.g.
// which appeals were withdrawn meanwhile); a body the verdict does not
// admit is never released: the transaction is aborted before its ".".
import { PassThrough, type Readable } from 'node:stream'

/** A mail held back by the verdict of its lane's previous write; the relay never got its final ".". */
export class WithheldError extends Error {
  constructor() {
    super('held back before its end: the appeal was withdrawn')
    this.name = 'WithheldError'
  }
}

interface Lane<V> { recorded: Promise<V | undefined> }

/** The message as a stream that ends once `previous` settled well and its verdict admits it, or fails. */
function after<V>(previous: Promise<V | undefined>, raw: Buffer, admit: (verdict: V | undefined) => boolean): Readable {
  const body = new PassThrough()
  // The sender sees the failure through its own listener; if it never got
  // as far as reading the body (the connection failed first), the error
  // must not go unheard, which would end the process.
  body.on('error', () => {})
  previous.then(
    (verdict) => (admit(verdict) ? body.end(raw) : body.destroy(new WithheldError())),
    (error: unknown) => body.destroy(error as Error),
  )
  return body
}

export class SendLanes<V> {
  private readonly free: Lane<V>[]
  private readonly queued: ((lane: Lane<V>) => void)[] = []

  constructor(readonly size: number) {
    // A fresh lane has no previous write and so no verdict: what admitted its first mail was the claim.
    this.free = Array.from({ length: size }, () => ({ recorded: Promise.resolve(undefined) }))
  }

  /**
   * Sends one message in the next free lane, then records its result.
   * The message may be given as a function: it is then rendered only once
   * a lane is free: a window's waiting mails hold no bodies (rendered up
   * front, they waited long enough to be promoted to V8's old space and
   * stayed there until a full GC). `send` gets the message as a stream
   * that ends only once the lane's
   * previous result is recorded and `admit` accepts that write's verdict
   * (undefined for a lane's first mail); `send` must settle (not throw)
   * with the result. Resolves when this result is recorded, rejects if it
   * was not.
   */
  async send<T>(
    message: Buffer | (() => Buffer), admit: (verdict: V | undefined) => boolean,
    send: (body: Readable) => Promise<T>, record: (result: T) => Promise<V>,
  ): Promise<T> {
    const lane = this.free.pop() ?? await new Promise<Lane<V>>((resolve) => this.queued.push(resolve))
    let recorded: Promise<V>
    let result: T
    try {
      result = await send(after(lane.recorded, typeof message === 'function' ? message() : message, admit))
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
