/**
 * @packageDocumentation
 * The virtual front-end's core: a durable job store (SQLite, `<dataDir>/broker.db`), the job
 * lifecycle (queued → scheduled → running → succeeded | failed | cancelled), a priority queue
 * with all-or-nothing placement and optional backfill, scheduling strategies by name
 * (`round-robin`, `least-loaded`, `pack`, `spread`) switchable at run time, and crash
 * recovery. It does no networking: the super-peer reaches its nodes through a {@link Dispatcher}.
 * Queued and active jobs are also held in memory (the queue as a heap: a decision is O(log n));
 * state changes are group-committed once per event-loop turn (`flush()` waits for it), while
 * `submit()`/`submitMany()` are durable when they return.
 *
 * @example
 * ```ts
 * import { createBroker } from '@mvm/broker'
 * const broker = createBroker({
 *   dataDir: '/var/lib/mvm',
 *   dispatcher: { start: async (job, placement, { signal }) => { … }, stop: async (job, placement, reason) => { … } },
 *   strategy: 'least-loaded',
 *   faultTolerance: { recovery: 'requeue', maxRestarts: 3 }
 * })
 * await broker.start()
 * broker.updateNodes([{ peerId: 'p1', group: 'g', state: 'up', labels: {}, totalSlots: 4, freeSlots: 4, freeMemoryMB: 4096, load: 0 }])
 * broker.on('job', (e) => console.log(e.jobId, e.state))
 * const { jobId } = broker.submit({ name: 'ring', size: 4, resources: { memoryMB: 256 } })
 * // the node reports each rank as it ends:
 * broker.reportRank(jobId, { rank: 0, exitCode: 0, output: 42 })
 * ```
 */
import type { Registry } from '@mvm/core'
import { BrokerImpl } from './broker.js'
import { schedulingStrategies } from './strategies/registry.js'
import type { Broker, BrokerInit, SchedulingStrategy } from './types.js'

export type {
  Broker, BrokerInit, Candidate, CheckpointRecord, Dispatcher, FaultTolerance, HistoryEntry, HistoryQuery, Job, JobChangeEvent, JobEvent, JobRequest, JobResult,
  NodeView, PlacementInput, RankRecord, SchedulingStrategy, StrategySpec, SubmitResult, UserLimits, UserQuotas
} from './types.js'
export { schedulingStrategies } from './strategies/registry.js'
export { terminalStates } from './types.js'
export { holdActive, type SlotHold } from './holds.js'
export { DEPENDENCY_TYPES, type Dependency, type DependencyType } from './deps.js'
export { parseBoundedJson, MAX_JSON_DEPTH } from './json-bounds.js'
export { placeWithPins, type RankPins } from './pins.js'

/**
 * Builds a broker; nothing is opened until `start()`. `strategies` defaults to the shared
 * registry, where more strategies can be registered by name.
 */
export function createBroker (init: BrokerInit, strategies: Registry<SchedulingStrategy> = schedulingStrategies): Broker {
  return new BrokerImpl(init, strategies)
}
