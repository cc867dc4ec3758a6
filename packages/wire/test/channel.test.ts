import t, { type Test } from 'tap'
import { ErrorCode, MvmError } from '@mvm/core'
import { CONTROL_PROTOCOL, QUEUE_PROTOCOL, controlChannel, createRpcPeer, encodeVarint, queueChannel, type ControlEnvelope } from '@mvm/wire'
import { CONTROL_TYPES, protoRoot } from '@mvm/wire/internal'
import type { Stream } from '@libp2p/interface'
import { dial, inbound, nodePair, type Node } from './fixtures.js'
import { controlSamples } from './samples.js'

const Envelope = protoRoot().lookupType('mvm.v1.Envelope')
const QueueMessage = protoRoot().lookupType('mvm.v1.QueueMessage')
const raw = (type: typeof Envelope, obj: Record<string, unknown>): Uint8Array => type.encode(type.fromObject(obj)).finish()
const framed = (body: Uint8Array): Uint8Array => { const p = encodeVarint(body.byteLength); const f = new Uint8Array(p.byteLength + body.byteLength); f.set(p); f.set(body, p.byteLength); return f }

/** A tiny deterministic PRNG so a failing fuzz case can be replayed. */
function prng (seed: number): () => number {
  let s = seed >>> 0
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32 }
}

t.test('control channel over real libp2p streams', async (t) => {
  const { a, b } = await nodePair(t)
  const control = inbound(b, CONTROL_PROTOCOL)
  const queue = inbound(b, QUEUE_PROTOCOL)

  /** Sends raw bytes on a fresh stream; returns how the listener's channel closed. */
  async function sendRaw (protocol: string, bytes: Uint8Array[], end = false): Promise<{ err: MvmError | undefined, onCloseErr: MvmError | undefined, dialer: Stream }> {
    const dialer = await dial(a, b, protocol)
    const incoming = protocol === CONTROL_PROTOCOL ? control : queue
    for (const x of bytes) dialer.send(x)
    if (end) await dialer.close()
    const s = await incoming.next()
    let onCloseErr: MvmError | undefined
    const ch = protocol === CONTROL_PROTOCOL ? controlChannel(s, { onClose: (e) => { onCloseErr = e } }) : queueChannel(s, { onClose: (e) => { onCloseErr = e } })
    const got: unknown[] = []
    for await (const m of ch) got.push(m)
    const err = await ch.closed
    return { err, onCloseErr, dialer }
  }

  /** After a bad stream, the node must still serve a good one. */
  async function stillServes (t: Test, node: Node): Promise<void> {
    const s = await dial(a, node, CONTROL_PROTOCOL)
    const client = createRpcPeer(controlChannel(s))
    const server = createRpcPeer(controlChannel(await control.next()))
    server.onRequest((body) => body.type === 'awaken' ? { type: 'instantiateAck', jobId: body.jobId } : undefined)
    const r = await client.request({ type: 'awaken', jobId: 'alive' }, { timeoutMs: 10_000 })
    t.match(r, { type: 'instantiateAck', jobId: 'alive' }, 'a new good stream still works')
    await client.close()
  }

  t.test('every control message type round-trips over one stream', async (t) => {
    const tx = controlChannel(await dial(a, b, CONTROL_PROTOCOL))
    const rx = controlChannel(await control.next())
    let id = 1
    for (const k of CONTROL_TYPES) await tx.send({ id: id++, body: { type: k, ...controlSamples[k] } as ControlEnvelope['body'] })
    await tx.close()
    const got: ControlEnvelope[] = []
    for await (const m of rx) got.push(m)
    t.equal(got.length, CONTROL_TYPES.length)
    CONTROL_TYPES.forEach((k, i) => { t.same(got[i], { version: 1, id: i + 1, replyTo: 0, body: { type: k, ...controlSamples[k] } }, k) })
    await rx.close()
    t.equal(await rx.closed, undefined, 'clean close on the reader')
    t.equal(await tx.closed, undefined, 'clean close on the writer')
  })

  t.test('random bytes close the channel with a typed error (30 seeded cases)', async (t) => {
    const codes = new Set<string>()
    for (let seed = 1; seed <= 30; seed++) {
      const rnd = prng(seed)
      const body = Uint8Array.from({ length: 1 + Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256))
      const { err, onCloseErr } = await sendRaw(CONTROL_PROTOCOL, [framed(body)])
      if (!(err instanceof MvmError) || ![ErrorCode.PROTOCOL, ErrorCode.UNSUPPORTED_VERSION, ErrorCode.FRAME_TOO_LARGE].includes(err.code as never)) {
        t.fail(`seed ${seed}: expected a typed protocol error, got ${String(err)}`)
      }
      t.equal(onCloseErr, err, `seed ${seed}: onClose saw the same error`)
      codes.add(err?.code ?? 'none')
    }
    t.ok(codes.size >= 1, `codes seen: ${[...codes].join(', ')}`)
    await stillServes(t, b)
  })

  t.test('a garbage frame body is a ProtocolError', async (t) => {
    const { err } = await sendRaw(CONTROL_PROTOCOL, [framed(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))])
    t.match(err, { name: 'ProtocolError', code: ErrorCode.PROTOCOL, message: /undecodable/ })
  })

  t.test('an oversized length prefix is refused before the body arrives', async (t) => {
    const { err, dialer } = await sendRaw(CONTROL_PROTOCOL, [encodeVarint(64 * 1024 * 1024 + 1), new Uint8Array(10)])
    t.match(err, { name: 'FrameTooLargeError', code: ErrorCode.FRAME_TOO_LARGE })
    await new Promise<void>((resolve) => { if (dialer.status !== 'open') resolve(); else dialer.addEventListener('close', () => { resolve() }) })
    t.not(dialer.status, 'open', 'the sender sees its stream reset')
    const corrupt = await sendRaw(CONTROL_PROTOCOL, [Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01])])
    t.match(corrupt.err, { code: ErrorCode.PROTOCOL, message: /corrupt frame length prefix/ }, 'a runaway varint is a ProtocolError')
    await stillServes(t, b)
  })

  t.test('a 2 MiB non-Instantiate control frame is too large', async (t) => {
    const body = raw(Envelope, { version: 1, id: 1, leave: { reason: 'x'.repeat(2 * 1024 * 1024) } })
    const { err } = await sendRaw(CONTROL_PROTOCOL, [framed(body)])
    t.match(err, { name: 'FrameTooLargeError', message: /leave of \d+ bytes is over the 1048576-byte limit/ })
  })

  t.test('an unknown version is UnsupportedVersionError', async (t) => {
    const { err } = await sendRaw(CONTROL_PROTOCOL, [framed(raw(Envelope, { version: 2, id: 1, ack: {} }))])
    t.match(err, { name: 'UnsupportedVersionError', code: ErrorCode.UNSUPPORTED_VERSION, data: { version: 2 } })
    await stillServes(t, b)
  })

  t.test('fields out of range are ProtocolErrors naming the field', async (t) => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ jobReport: { jobId: 'j', state: 99 } }, /jobReport\.state: expected one of/],
      [{ jobReport: { jobId: 'j', state: 0 } }, /jobReport\.state/],
      [{ join: { group: 'g', roles: Array.from({ length: 17 }, (_, i) => `r${i}`) } }, /join\.roles: more than 16 entries/],
      [{ awaken: { jobId: '' } }, /awaken\.jobId: is required/],
      [{ awaken: { jobId: 'a'.repeat(300) } }, /awaken\.jobId: longer than 256/],
      [{ heartbeat: {} }, /heartbeat\.report: is required/],
      [{ heartbeat: { report: { load: -1 } } }, /heartbeat\.report\.load: must be at least 0/],
      [{ instantiate: { jobId: 'j', spec: Buffer.from('{"a":1}'), bundle: [{ path: '../etc/passwd' }] } }, /instantiate\.bundle\[0\]\.path/],
      [{ instantiate: { jobId: 'j', spec: Buffer.from('not json') } }, /instantiate\.spec: is not UTF-8 JSON/],
      [{ policyUpdate: { policyJson: '{' } }, /policyUpdate\.policyJson: is not valid JSON/],
      [{ error: { code: 'oops' } }, /error\.code: does not match/],
      [{ id: '9007199254740993', ack: {} }, /id: expected a uint64/],
      [{}, /no known body/]
    ]
    for (const [body, re] of cases) {
      const { err } = await sendRaw(CONTROL_PROTOCOL, [framed(raw(Envelope, { version: 1, id: 1, ...body }))])
      t.match(err, { name: 'ProtocolError', code: ErrorCode.PROTOCOL, message: re }, re.source)
    }
    await stillServes(t, b)
  })

  t.test('a stream that ends inside a frame is a ProtocolError', async (t) => {
    const { err } = await sendRaw(CONTROL_PROTOCOL, [encodeVarint(100), new Uint8Array(10)], true)
    t.match(err, { code: ErrorCode.PROTOCOL, message: /ended inside a frame/ })
  })

  t.test('queue: hello first, once, for the same job', async (t) => {
    const frame = { jobId: 'j1', port: 'p', kind: 1 }
    const noHello = await sendRaw(QUEUE_PROTOCOL, [framed(raw(QueueMessage, { frame }))])
    t.match(noHello.err, { code: ErrorCode.PROTOCOL, message: /first message must be a hello/ })
    const twice = await sendRaw(QUEUE_PROTOCOL, [framed(raw(QueueMessage, { hello: { version: 1, jobId: 'j1' } })), framed(raw(QueueMessage, { hello: { version: 1, jobId: 'j1' } }))])
    t.match(twice.err, { code: ErrorCode.PROTOCOL, message: /hello sent twice/ })
    const other = await sendRaw(QUEUE_PROTOCOL, [framed(raw(QueueMessage, { hello: { version: 1, jobId: 'j1' } })), framed(raw(QueueMessage, { frame: { ...frame, jobId: 'j2' } }))])
    t.match(other.err, { code: ErrorCode.PROTOCOL, message: /frame for job j2/ })
    const v2 = await sendRaw(QUEUE_PROTOCOL, [framed(raw(QueueMessage, { hello: { version: 2, jobId: 'j1' } }))])
    t.match(v2.err, { code: ErrorCode.UNSUPPORTED_VERSION })
    const big = await sendRaw(QUEUE_PROTOCOL, [encodeVarint(5 * 1024 * 1024)])
    t.match(big.err, { code: ErrorCode.FRAME_TOO_LARGE })
    const kind = await sendRaw(QUEUE_PROTOCOL, [framed(raw(QueueMessage, { hello: { version: 1, jobId: 'j1' } })), framed(raw(QueueMessage, { frame: { ...frame, kind: 7 } }))])
    t.match(kind.err, { code: ErrorCode.PROTOCOL, message: /frame\.kind: expected one of DATA\|CREDIT\|EOF\|ERROR, got 7/ })
  })
})
