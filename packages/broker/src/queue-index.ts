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
    const k2 = h[h.length - 1]!
    let i = h.length - 1
    // sift up by moving parents down: one write per level, no swaps
    while (i > 0) {
      const p = (i - 1) >> 1
      const parent = h[p]!
      if (!before(k2, parent)) break
      h[i] = parent
      i = p
    }
    h[i] = k2
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
    const n = h.length
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const m = r < n && before(h[r]!, h[l]!) ? r : l
      if (!before(h[m]!, last)) break
      h[i] = h[m]!
      i = m
    }
    h[i] = last
    return top
  }
}
