/** What the queue orders by: higher priority first, then submission order. */
export interface QueueKey { id: string, priority: number, seq: number }

function before (a: QueueKey, b: QueueKey): boolean {
  return a.priority !== b.priority ? a.priority > b.priority : a.seq < b.seq
}

/**
 * The runnable queued jobs in queue order, as a binary heap: push and pop are O(log n), so a
 * scheduling decision does not grow with the queue. Removal is lazy: a job that left the
 * queue some other way (cancelled) stays in the heap until it reaches the top, where the
 * caller's `isQueued` drops it. A job is in the heap at most once.
 */
export class QueueIndex {
  private readonly heap: QueueKey[] = []
  private readonly present = new Set<string>()

  constructor (private readonly isQueued: (id: string) => boolean) {}

  /** Entries held, stale ones included. */
  get size (): number { return this.heap.length }

  push (k: QueueKey): void {
    if (this.present.has(k.id)) return
    this.present.add(k.id)
    const h = this.heap
    h.push({ id: k.id, priority: k.priority, seq: k.seq })
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(h[i]!, h[p]!)) break
      ;[h[i], h[p]] = [h[p]!, h[i]!]
      i = p
    }
  }

  /** The first job still queued, taken out of the heap; undefined when none is left. */
  pop (): QueueKey | undefined {
    for (;;) {
      const top = this.take()
      if (top === undefined) return undefined
      if (this.isQueued(top.id)) return top
    }
  }

  clear (): void { this.heap.length = 0; this.present.clear() }

  private take (): QueueKey | undefined {
    const h = this.heap
    const top = h[0]
    if (top === undefined) return undefined
    this.present.delete(top.id)
    const last = h.pop()!
    if (h.length === 0) return top
    h[0] = last
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < h.length && before(h[l]!, h[m]!)) m = l
      if (r < h.length && before(h[r]!, h[m]!)) m = r
      if (m === i) return top
      ;[h[i], h[m]] = [h[m]!, h[i]!]
      i = m
    }
  }
}
