import { BaseQueue } from './base-queue.js'

/** First in, first out; a ring of slots so a long-lived queue never re-allocates per item. */
export class FifoQueue<T> extends BaseQueue<T> {
  readonly type = 'fifo'
  private slots: Array<T | undefined> = []
  private head = 0
  private count = 0

  get size (): number { return this.count }

  protected push (item: T): void {
    if (this.count === this.slots.length) this.grow()
    this.slots[(this.head + this.count) % this.slots.length] = item
    this.count++
  }

  protected shift (): T {
    const item = this.slots[this.head] as T
    this.slots[this.head] = undefined
    this.head = (this.head + 1) % this.slots.length
    this.count--
    return item
  }

  // grows to at most `capacity` slots, doubling, so small queues stay small
  private grow (): void {
    const n = Math.min(this.capacity, Math.max(4, this.slots.length * 2))
    const next: Array<T | undefined> = new Array(n)
    for (let i = 0; i < this.count; i++) next[i] = this.slots[(this.head + i) % this.slots.length]
    this.slots = next
    this.head = 0
  }
}
