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

/**
 * Keeps two frames of each error's stack in a simulation process, unless `--stack-trace-limit`
 * was given. libp2p's Noise decoder throws and catches a RangeError each time it runs out of
 * buffered bytes, i.e. for every chunk a connection receives; with thousands of connections in
 * one process, capturing those stacks was ~8 % of a 10,000-peer run's CPU (profiled). Errors
 * the simulation reports are read by their messages. Process-wide; only `mvm sim` calls it.
 */
export function cheapErrorStacks (): void {
  if (process.execArgv.some((a) => a.startsWith('--stack-trace-limit')) || (process.env.NODE_OPTIONS ?? '').includes('--stack-trace-limit')) return
  Error.stackTraceLimit = 2
}
