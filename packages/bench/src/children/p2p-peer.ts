// Raw libp2p baseline (TCP + Noise + Yamux), both ends, the same protocol as tcp-peer.
// `server`: prints its multiaddr. `client <multiaddr>` (forked): answers latency/bandwidth asks.
import '@mvm/core/polyfill'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import { CHUNK, ECHO, SMALL, serverSession, sinkHeader } from './wire-proto.js'

const PROTOCOL = '/mvm-bench/raw/1.0.0'

async function node (listen: boolean): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0'] : [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
}

/** Writes with backpressure: send() says false when the buffer is full; then wait for 'drain'. */
async function write (s: Stream, b: Uint8Array): Promise<void> {
  if (!s.send(b)) await new Promise<void>((resolve) => { s.addEventListener('drain', () => { resolve() }, { once: true }) })
}

if (process.argv[2] === 'server') {
  const n = await node(true)
  await n.handle(PROTOCOL, async (stream) => {
    const feed = serverSession()
    try {
      for await (const chunk of stream) {
        const r = feed(chunk.subarray())
        if (r !== null) await write(stream, r)
      }
    } catch { /* the client went away */ }
  }, { maxInboundStreams: 64 })
  process.stdout.write(JSON.stringify({ event: 'ready', multiaddr: n.getMultiaddrs()[0]?.toString() }) + '\n')
  process.on('SIGTERM', () => { void Promise.resolve(n.stop()).finally(() => process.exit(0)) })
} else {
  const target = multiaddr(process.argv[3]!)
  const n = await node(false)
  const reader = (s: Stream): (k: number) => Promise<void> => {
    const it = s[Symbol.asyncIterator]()
    return async (k) => {
      let got = 0
      while (got < k) {
        const r = await it.next()
        if (r.done === true) throw new Error('stream ended early')
        got += r.value.byteLength
      }
    }
  }
  let echo: { s: Stream, read: (k: number) => Promise<void> } | undefined
  const latency = async (count: number): Promise<number> => {
    if (echo === undefined) {
      const s = await n.dialProtocol(target, PROTOCOL)
      await write(s, Uint8Array.of(ECHO))
      echo = { s, read: reader(s) }
    }
    const msg = new Uint8Array(SMALL).fill(7)
    const t0 = performance.now()
    for (let i = 0; i < count; i++) { await write(echo.s, msg); await echo.read(SMALL) }
    return (performance.now() - t0) * 1000 / (2 * count)
  }
  const bandwidth = async (count: number): Promise<number> => {
    const s = await n.dialProtocol(target, PROTOCOL)
    const read = reader(s)
    const chunk = new Uint8Array(CHUNK).fill(1)
    const t0 = performance.now()
    await write(s, sinkHeader(count * CHUNK))
    for (let i = 0; i < count; i++) await write(s, chunk)
    await read(1)
    const ms = performance.now() - t0
    s.abort(new Error('done'))
    return (count * CHUNK) / 1e6 / (ms / 1000)
  }
  process.on('message', (m: { id: string, cmd: string, n: number }) => {
    const f = m.cmd === 'latency' ? latency : bandwidth
    f(m.n).then((value) => { process.send!({ id: m.id, value }) }, (err: Error) => { process.send!({ id: m.id, error: err.message }) })
  })
  process.on('disconnect', () => { void Promise.resolve(n.stop()).finally(() => process.exit(0)) })
  process.send!({ ready: true })
}
