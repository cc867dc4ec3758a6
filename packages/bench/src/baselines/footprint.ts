import type { ChildProcess } from 'node:child_process'
import { ask } from '../procs.js'
import { treeRssMiB } from '../rss.js'
import type { Contender } from '../types.js'
import { forkHelper, startServer, stopAllOf } from './helpers.js'
import { forkTracked, readyLine, stopProcess } from '../procs.js'
import { childScript } from '../paths.js'

/** RSS (MiB) of a plain idle Node process, with `children` idle children counted in. */
export function idleNodeRss (children: number): Contender {
  let p: ChildProcess | undefined
  return {
    async setup (signal) { p = (await startServer('idle', [String(children)], signal)).child },
    async sample () { return await treeRssMiB(p!.pid!) },
    async teardown () { await stopAllOf(p) }
  }
}

/**
 * A process with `queued` jobs waiting: `plain` holds them in a Map (the baseline), `broker`
 * in @mvm/broker with its SQLite store. `rss` samples its RSS in MiB; `decide` asks it for
 * one scheduling decision and returns µs as measured inside it.
 */
export function queueHolder (kind: 'plain' | 'broker', queued: number, what: 'rss' | 'decide'): Contender {
  let p: ChildProcess | undefined
  return {
    async setup (signal) {
      // a decision is timed JIT-warm; the RSS row must not count the warm-up's garbage
      p = forkTracked(childScript(kind === 'plain' ? 'queue-holder' : 'broker-queue'), [String(queued), what === 'decide' ? 'warm' : 'cold'])
      try {
        await readyLine(p, kind === 'plain' ? 'queue holder' : 'broker with queued jobs', (v) => v?.event === 'ready', 120_000, signal)
      } catch (err) { await stopProcess(p, 500); throw err }
    },
    async sample (signal) {
      if (what === 'rss') return await treeRssMiB(p!.pid!)
      return await ask<number>(p!, { cmd: 'decide' }, signal)
    },
    async teardown () { await stopAllOf(p) }
  }
}

/** The same primes code serially in one plain process: ms for primes below n. */
export function primesSerial (n: number): Contender {
  let p: ChildProcess | undefined
  return {
    async setup (signal) { p = await forkHelper('primes-serial', [], signal) },
    async sample (signal) { return (await ask<{ ms: number }>(p!, { cmd: 'primes', n }, signal)).ms },
    async teardown () { await stopAllOf(p) }
  }
}
