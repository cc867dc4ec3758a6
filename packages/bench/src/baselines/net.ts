import type { ChildProcess } from 'node:child_process'
import type { Contender } from '../types.js'
import { ask } from '../procs.js'
import { forkHelper, startServer, stopAllOf } from './helpers.js'

/**
 * Two plain processes talking over a raw transport: `tcp` (Node net) or `libp2p`
 * (TCP + Noise + Yamux, one long-lived stream for latency, a new stream per bandwidth sample).
 */
export function rawTransport (transport: 'tcp' | 'libp2p', mode: 'latency' | 'bandwidth', messages: number): Contender {
  let server: ChildProcess | undefined
  let client: ChildProcess | undefined
  const script = transport === 'tcp' ? 'tcp-peer' : 'p2p-peer'
  return {
    async setup (signal) {
      const s = await startServer<{ port?: number, multiaddr?: string }>(script, ['server'], signal)
      server = s.child
      client = await forkHelper(script, ['client', String(transport === 'tcp' ? s.ready.port : s.ready.multiaddr)], signal)
    },
    async sample (signal) { return await ask<number>(client!, { cmd: mode, n: messages }, signal) },
    async teardown () { await stopAllOf(client, server) }
  }
}
