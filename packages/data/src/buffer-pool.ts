/**
 * Chunk-sized buffers reused across chunks received or sent. A received chunk is copied into one of
 * these as its pieces arrive, so the pieces die young (a cheap scavenge) instead of living
 * until the whole chunk is in and being promoted (a full collection each few MiB), and the
 * buffer's pages are already mapped when it is filled again.
 */
export class BufferPool {
  private readonly free: Uint8Array[] = []
  private made = 0
  private readonly waiters: Array<() => void> = []

  constructor (readonly size: number, readonly max: number) {}

  /** A buffer of `size` bytes, or undefined when all `max` are in use (see `whenFree`). */
  take (): Uint8Array | undefined {
    const b = this.free.pop()
    if (b !== undefined) return b
    if (this.made >= this.max) return undefined
    this.made++
    return Buffer.allocUnsafeSlow(this.size)
  }

  /** Returns a buffer taken from this pool; the oldest waiter, if any, is told. */
  give (b: Uint8Array): void {
    this.free.push(b)
    this.waiters.shift()?.()
  }

  /** Forgets a buffer taken from this pool that will not come back (someone else may still hold it). */
  drop (_b: Uint8Array): void { this.made-- }

  /** Calls `f` once, when a buffer is given back. */
  whenFree (f: () => void): void { this.waiters.push(f) }

  /** Drops a waiter that no longer wants a buffer (its stream ended). */
  cancel (f: () => void): void {
    const i = this.waiters.indexOf(f)
    if (i >= 0) this.waiters.splice(i, 1)
  }

  get inUse (): number { return this.made - this.free.length }
}
