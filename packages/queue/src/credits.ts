import { BadRequestError, InvalidStateError, throwIfAborted } from '@mvm/core'
import { Waiters } from './waiters.js'
import type { WaitOptions } from './types.js'

/**
 * Sender side of credit-based flow control across a process or node boundary. It starts with
 * the receiver's capacity; each item sent spends one credit; the receiver hands credits back as
 * it frees space. Items in flight on a link therefore never exceed the receiver's queue size,
 * whatever buffers (IPC pipes, libp2p streams) lie between them.
 */
export class CreditGate {
  private credits: number
  private failure: Error | undefined
  private readonly waiters = new Waiters()

  constructor (initial: number) {
    if (!Number.isInteger(initial) || initial < 1) throw new BadRequestError(`initial credits: ${String(initial)} must be an integer >= 1`)
    this.credits = initial
  }

  get available (): number { return this.credits }

  /** Waits for a credit and spends it. */
  async take (options: WaitOptions = {}): Promise<void> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure
      throwIfAborted(options.signal)
      if (this.credits > 0) { this.credits--; return }
      await this.waiters.wait(options.signal)
    }
  }

  grant (n: number): void {
    if (!Number.isInteger(n) || n < 1) return
    this.credits += n
    for (let i = 0; i < n; i++) this.waiters.wakeOne()
  }

  /** Fails every current and future `take` (the peer is gone). */
  close (reason: Error = new InvalidStateError('credit gate closed')): void {
    this.failure = reason
    this.waiters.wakeAll()
  }
}

export interface CreditGranterInit {
  /** The receiving queue's capacity: the credits the sender started with. */
  capacity: number
  /** Delivers credits to the sender (an IPC message, a `credit` frame). */
  grant: (n: number) => void
  /** Credits are batched until this many are owed; at most `capacity` so the sender never stalls. */
  batch?: number
}

/** Receiver side: call `consumed()` each time an item leaves the queue. */
export class CreditGranter {
  private owed = 0
  private readonly batch: number

  constructor (private readonly init: CreditGranterInit) {
    this.batch = Math.max(1, Math.min(init.capacity, init.batch ?? Math.ceil(init.capacity / 2)))
  }

  consumed (n = 1): void {
    this.owed += n
    if (this.owed >= this.batch) this.flush()
  }

  flush (): void {
    if (this.owed === 0) return
    const n = this.owed
    this.owed = 0
    this.init.grant(n)
  }
}
