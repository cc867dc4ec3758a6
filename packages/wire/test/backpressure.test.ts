import t from 'tap'
import v8 from 'node:v8'
import vm from 'node:vm'
import { QUEUE_PROTOCOL, queueChannel, type QueueMessage } from '@mvm/wire'
import { dial, inbound, nodePair } from './fixtures.js'

const FRAME = 64 * 1024
const FRAMES = 1024 // 64 MiB in all

// A real gc() without a command-line flag, so garbage does not count as buffered data.
v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void
const mem = (): { rss: number, ab: number } => { gc(); const m = process.memoryUsage(); return { rss: m.rss, ab: m.arrayBuffers } }

// With yamux's default 16 MiB stream window, up to ~17 MiB per stream is in flight when
// the reader pauses (measured: stall at 17.4 MiB, ~33 MiB ArrayBuffers in one process for
// both ends). A 4 MiB window, as a node may configure, keeps that to a few MiB.
t.test('a paused reader stalls the writer; memory stays bounded', async (t) => {
  const { a, b } = await nodePair(t, { maxStreamWindowBytes: 4 * 2 ** 20 })
  const streams = inbound(b, QUEUE_PROTOCOL)
  const tx = queueChannel(await dial(a, b, QUEUE_PROTOCOL))
  const rx = queueChannel(await streams.next())
  const payload = new Uint8Array(FRAME).fill(0xab) // one buffer, never mutated: the writer allocates nothing per frame

  const m0 = mem()
  let sent = 0
  let writerDone = false
  await tx.send({ type: 'hello', jobId: 'bp' })
  const writer = (async () => {
    for (let seq = 0; seq < FRAMES; seq++) {
      await tx.send({ type: 'frame', jobId: 'bp', port: 'in', kind: 'DATA', seq, payload })
      sent++
    }
    writerDone = true
  })()

  // read a little, then stop reading
  const it = rx[Symbol.asyncIterator]()
  const first = await it.next()
  t.match(first.value, { type: 'hello', jobId: 'bp' })
  for (let i = 0; i < 8; i++) t.equal(((await it.next()).value as QueueMessage & { seq: number }).seq, i)

  // wait until the writer makes no progress for 10 polls (at most 300 polls)
  let last = -1
  let still = 0
  for (let i = 0; i < 300 && still < 10; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    if (sent === last) still++
    else { still = 0; last = sent }
  }
  const sentBytes = sent * FRAME
  t.notOk(writerDone, 'the writer is still waiting')
  t.ok(sent < FRAMES / 8, `the writer stalled after ${sent} of ${FRAMES} frames (${(sentBytes / 2 ** 20).toFixed(1)} MiB)`)
  const m1 = mem()
  const delta = m1.rss - m0.rss
  const MiB = (n: number): string => (n / 2 ** 20).toFixed(1)
  // both nodes live in this process: the sender's and the receiver's buffers both count. Half of
  // what was offered: ~16 MiB on an idle machine, up to 25 MiB when GC lags under a loaded suite
  t.ok(delta < 32 * 2 ** 20 && m1.ab - m0.ab < 32 * 2 ** 20, `RSS grew ${MiB(delta)} MiB while 64 MiB were offered`)
  t.comment(`stalled at ${sent} frames; RSS delta ${MiB(delta)} MiB; ArrayBuffer delta ${MiB(m1.ab - m0.ab)} MiB`)

  // resume: everything arrives, in order, and the writer finishes
  let next = 8
  let bytes = 8 * FRAME
  for (let r = await it.next(); r.done !== true; r = await it.next()) {
    const m = r.value
    if (m.type !== 'frame' || m.seq !== next) { t.fail(`frame ${next}: got ${m.type} seq ${m.type === 'frame' ? m.seq : '-'}`); break }
    bytes += m.payload.byteLength
    next++
    if (next === FRAMES) { await writer; await tx.close() }
  }
  t.equal(next, FRAMES, 'all frames read in order')
  t.equal(bytes, FRAMES * FRAME, '64 MiB received')
  t.ok(writerDone)
  await rx.close()
  t.equal(await rx.closed, undefined)
  t.equal(await tx.closed, undefined)
})
