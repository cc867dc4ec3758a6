/**
 * @packageDocumentation
 * `@mvm/broker/internal`: what this package's own tests use beyond its public API (the built-in
 * strategy factories, a fresh strategy registry, the reason a restart gives running jobs).
 * Not part of the public API: it may change without notice. Strategies are chosen by name
 * through `schedulingStrategies` (`round-robin`, `least-loaded`, `pack`, `spread`).
 */
export { RESTARTED_REASON } from './broker.js'
export { createStrategyRegistry } from './strategies/registry.js'
export { roundRobin } from './strategies/round-robin.js'
export { leastLoaded } from './strategies/least-loaded.js'
export { pack } from './strategies/pack.js'
export { spread } from './strategies/spread.js'
