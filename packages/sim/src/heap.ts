import { setFlagsFromString } from 'node:v8'

/**
 * Lets V8's young generation grow again in a simulation process. `@mvm/node` pins it at its
 * smallest (a node process then saves ~20 MiB of RSS), which is right for one node per process
 * and wrong for thousands: profiled, 44 % of a 1,000-peer run's CPU was the garbage collector
 * scavenging a 1 MiB nursery, and 20 % at 300 peers. Process-wide; only `mvm sim` calls it.
 */
export function roomyYoungGeneration (): void {
  setFlagsFromString('--semi-space-growth-factor=2')
}
