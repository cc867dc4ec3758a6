import '@mvm/core/polyfill'
import t, { type Test } from 'tap'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import { CONTROL_PROTOCOL, encodeControl, encodeVarint } from '@mvm/wire'
import { createNodeClient } from '@mvm/soap'
import { startNode, waitFor } from './lib/nodes.js'

async function rawHost (t: Test): Promise<Libp2p> {
  const h = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
  t.teardown(async () => { await h.stop() })
  return h
}

function frame (body: Uint8Array): Uint8Array {
  const len = encodeVarint(body.byteLength)
  const out = new Uint8Array(len.byteLength + body.byteLength)
  out.set(len)
  out.set(body, len.byteLength)
  return out
}

/** Sends `bytes` on a fresh control stream and waits (bounded) until the node ends the stream. */
async function sendAndWaitClosed (h: Libp2p, addr: string, bytes: Uint8Array): Promise<string> {
  const stream: Stream = await h.dialProtocol(multiaddr(addr), CONTROL_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
  const closed = new Promise<string>((resolve) => {
    stream.addEventListener('close', () => { resolve(stream.status) }, { once: true })
    setTimeout(() => { resolve('still-open:' + stream.status + ':' + String(stream.writeStatus) + ':' + String(stream.readStatus)) }, 8000).unref()
  })
  stream.send(bytes)
  const status = await closed
  if (status.startsWith('still-open')) stream.abort(new Error('test done'))
  return status
}

t.test('garbage, oversized frames, unknown versions and early messages never crash a super-peer', async (t) => {
  const sp = await startNode(t, 'sp', { roles: ['bootstrap', 'super-peer'], group: 'g', monitoring: { heartbeatMs: 200 } })
  const addr = sp.multiaddrs[0]!
  const h = await rawHost(t)
  const hello = { type: 'hello' as const, peerId: h.peerId.toString(), roles: ['peer'], group: 'g' }
  const cases: Array<[string, Uint8Array]> = [
    ['raw garbage', new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n' + 'x'.repeat(200))],
    ['an oversized frame header', Uint8Array.from([...encodeVarint(200 * 1024 * 1024), 1, 2, 3])],
    ['an unknown version', frame(encodeControl({ version: 99, id: 1, body: hello }))],
    ['a heartbeat before join', frame(encodeControl({ id: 1, body: { type: 'heartbeat', report: { totalSlots: 1 } } }))]
  ]
  for (const [what, bytes] of cases) {
    const status = await sendAndWaitClosed(h, addr, bytes)
    t.notMatch(status, /still-open/, `the node ended the stream after ${what}`)
  }
  const status = await createNodeClient(sp.soapUrl).GetStatus({ timeoutMs: 5000 })
  t.equal(status.peerId, sp.peerId, 'SOAP GetStatus still answers')
  t.equal(sp.membership.view().length, 1, 'nothing joined')

  const good = await startNode(t, 'good', { bootstrap: [sp.soapUrl], group: 'g' })
  await waitFor('a good peer still joins', () => sp.membership.get(good.peerId)?.state === 'up')
  t.pass('the node survived')
})
