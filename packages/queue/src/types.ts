/** Options of a wait that may be cancelled. */
export interface WaitOptions { signal?: AbortSignal }

export interface PutOptions extends WaitOptions {
  /** Only priority queues read it: higher comes out first; equal priorities keep arrival order. */
  priority?: number
}

/**
 * One port's queue. Bounded: `put` waits while the queue holds `capacity` items, which is
 * what turns a fast producer into a waiting one instead of a growing heap.
 */
export interface VirtualQueue<T> {
  readonly type: string
  readonly capacity: number
  /** Items held now. */
  readonly size: number
  readonly closed: boolean
  /** Waits while full; rejects with InvalidStateError once closed, AbortError on abort. */
  put: (item: T, options?: PutOptions) => Promise<void>
  /** Adds without waiting; false when full or closed. */
  tryPut: (item: T, options?: PutOptions) => boolean
  /** Waits while empty; after close, drains what is left and then rejects with InvalidStateError (code E_INVALID_STATE). */
  get: (options?: WaitOptions) => Promise<T>
  /** The next item if one is there. */
  tryGet: () => { value: T } | undefined
  /** Wakes every waiter: pending puts reject, gets drain the rest then reject. */
  close: () => void
}

export interface QueueOptions {
  /** Maximum items held; at least 1. */
  capacity: number
}
