import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { AbortError } from '@mvm/core'
import type { Contender } from '../types.js'
import { forkTracked, stopProcess } from '../procs.js'
import { childScript } from '../paths.js'

/** The payload of a streamed message: a string of `bytes` characters, as the SDK programs send. */
export function payload (bytes: number): string { return 'x'.repeat(bytes) }

/**
 * Raw `child_process.fork` IPC between two plain Node processes (this one and an echo child):
 * one-way small-message latency in µs, or streaming bandwidth in MB/s, JSON serialization.
 */
export function forkIpc (mode: 'latency' | 'bandwidth', messages: number, bytes = 64 * 1024): Contender {
  let child: ChildProcess | undefined
  const data = payload(bytes)
  return {
    async setup () { child = forkTracked(childScript('ipc-echo'), [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] }) },
    async sample (signal) {
      const c = child!
      const t0 = performance.now()
      if (mode === 'latency') {
        for (let i = 0; i < messages; i++) {
          if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new AbortError()
          c.send({ t: 'ping', i })
          await once(c, 'message', { signal })
        }
        return (performance.now() - t0) * 1000 / (2 * messages)
      }
      c.send({ t: 'start', n: messages })
      const acked = once(c, 'message', { signal })
      for (let i = 0; i < messages; i++) {
        // the callback fires once the message is handed to the OS: that is IPC's backpressure
        await new Promise<void>((resolve, reject) => { c.send({ t: 'data', s: data }, (err) => { if (err !== null) reject(err); else resolve() }) })
      }
      await acked
      return messages * bytes / 1e6 / ((performance.now() - t0) / 1000)
    },
    async teardown () { if (child !== undefined) await stopProcess(child, 1000) }
  }
}
