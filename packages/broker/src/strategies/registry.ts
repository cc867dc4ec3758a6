import { createRegistry, type Registry } from '@mvm/core'
import type { SchedulingStrategy } from '../types.js'
import { roundRobin } from './round-robin.js'
import { leastLoaded } from './least-loaded.js'
import { pack } from './pack.js'
import { spread } from './spread.js'

function isStrategy (v: unknown): v is SchedulingStrategy {
  return typeof v === 'object' && v !== null && typeof (v as SchedulingStrategy).place === 'function'
}

/** Scheduling strategies by name (the component-level layer); register more with `register`. */
export function createStrategyRegistry (): Registry<SchedulingStrategy> {
  const r = createRegistry<SchedulingStrategy>('scheduling strategy', isStrategy)
  r.register('round-robin', () => roundRobin())
  r.register('least-loaded', () => leastLoaded())
  r.register('pack', () => pack())
  r.register('spread', () => spread())
  return r
}

/** The shared default registry. */
export const schedulingStrategies: Registry<SchedulingStrategy> = createStrategyRegistry()
