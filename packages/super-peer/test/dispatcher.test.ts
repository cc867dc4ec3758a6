import t from 'tap'
import { ErrorCode, ProtocolError, SandboxError, UnavailableError, silentLogger, type MvmError } from '@mvm/core'
import type { CheckpointRecord, Job } from '@mvm/broker'
import { decodeInstance, type ControlBody, type ControlBodyInit, type ControlType, type RequestOptions, type RpcPeer } from '@mvm/wire'
import { controlDispatcher, type DispatchTarget } from '../src/dispatcher.js'
import { decodeStoredBundle, prepareSubmission, type Submission } from '../src/submission.js'

// ---- a fake of the structural RpcPeer: records every request, answers like a peer agent would ----

interface Sent { peer: string, body: ControlBodyInit, options: RequestOptions | undefined }
type Reply = (body: ControlBodyInit) => ControlBody | Promise<ControlBody>

const enc = new TextEncoder()
const dec = new TextDecoder()

/** What PeerAgent answers: Ack to awaken/terminate, InstantiateAck (with the ranks it runs) to instantiate. */
function agentReply (peer: string): Reply {
  return (body) => {
    if (body.type === 'instantiate') {
      const spec = decodeInstance(body.spec!)
      const ranks = spec.placement.flatMap((p, r) => p === peer ? [r] : [])
      return { type: 'instantiateAck', jobId: spec.jobId, ranks }
    }
    return { type: 'ack' }
  }
}

class FakePeer implements RpcPeer {
  readonly closed = new Promise<MvmError | undefined>(() => {})
  pending = 0
  constructor (readonly id: string, private readonly log: Sent[], public reply: Reply = agentReply(id)) {}
  get channel (): never { throw new Error('the dispatcher must not touch the raw channel') }
  async request (body: ControlBodyInit, options?: RequestOptions): Promise<ControlBody> {
    this.log.push({ peer: this.id, body, options })
    this.pending++
    try { return await this.reply(body) } finally { this.pending-- }
  }

  async notify (body: ControlBodyInit): Promise<void> { this.log.push({ peer: this.id, body, options: undefined }) }
  onRequest (): void {}
  async close (): Promise<void> {}
}

/** A group of fake peers; `channel(p)` is undefined for a peer not in `connected`. */
function group (connected: string[]): { sent: Sent[], peers: Map<string, FakePeer>, of: (type: ControlType, peer?: string) => Sent[] } {
  const sent: Sent[] = []
  const peers = new Map(connected.map((p) => [p, new FakePeer(p, sent)]))
  return { sent, peers, of: (type, peer) => sent.filter((s) => s.body.type === type && (peer === undefined || s.peer === peer)) }
}

const addrsOf = (p: string): string[] => [`/ip4/127.0.0.1/tcp/${4000 + p.charCodeAt(0)}`, `/ip4/10.0.0.1/tcp/${5000 + p.charCodeAt(0)}`]

// ---- a real submission: a bundle (profile + program file) through the broker's own preparation ----

const PROGRAM = 'export default async function (ctx) {\n  return ctx.rank * 2 // the bundle\'s own program\n}\n'
const PROFILE = [
  'apiVersion: mvm/v1',
  'kind: JobProfile',
  'metadata:',
  '  name: doubler',
  'spec:',
  '  program: src/double.ts',
  '  topology: { shape: ring, size: 3 }',
  '  processes: 3',
  '  params: { factor: 2 }',
  '  resources: { memoryMB: 128, cpu: 1, wallTimeSec: 60 }',
  '  queue: { type: priority, capacity: 8, encoding: raw }',
  ''
].join('\n')

async function submission (): Promise<Submission> {
  return await prepareSubmission({
    profileYaml: PROFILE,
    profileName: 'profile.yaml',
    params: [],
    bundle: [{ path: 'src/double.ts', content: enc.encode(PROGRAM) }],
    owner: 'alice'
  }, { owner: 'alice' })
}

function jobOf (s: Submission, id = 'job-1'): Job {
  return {
    id, parentId: null, name: s.request.name ?? 'job', owner: 'alice', state: 'scheduled', priority: 0, seq: 1,
    size: s.request.size, request: s.request, placement: null, reason: null, result: null, restarts: 0,
    bundleSha: 'sha', createdAt: 0, updatedAt: 0, startedAt: null, endedAt: null
  }
}

function target (g: ReturnType<typeof group>, s: Submission, checkpoints?: CheckpointRecord[]): DispatchTarget & { checkpointReads: string[] } {
  const checkpointReads: string[] = []
  return {
    checkpointReads,
    channel: (p) => g.peers.get(p),
    addresses: addrsOf,
    bundle: () => decodeStoredBundle(s.bundle),
    ...(checkpoints === undefined ? {} : { checkpoints: (id: string) => { checkpointReads.push(id); return checkpoints } })
  }
}

const options = (): { signal: AbortSignal, resume: boolean } => ({ signal: new AbortController().signal, resume: false })

t.test('start: every distinct peer is awakened, then instantiated with the encoded instance', async (t) => {
  const s = await submission()
  const g = group(['A', 'B'])
  const d = controlDispatcher(target(g, s), silentLogger())
  const opts = options()
  await d.start(jobOf(s), ['A', 'B', 'A'], opts)

  t.same(g.sent.map((x) => `${x.peer}:${x.body.type}`).sort(), ['A:awaken', 'A:instantiate', 'B:awaken', 'B:instantiate'], 'one awaken and one instantiate per distinct peer, nothing else')
  for (const p of ['A', 'B']) {
    const mine = g.sent.filter((x) => x.peer === p)
    t.same(mine.map((x) => x.body.type), ['awaken', 'instantiate'], `${p}: awaken strictly before instantiate`)
    t.same(mine[0]!.body, { type: 'awaken', jobId: 'job-1' }, `${p}: awaken names the job`)
    t.equal(mine[0]!.options?.signal, opts.signal, `${p}: awaken carries the broker's signal`)
    t.equal(mine[0]!.options?.timeoutMs, 10_000)
    t.equal(mine[1]!.options?.signal, opts.signal, `${p}: instantiate carries the broker's signal`)
    t.equal(mine[1]!.options?.timeoutMs, 120_000, `${p}: instantiate may take long (compile, sandbox start)`)
  }

  const inst = g.of('instantiate', 'A')[0]!.body as Extract<ControlBodyInit, { type: 'instantiate' }>
  t.equal(inst.jobId, 'job-1')
  const spec = decodeInstance(inst.spec!)
  t.equal(spec.jobId, 'job-1')
  t.same(spec.placement, ['A', 'B', 'A'], 'the whole placement, rank order kept')
  t.same(spec.addresses, { A: addrsOf('A'), B: addrsOf('B') }, 'listen addresses of every placed peer, each once')
  t.equal(spec.resume, false)
  t.notOk('restored' in spec, 'no restored states on a fresh start')
  // the program and everything else come from the submitted bundle, via prepareSubmission's template
  t.equal(spec.program.source, PROGRAM, 'program source is the bundle file\'s text')
  t.equal(spec.program.language, 'ts')
  t.equal(spec.program.path, 'src/double.ts', 'program path relative to the bundle, not the broker\'s temp dir')
  t.equal(spec.owner, 'alice')
  t.equal(spec.name, 'doubler')
  t.same(spec.params, { factor: 2 })
  t.same(spec.resources, { memoryMB: 128, wallTimeSec: 60 })
  t.same(spec.queue, { type: 'priority', capacity: 8, encoding: 'raw' })
  t.equal(spec.graph.size, 3, 'the ring topology of the profile')

  const bSpec = decodeInstance((g.of('instantiate', 'B')[0]!.body as Extract<ControlBodyInit, { type: 'instantiate' }>).spec!)
  t.same(bSpec, spec, 'without checkpoints every peer gets the same spec')

  // the bundle files travel with Instantiate, as stored (profile + program)
  const files = (inst.bundle ?? []).map((f) => [f.path, dec.decode(f.content as Uint8Array)])
  t.same(Object.fromEntries(files), { 'src/double.ts': PROGRAM, 'profile.yaml': PROFILE }, 'Instantiate carries the stored bundle')
})

t.test('start: a peer that is not connected fails the dispatch with E_UNAVAILABLE and the others are told to terminate', async (t) => {
  const s = await submission()
  const g = group(['A'])
  const d = controlDispatcher(target(g, s), silentLogger())
  const err = await d.start(jobOf(s), ['A', 'C', 'A'], options()).then(() => undefined, (e: unknown) => e)
  t.type(err, UnavailableError)
  t.equal((err as MvmError).code, ErrorCode.UNAVAILABLE)
  t.equal((err as MvmError).code, 'E_UNAVAILABLE', 'the stable code string')
  t.match((err as Error).message, /peer C is not connected/)
  t.same(g.of('terminate', 'A').map((x) => x.body), [{ type: 'terminate', jobId: 'job-1', reason: 'dispatch failed' }], 'the connected peer is told to terminate')
})

t.test('start: a job without an instance template is refused before any peer is contacted', async (t) => {
  const s = await submission()
  const g = group(['A'])
  const d = controlDispatcher(target(g, s), silentLogger())
  const job = jobOf(s)
  const { instance: _instance, ...rest } = job.request
  const err = await d.start({ ...job, request: rest }, ['A'], options()).then(() => undefined, (e: unknown) => e)
  t.type(err, UnavailableError)
  t.equal((err as MvmError).code, 'E_UNAVAILABLE')
  t.match((err as Error).message, /no instance template/)
  t.same(g.sent, [], 'nothing sent')
})

t.test('start: a peer refusing Instantiate rolls the whole dispatch back with that typed error', async (t) => {
  const s = await submission()
  const g = group(['A', 'B'])
  const agent = agentReply('B')
  g.peers.get('B')!.reply = async (body) => {
    if (body.type === 'instantiate') throw new SandboxError('no sandbox for you')
    return await agent(body)
  }
  const d = controlDispatcher(target(g, s), silentLogger())
  const err = await d.start(jobOf(s), ['A', 'B'], options()).then(() => undefined, (e: unknown) => e)
  t.type(err, SandboxError, 'the peer\'s error, not a generic one')
  t.equal((err as MvmError).code, 'E_SANDBOX')
  t.same(g.of('terminate').map((x) => x.peer).sort(), ['A', 'B'], 'every placed peer is told to terminate')
  t.ok(g.of('terminate').every((x) => (x.body as { reason?: string }).reason === 'dispatch failed'))
})

t.test('start: a wrong reply type is a protocol error', async (t) => {
  const s = await submission()
  const g = group(['A'])
  g.peers.get('A')!.reply = () => ({ type: 'ack' }) // ack where an instantiateAck is due
  const d = controlDispatcher(target(g, s), silentLogger())
  const err = await d.start(jobOf(s), ['A'], options()).then(() => undefined, (e: unknown) => e)
  t.type(err, ProtocolError)
  t.equal((err as MvmError).code, 'E_PROTOCOL')
  t.match((err as Error).message, /expected a instantiateAck reply, got ack/)
  t.equal(g.of('terminate', 'A').length, 1, 'the peer that got the instantiate is told to terminate')
})

// a peer still being awakened when another peer fails must not start ranks after its Terminate
// (was a bug: Promise.all terminated every peer while the slow one's awaken was in flight, and
// its Instantiate followed the Terminate)
t.test('start: no peer is sent Instantiate after it was told to terminate', async (t) => {
  const s = await submission()
  const g = group(['A'])
  let releaseAwaken!: () => void
  const gate = new Promise<void>((resolve) => { releaseAwaken = resolve })
  const agent = agentReply('A')
  g.peers.get('A')!.reply = async (body) => {
    if (body.type === 'awaken') await gate // A is slow to load its runtime
    return await agent(body)
  }
  const d = controlDispatcher(target(g, s), silentLogger())
  const started = d.start(jobOf(s), ['A', 'C'], options()).then(() => undefined, (e: unknown) => e)
  // C is not connected: the dispatch fails while A is still in awaken
  const deadline = Date.now() + 5000
  while (g.of('terminate', 'A').length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
  releaseAwaken()
  t.type(await started, UnavailableError)
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
  const order = g.sent.filter((x) => x.peer === 'A').map((x) => x.body.type)
  const term = order.indexOf('terminate')
  t.ok(term >= 0, 'A is told to terminate')
  t.ok(!order.slice(term + 1).includes('instantiate'), `no Instantiate after Terminate; A's requests in order: ${order.join(', ')}`)
})

t.test('start: a peer refusing Awaken while another is still in Awaken: Terminate waits for it, no Instantiate at all', async (t) => {
  const s = await submission()
  const g = group(['A', 'B'])
  let releaseAwaken!: () => void
  const gate = new Promise<void>((resolve) => { releaseAwaken = resolve })
  const agentA = agentReply('A')
  g.peers.get('A')!.reply = async (body) => {
    if (body.type === 'awaken') await gate
    return await agentA(body)
  }
  const agentB = agentReply('B')
  g.peers.get('B')!.reply = async (body) => {
    if (body.type === 'awaken') throw new SandboxError('B cannot load its runtime')
    return await agentB(body)
  }
  const d = controlDispatcher(target(g, s), silentLogger())
  const started = d.start(jobOf(s), ['A', 'B'], options()).then(() => undefined, (e: unknown) => e)
  const deadline = Date.now() + 5000
  while (g.of('awaken').length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
  t.same(g.of('terminate'), [], 'nobody is told to terminate while A\'s Awaken is in flight')
  releaseAwaken()
  t.type(await started, SandboxError, 'B\'s error fails the dispatch')
  t.same(g.of('instantiate'), [], 'no peer is instantiated when one could not be awakened')
  t.same(g.of('terminate').map((x) => x.peer).sort(), ['A', 'B'], 'then every placed peer is told to terminate')
})

t.test('start: a peer awake on its session is not awakened again; a new session is', async (t) => {
  const s = await submission()
  const g = group(['A', 'B'])
  const tg = target(g, s)
  const d = controlDispatcher(tg, silentLogger())
  await d.start(jobOf(s, 'job-1'), ['A', 'B'], options())
  await d.start(jobOf(s, 'job-2'), ['A', 'B'], options())
  t.same(g.sent.filter((x) => (x.body as { jobId?: string }).jobId === 'job-2').map((x) => `${x.peer}:${x.body.type}`).sort(), ['A:instantiate', 'B:instantiate'], 'the warm path: one Instantiate per peer, no Awaken')
  // B reconnects: a new control session
  g.peers.set('B', new FakePeer('B', g.sent))
  await d.start(jobOf(s, 'job-3'), ['A', 'B'], options())
  t.same(g.sent.filter((x) => (x.body as { jobId?: string }).jobId === 'job-3').map((x) => `${x.peer}:${x.body.type}`).sort(), ['A:instantiate', 'B:awaken', 'B:instantiate'], 'the new session is awakened first')
})

// A peer with its runtime loaded must not start ranks while a peer on its first job is still in
// Awaken, i.e. not yet listening on /mvm/queue: the first frames to it would be dropped and the
// job hang (was a bug, seen in test/jobs-policy.test.ts with a 6-rank job over a fresh and two
// warm peers).
t.test('start: no peer is instantiated before every peer acknowledged Awaken', async (t) => {
  const s = await submission()
  const g = group(['A', 'B'])
  let releaseB!: () => void
  const gate = new Promise<void>((resolve) => { releaseB = resolve })
  for (const p of ['A', 'B']) {
    const agent = agentReply(p)
    g.peers.get(p)!.reply = async (body) => {
      if (p === 'B' && body.type === 'awaken') await gate // B loads its runtime: slow
      return await agent(body)
    }
  }
  const d = controlDispatcher(target(g, s), silentLogger())
  const started = d.start(jobOf(s), ['A', 'B'], options())
  const deadline = Date.now() + 2000
  while (g.of('awaken').length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
  t.equal(g.of('awaken').length, 2, 'both peers are awakened')
  t.same(g.of('instantiate').map((x) => x.peer), [], 'no Instantiate while B is still in Awaken')
  releaseB()
  await started
  t.same(g.of('instantiate').map((x) => x.peer).sort(), ['A', 'B'], 'both instantiated once B is awake')
})

t.test('start with resume: each peer gets only the checkpoints of its own ranks', async (t) => {
  const s = await submission()
  const g = group(['A', 'B', 'C'])
  const cp = (rank: number, state: unknown): CheckpointRecord => ({ rank, attempt: 1, seq: 3, stateJson: JSON.stringify(state), peerId: null, at: 0 })
  const saved = [cp(0, { i: 10 }), cp(1, { i: 11, deep: [1, 2] }), cp(2, 'two')]
  const tg = target(g, s, saved)
  const d = controlDispatcher(tg, silentLogger())
  // rank 3 (on C) never checkpointed
  await d.start({ ...jobOf(s), size: 4 }, ['A', 'B', 'A', 'C'], { signal: new AbortController().signal, resume: true })
  t.same(tg.checkpointReads, ['job-1'], 'the job\'s checkpoints are read once')
  const specOf = (p: string): ReturnType<typeof decodeInstance> => decodeInstance((g.of('instantiate', p)[0]!.body as Extract<ControlBodyInit, { type: 'instantiate' }>).spec!)
  t.same(specOf('A').restored, { 0: { i: 10 }, 2: 'two' }, 'A runs ranks 0 and 2: their states only')
  t.same(specOf('B').restored, { 1: { i: 11, deep: [1, 2] } }, 'B runs rank 1: its state only')
  t.notOk('restored' in specOf('C'), 'C has no checkpointed rank: no restored field')
  for (const p of ['A', 'B', 'C']) {
    t.equal(specOf(p).resume, true, `${p}: resume is set`)
    t.same(specOf(p).placement, ['A', 'B', 'A', 'C'])
  }
})

t.test('start without resume never reads or ships checkpoints', async (t) => {
  const s = await submission()
  const g = group(['A'])
  const tg = target(g, s, [{ rank: 0, attempt: 0, seq: 1, stateJson: '{"x":1}', peerId: 'A', at: 0 }])
  await controlDispatcher(tg, silentLogger()).start(jobOf(s), ['A'], options())
  t.same(tg.checkpointReads, [])
  const spec = decodeInstance((g.of('instantiate', 'A')[0]!.body as Extract<ControlBodyInit, { type: 'instantiate' }>).spec!)
  t.notOk('restored' in spec)
  t.equal(spec.resume, false)
})

t.test('stop: Terminate with the reason to each distinct connected peer; failures and absent peers do not fail it', async (t) => {
  const s = await submission()
  const g = group(['A', 'B', 'D'])
  g.peers.get('B')!.reply = () => { throw new UnavailableError('B went away') }
  const d = controlDispatcher(target(g, s), silentLogger())
  await d.stop(jobOf(s), ['A', 'B', 'A', 'C', 'D'], 'cancelled by alice')
  t.same(g.sent.map((x) => x.peer).sort(), ['A', 'B', 'D'], 'one Terminate per connected peer; C (not connected) skipped')
  for (const x of g.sent) {
    t.same(x.body, { type: 'terminate', jobId: 'job-1', reason: 'cancelled by alice' })
    t.equal(x.options?.timeoutMs, 10_000)
  }
  t.same(g.of('awaken'), [])
})
