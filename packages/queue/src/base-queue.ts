import { BadRequestError, InvalidStateError } from '@mvm/core'
import type { PutOptions, QueueOptions, VirtualQueue, WaitOptions } from './types.js'
import { Waiters } from './waiters.js'

/**
 * The waiting and closing logic shared by every queue type; subclasses only decide where an
 * item goes (`push`) and which comes out next (`shift`).
 */
export abstract class BaseQueue<T> implements VirtualQueue<T> {
  abstract readonly type: string
  readonly capacity: number
  private isClosed = false
  private readonly notFull = new Waiters()
  private readonly notEmpty = new Waiters()

  constructor (options: QueueOptions) {
    const c = options.capacity
    if (!Number.isInteger(c) || c < 1) throw new BadRequestError(`queue capacity: ${String(c)} must be an integer >= 1`, { data: { field: 'capacity' } })
    this.capacity = c
  }

  abstract get size (): number
  protected abstract push (item: T, priority: number): void
  protected abstract shift (): T

  get closed (): boolean { return this.isClosed }

  tryPut (item: T, options: PutOptions = {}): boolean {
    if (this.isClosed || this.size >= this.capacity) return false
    this.push(item, options.priority ?? 0)
    this.notEmpty.wakeOne()
    return true
  }

  async put (item: T, options: PutOptions = {}): Promise<void> {
    for (;;) {
      if (this.isClosed) throw new InvalidStateError(`${this.type} queue is closed`)
      if (this.tryPut(item, options)) return
      await this.notFull.wait(options.signal)
    }
  }

  tryGet (): { value: T } | undefined {
    if (this.size === 0) return undefined
    const value = this.shift()
    this.notFull.wakeOne()
    return { value }
  }

  async get (options: WaitOptions = {}): Promise<T> {
    for (;;) {
      const got = this.tryGet()
      if (got !== undefined) return got.value
      if (this.isClosed) throw new InvalidStateError(`${this.type} queue is closed`)
      await this.notEmpty.wait(options.signal)
    }
  }

  close (): void {
    this.isClosed = true
    this.notFull.wakeAll()
    this.notEmpty.wakeAll()
  }
}
