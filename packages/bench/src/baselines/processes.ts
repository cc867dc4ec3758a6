import { runToEnd } from '../procs.js'
import { childScript } from '../paths.js'
import type { Contender } from '../types.js'
import { timedPool } from './helpers.js'

/** Launch baseline: spawn a plain Node process that forks a second; one message each way; both exit. ms. */
export function nodePair (): Contender {
  return {
    async sample (signal) {
      const t0 = performance.now()
      await runToEnd(process.execPath, [childScript('pair')], signal, { stdio: ['ignore', 'ignore', 'pipe'] })
      return performance.now() - t0
    }
  }
}

/** Throughput baseline: `count` plain process pairs with `concurrency` in flight; pairs per second. */
export function nodePairRate (count: number, concurrency: number): Contender {
  return {
    async sample (signal) {
      const ms = await timedPool(count, concurrency, async () => {
        await runToEnd(process.execPath, [childScript('pair')], signal, { stdio: ['ignore', 'ignore', 'pipe'] })
      })
      return count / (ms / 1000)
    }
  }
}
