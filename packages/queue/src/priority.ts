import { BaseQueue } from './base-queue.js'

interface Entry<T> { item: T, priority: number, seq: number }

/** Highest priority first; a sequence number keeps equal priorities in arrival order. */
export class PriorityQueue<T> extends BaseQueue<T> {
  readonly type = 'priority'
  private heap: Array<Entry<T>> = []
  private seq = 0

  get size (): number { return this.heap.length }

  protected push (item: T, priority: number): void {
    const h = this.heap
    h.push({ item, priority, seq: this.seq++ })
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.before(h[i]!, h[p]!)) break
      ;[h[i], h[p]] = [h[p]!, h[i]!]
      i = p
    }
  }

  protected shift (): T {
    const h = this.heap
    const top = h[0]!
    const last = h.pop()!
    if (h.length > 0) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && this.before(h[l]!, h[m]!)) m = l
        if (r < h.length && this.before(h[r]!, h[m]!)) m = r
        if (m === i) break
        ;[h[i], h[m]] = [h[m]!, h[i]!]
        i = m
      }
    }
    return top.item
  }

  private before (a: Entry<T>, b: Entry<T>): boolean {
    return a.priority !== b.priority ? a.priority > b.priority : a.seq < b.seq
  }
}
