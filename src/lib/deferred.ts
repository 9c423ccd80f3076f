// Owns the promise settled from outside (Promise.withResolvers, which Node 20
// lacks): one promise handed to many waiters — a withdrawal wave's askers, an
// outcome batch's rows — instead of a promise and closure per waiter.
export interface Deferred<T> {
  promise: Promise<T>
  resolve: (value: T) => void
  reject: (error: unknown) => void
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}
