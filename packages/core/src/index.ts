/**
 * @packageDocumentation
 * What every MVM package shares: typed errors with stable codes, a namespaced logger,
 * the start/stop lifecycle, abort helpers, the component registry and the job states
 * the broker and the SOAP contract share.
 *
 * @example
 * ```ts
 * import { createRegistry, NotFoundError } from '@mvm/core'
 * const strategies = createRegistry<Strategy>('scheduling strategy')
 * strategies.register('round-robin', () => new RoundRobin())
 * const s = strategies.resolve('round-robin')
 * ```
 */
export * from './errors.js'
export * from './logger.js'
export * from './registry.js'
export * from './lifecycle.js'
export * from './job-state.js'
