import t from 'tap'
import { QUEUE_PROTOCOL, queueChannel, type FrameKind } from '@mvm/wire'
import { dial, inbound, nodePair } from './fixtures.js'

const PORTS = ['left', 'right', 'up', 'down']
const TOTAL = 10_000

t.test('queue frames keep per-port order over 10,000 frames', async (t) => {
  const { a, b } = await nodePair(t)
  const streams = inbound(b, QUEUE_PROTOCOL)
  const tx = queueChannel(await dial(a, b, QUEUE_PROTOCOL))
  const rx = queueChannel(await streams.next())

  const writer = (async () => {
    await tx.send({ type: 'hello', jobId: 'order' })
    const seq = new Map(PORTS.map((p) => [p, 0]))
    const sends: Array<Promise<void>> = []
    for (let i = 0; i < TOTAL; i++) {
      const port = PORTS[(i * 7 + (i >> 3)) % PORTS.length]!
      const s = seq.get(port)!
      seq.set(port, s + 1)
      const payload = new TextEncoder().encode(`${port}:${s}:${'x'.repeat(i % 300)}`)
      // many sends in flight at once: order must still hold
      sends.push(tx.send({ type: 'frame', jobId: 'order', fromRank: 0, toRank: 1, port, seq: s, kind: 'DATA', payload }))
      if (sends.length >= 256) await Promise.all(sends.splice(0))
    }
    for (const port of PORTS) sends.push(tx.send({ type: 'frame', jobId: 'order', port, seq: seq.get(port)!, kind: 'EOF' }))
    await Promise.all(sends)
    await tx.close()
  })()

  const next = new Map(PORTS.map((p) => [p, 0]))
  const eof = new Set<string>()
  const kinds = new Map<FrameKind, number>()
  let bad = 0
  let frames = 0
  for await (const m of rx) {
    if (m.type !== 'frame') continue
    kinds.set(m.kind, (kinds.get(m.kind) ?? 0) + 1)
    if (m.kind === 'EOF') { eof.add(m.port); continue }
    frames++
    const want = next.get(m.port)!
    const text = new TextDecoder().decode(m.payload)
    if (m.seq !== want || !text.startsWith(`${m.port}:${want}:`)) { if (bad++ < 5) t.fail(`port ${m.port}: expected seq ${want}, got ${m.seq} (${text.slice(0, 20)})`) }
    next.set(m.port, want + 1)
  }
  await writer
  t.equal(frames, TOTAL, 'all frames arrived')
  t.equal(bad, 0, 'no frame out of order')
  t.same([...eof].sort(), [...PORTS].sort(), 'EOF on every port, after its data')
  t.equal([...next.values()].reduce((x, y) => x + y, 0), TOTAL)
  t.same(Object.fromEntries(kinds), { DATA: TOTAL, EOF: PORTS.length })
  await rx.close()
  t.equal(await rx.closed, undefined)
})

t.test('ERROR and CREDIT frames travel both ways on one stream', async (t) => {
  const { a, b } = await nodePair(t)
  const streams = inbound(b, QUEUE_PROTOCOL)
  const tx = queueChannel(await dial(a, b, QUEUE_PROTOCOL))
  const rx = queueChannel(await streams.next())
  await tx.send({ type: 'hello', jobId: 'j' })
  await rx.send({ type: 'hello', jobId: 'j' })
  await rx.send({ type: 'frame', jobId: 'j', port: 'p', kind: 'CREDIT', credits: 32 })
  const err = new TextEncoder().encode(JSON.stringify({ code: 'E_JOB_FAILED', message: 'rank 1 died' }))
  await tx.send({ type: 'frame', jobId: 'j', port: 'p', kind: 'ERROR', payload: err })
  const ti = tx[Symbol.asyncIterator]()
  const ri = rx[Symbol.asyncIterator]()
  t.match((await ti.next()).value, { type: 'hello', jobId: 'j', version: 1 })
  t.match((await ti.next()).value, { type: 'frame', kind: 'CREDIT', credits: 32 })
  t.match((await ri.next()).value, { type: 'hello' })
  const e = (await ri.next()).value
  t.match(e, { type: 'frame', kind: 'ERROR' })
  t.same(JSON.parse(new TextDecoder().decode(e.payload)), { code: 'E_JOB_FAILED', message: 'rank 1 died' })
  await t.rejects(tx.send({ type: 'frame', jobId: 'j', port: 'p', kind: 'DATA', payload: new Uint8Array(4 * 1024 * 1024 + 1) }), { code: 'E_BAD_REQUEST', message: /payload: larger than 4194304 bytes/ })
  await Promise.all([tx.close(), rx.close()])
  t.equal(await tx.closed, undefined)
  t.equal(await rx.closed, undefined)
})
