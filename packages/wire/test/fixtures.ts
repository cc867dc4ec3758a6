// Polyfill first: libp2p 3 needs Promise.withResolvers, which Node 20 lacks.
import '@mvm/core/polyfill'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import type { Stream } from '@libp2p/interface'
import type { Test } from 'tap'

export type Node = Libp2p

/** A real libp2p node (TCP + Noise + Yamux + Identify) listening on 127.0.0.1. */
export async function startNode (t: Test, opts: { maxStreamWindowBytes?: number } = {}): Promise<Node> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux(opts.maxStreamWindowBytes === undefined ? {} : { streamOptions: { maxStreamWindowSize: opts.maxStreamWindowBytes } })],
    services: { identify: identify() }
  })
  t.teardown(async () => { await node.stop() })
  return node
}

/** Two connected nodes. */
export async function nodePair (t: Test, opts: { maxStreamWindowBytes?: number } = {}): Promise<{ a: Node, b: Node }> {
  const [a, b] = await Promise.all([startNode(t, opts), startNode(t, opts)])
  return { a, b }
}

/** Registers `protocol` on `listener` and returns a queue of inbound streams. */
export function inbound (listener: Node, protocol: string): { next: () => Promise<Stream> } {
  const ready: Stream[] = []
  const waiters: Array<(s: Stream) => void> = []
  void listener.handle(protocol, (stream) => {
    const w = waiters.shift()
    if (w !== undefined) w(stream)
    else ready.push(stream)
  }, { maxInboundStreams: 64 })
  return {
    next: async () => {
      const s = ready.shift()
      if (s !== undefined) return s
      return await new Promise<Stream>((resolve) => { waiters.push(resolve) })
    }
  }
}

export async function dial (dialer: Node, listener: Node, protocol: string): Promise<Stream> {
  const addr = listener.getMultiaddrs()[0]
  if (addr === undefined) throw new Error('listener has no address')
  return await dialer.dialProtocol(addr, protocol)
}
