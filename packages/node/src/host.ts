import '@mvm/core/polyfill'
import { createLibp2p, type Libp2p } from 'libp2p'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import type { PrivateKey } from '@libp2p/interface'
import { ConfigError } from '@mvm/core'
import { quietLibp2pLogger } from './libp2p-logger.js'

export type Host = Libp2p<{ identify: unknown, ping: unknown }>

/** Which transport carries the node's connections: TCP, or in-process memory (`mvm sim` only). */
export type TransportKind = 'tcp' | 'memory' | 'memory+tcp'

/**
 * The libp2p host: TCP + Noise + Yamux, with Identify, Ping and libp2p's connection monitor (unless `services` is false); nothing else loaded. The
 * memory transport keeps everything above it (Noise, Yamux, the protocols) as on TCP.
 */
export async function createHost (privateKey: PrivateKey, listen: string[], transport: TransportKind = 'tcp', services = true): Promise<Host> {
  // only the transport in use is loaded: a TCP node never parses the memory transport (`mvm sim`'s)
  const transports = []
  if (transport !== 'tcp') transports.push((await import('@libp2p/memory')).memory())
  if (transport !== 'memory') transports.push((await import('@libp2p/tcp')).tcp())
  try {
    return await createLibp2p({
      privateKey,
      logger: quietLibp2pLogger,
      addresses: { listen },
      transports,
      connectionEncrypters: [noise()],
      // a 4 MiB window bounds what a stalled reader lets in flight per stream (16 MiB by default)
      streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: 4 * 1024 * 1024 } })],
      // Identify and Ping are not used by the MVM protocols themselves (they dial by address)
      services: (services ? { identify: identify(), ping: ping() } : {}) as never,
      // without Ping its pings only run protocol negotiation to a refusal; and it aborts a
      // connection whose ping is late, which in one loaded process (mvm sim) cut thousands of
      // control channels at once. MVM's own heartbeats are what detect a silent member.
      ...(services ? {} : { connectionMonitor: { enabled: false } }),
      start: false
    }) as unknown as Host
  } catch (e) {
    throw new ConfigError(`cannot create the libp2p host (listen ${listen.join(', ')}): ${(e as Error).message}`, { cause: e })
  }
}
