// Polyfill first: libp2p 3 needs Promise.withResolvers, which Node 20 lacks.
import '@mvm/core/polyfill'
import { open, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Test } from 'tap'
import { createDataService, createDataStore, type DataService, type DataStore, type DataTransport, type Holder } from '@mvm/data'

export type Node = Libp2p

/** A real libp2p node (TCP + Noise + Yamux + Identify) listening on 127.0.0.1. */
export async function startNode (t: Test): Promise<Node> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  })
  t.teardown(async () => { await node.stop() })
  return node
}

/**
 * The node's streams in the shape @mvm/node's StreamAccess has (what a node passes to the
 * service); `encryptsOnSend` as a node sets it (its connections are Noise), unless told.
 */
export function transportOf (node: Node, encryptsOnSend = true): DataTransport {
  return {
    encryptsOnSend,
    async handle (protocol, handler) {
      await node.handle(protocol, (stream, connection) => { handler(stream, connection.remotePeer.toString()) }, { maxInboundStreams: 256, maxOutboundStreams: 256 })
    },
    async unhandle (protocol) { await node.unhandle(protocol) },
    async dial (peerId, addrs, protocol, options = {}) {
      const pid = peerIdFromString(peerId)
      const opts = { ...(options.signal !== undefined ? { signal: options.signal } : {}), maxOutboundStreams: 256 }
      if (node.getConnections(pid).length > 0 || addrs.length === 0) return await node.dialProtocol(pid, protocol, opts)
      return await node.dialProtocol(addrs.map((a) => multiaddr(a)), protocol, opts)
    }
  }
}

export function holderOf (node: Node): Holder {
  return { peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map((m) => m.toString()) }
}

/** A sparse file: ftruncate to `size`, then a few positional writes. */
export async function sparseFile (path: string, size: number, writes: Array<[number, Uint8Array]>): Promise<void> {
  const fh = await open(path, 'w')
  try {
    await fh.truncate(size)
    for (const [at, bytes] of writes) await fh.write(bytes, 0, bytes.byteLength, at)
  } finally { await fh.close() }
}

/** Flips a byte of a chunk file on disk (the store's layout: chunks/<2 hex>/<hash>). */
export async function corruptChunk (storeDir: string, hash: string): Promise<void> {
  const p = join(storeDir, 'chunks', hash.slice(0, 2), hash)
  const b = await readFile(p)
  b[0] = b[0]! ^ 0xff
  await writeFile(p, b)
}

export interface Peer {
  node: Node
  store: DataStore
  service: DataService
  holder: Holder
  dir: string
}

/** A libp2p node with a data store and a started data service. */
export async function startPeer (t: Test, dir: string, opts: { chunkSize?: number, maxBytes?: number, upstream?: (id: string) => Holder[], inflight?: number, requestTimeoutMs?: number, self?: boolean, encryptsOnSend?: boolean } = {}): Promise<Peer> {
  const node = await startNode(t)
  const store = await createDataStore({ dir, maxBytes: opts.maxBytes ?? 256 * 2 ** 20, ...(opts.chunkSize === undefined ? {} : { chunkSize: opts.chunkSize }) })
  const service = createDataService({
    store,
    transport: transportOf(node, opts.encryptsOnSend ?? true),
    ...(opts.upstream === undefined ? {} : { upstream: opts.upstream }),
    ...(opts.inflight === undefined ? {} : { inflight: opts.inflight }),
    ...(opts.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: opts.requestTimeoutMs }),
    ...(opts.self === true ? { self: node.peerId.toString() } : {})
  })
  await service.start()
  t.teardown(async () => { await service.stop(); await store.close() })
  return { node, store, service, holder: holderOf(node), dir }
}
