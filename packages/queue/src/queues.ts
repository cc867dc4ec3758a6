import { createRegistry, type Registry } from '@mvm/core'
import { FifoQueue } from './fifo.js'
import { PriorityQueue } from './priority.js'
import type { QueueOptions, VirtualQueue } from './types.js'

export type QueueFactory = <T>(options: QueueOptions) => VirtualQueue<T>

/**
 * Queue types by name (component-level layer): a profile's `queue.type` or a policy picks one;
 * `register` adds a new kind without touching the runtime.
 */
export const queueTypes: Registry<QueueFactory, Record<string, never>> = createRegistry<QueueFactory, Record<string, never>>('queue type')
queueTypes.register('fifo', () => (options) => new FifoQueue(options))
queueTypes.register('priority', () => (options) => new PriorityQueue(options))

/** A queue of the named type: `createQueue('fifo', { capacity: 64 })`. Unknown names throw UnknownComponentError. */
export function createQueue<T> (type: string, options: QueueOptions): VirtualQueue<T> {
  return queueTypes.resolve(type)<T>(options)
}
