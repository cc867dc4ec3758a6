/**
 * @packageDocumentation
 * Queue-level VM layer: bounded virtual queues (`fifo`, `priority`) whose `put` waits when full,
 * encoders (`json`, `raw`, `protobuf`) chosen by name, and credit-based flow control that keeps
 * memory bounded when a queue's producer and consumer live in different processes or nodes.
 *
 * @example
 * ```ts
 * import { createQueue, createEncoder, CreditGate, CreditGranter } from '@mvm/queue'
 * const q = createQueue<number>('fifo', { capacity: 64 })
 * await q.put(1)                       // waits while 64 items are held
 * const v = await q.get({ signal })    // waits while empty
 * const enc = createEncoder('json')    // or { type: 'protobuf', options: { proto, type: 'lab.Sample' } }
 * const gate = new CreditGate(64)      // sender: await gate.take() before each item
 * const granter = new CreditGranter({ capacity: 64, grant: (n) => gate.grant(n) }) // receiver: granter.consumed()
 * ```
 */
export type { VirtualQueue, QueueOptions, PutOptions, WaitOptions } from './types.js'
export { queueTypes, createQueue } from './queues.js'
export { encoders, createEncoder, jsonEncoder, type Encoder, type EncodingSpec } from './encoders.js'
export { CreditGate, CreditGranter, type CreditGranterInit } from './credits.js'
export type { LinkFrame, RemoteLink } from './link.js'
// The node-to-node proxy is `@mvm/queue/proxy`: ranks load this index inside their sandbox,
// and the proxy would pull libp2p and the wire codecs in with it.
