// One MVM data node in its own process (forked, IPC asks; argv: store dir, optional listen multiaddr): a libp2p node with a chunk store
// and the /mvm/data/1.0.0 service, as every MVM node has, plus a raw libp2p stream of the same
// bytes for the baseline. Asks: holder, import {size}, fetch {file, holders}, raw {holder, n},
// rawStored {holder, n}: the raw stream, hashed and written to 1 MiB files as it arrives (the
// least any content-checked store must do with the bytes: the floor under the data path).
import '@mvm/core/polyfill'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, open, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createDataService, createDataStore, type Holder } from '@mvm/data'

const RAW = '/mvm-bench/data-raw/1.0.0'
const MiB = 1024 * 1024
const dir = process.argv[2]!
// the address to listen on: loopback unless the bench puts this node on an emulated host
const listen = process.argv[3] ?? '/ip4/127.0.0.1/tcp/0'

const node = await createLibp2p({ addresses: { listen: [listen] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
const store = await createDataStore({ dir, maxBytes: 2048 * MiB })
const service = createDataService({
  store,
  self: node.peerId.toString(),
  transport: {
    encryptsOnSend: true, // Noise, above
    async handle (protocol, handler) {
      await node.handle(protocol, (stream, connection) => { handler(stream, connection.remotePeer.toString()) }, { maxInboundStreams: 256, maxOutboundStreams: 256 })
    },
    async unhandle (protocol) { await node.unhandle(protocol) },
    async dial (_peerId, addrs, protocol, options = {}) {
      return await node.dialProtocol(addrs.map((a) => multiaddr(a)), protocol, { ...(options.signal !== undefined ? { signal: options.signal } : {}), maxOutboundStreams: 256 })
    }
  }
})
await service.start()
let bytes = new Uint8Array(0)

async function write (s: Stream, b: Uint8Array): Promise<void> {
  if (!s.send(b)) await new Promise<void>((resolve) => { s.addEventListener('drain', () => { resolve() }, { once: true }) })
}

await node.handle(RAW, async (stream) => {
  try {
    for await (const head of stream) {
      const n = Number(Buffer.from(head.subarray()).readBigUInt64BE(0))
      for (let at = 0; at < n; at += MiB) await write(stream, bytes.subarray(at, Math.min(n, at + MiB)))
      await stream.close()
      return
    }
  } catch { /* the reader went away */ }
}, { maxInboundStreams: 16 })

const asks: Record<string, (m: Record<string, unknown>) => Promise<unknown>> = {
  async holder () { return { peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map((m) => m.toString()) } },
  async import (m) {
    bytes = randomBytes(m.size as number)
    return (await store.importBytes(bytes, { name: 'bench', pin: 'bench' })).id
  },
  /** Forgets the file, then fetches it whole into the store; ms. */
  async fetch (m) {
    await store.remove(m.file as string)
    await store.gc()
    const t0 = performance.now()
    await service.fetch(m.file as string, m.holders as Holder[])
    return performance.now() - t0
  },
  /** Reads n bytes of the holder's raw stream to the end; ms. */
  async raw (m) {
    const h = m.holder as Holder
    const t0 = performance.now()
    const stream = await node.dialProtocol(h.addrs.map((a) => multiaddr(a)), RAW)
    const head = Buffer.alloc(8)
    head.writeBigUInt64BE(BigInt(m.n as number))
    await write(stream, head)
    let got = 0
    for await (const chunk of stream) got += chunk.byteLength
    if (got !== m.n) throw new Error(`raw stream gave ${got} of ${String(m.n)} bytes`)
    return performance.now() - t0
  },
  /** As raw, but each MiB is hashed and written to its own new file, several writes in flight; ms. */
  async rawStored (m) {
    const h = m.holder as Holder
    const to = join(dir, 'raw-stored')
    await rm(to, { recursive: true, force: true })
    await mkdir(to, { recursive: true })
    const t0 = performance.now()
    const stream = await node.dialProtocol(h.addrs.map((a) => multiaddr(a)), RAW)
    const head = Buffer.alloc(8)
    head.writeBigUInt64BE(BigInt(m.n as number))
    await write(stream, head)
    const free = Array.from({ length: 10 }, () => Buffer.allocUnsafeSlow(MiB))
    const writes = new Set<Promise<void>>()
    let buf = free.pop()!
    let fill = 0
    let hash = createHash('sha256')
    let files = 0
    let got = 0
    const flush = async (): Promise<void> => {
      const b = buf
      const n = fill
      const name = hash.digest('hex')
      const w = (async () => {
        const fh = await open(join(to, `${files++}-${name}`), 'w')
        try { await fh.writev([b.subarray(0, n)]) } finally { await fh.close() }
        free.push(b)
      })()
      writes.add(w)
      void w.finally(() => writes.delete(w))
      while (free.length === 0) await Promise.race(writes)
      buf = free.pop()!
      fill = 0
      hash = createHash('sha256')
    }
    for await (const chunk of stream) {
      for (const piece of chunk instanceof Uint8Array ? [chunk] : chunk) {
        for (let at = 0; at < piece.byteLength;) {
          const take = Math.min(MiB - fill, piece.byteLength - at)
          const part = piece.subarray(at, at + take)
          hash.update(part)
          buf.set(part, fill)
          fill += take
          at += take
          got += take
          if (fill === MiB) await flush()
        }
      }
    }
    if (fill > 0) await flush()
    await Promise.all(writes)
    if (got !== m.n) throw new Error(`raw stream gave ${got} of ${String(m.n)} bytes`)
    return performance.now() - t0
  }
}

process.on('message', (m: { id: string, cmd: string } & Record<string, unknown>) => {
  const f = asks[m.cmd]
  if (f === undefined) { process.send!({ id: m.id, error: `unknown ask ${m.cmd}` }); return }
  f(m).then((value) => { process.send!({ id: m.id, value }) }, (err: Error) => { process.send!({ id: m.id, error: err.message }) })
})
process.on('disconnect', () => {
  void (async () => {
    await service.stop(); await store.close(); await node.stop()
    await rm(dir, { recursive: true, force: true })
  })().finally(() => process.exit(0))
})
process.send!({ ready: true })
