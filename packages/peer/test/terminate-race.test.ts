import t from 'tap'
import { silentLogger } from '@mvm/core'
import { expandTopology } from '@mvm/model'
import { encodeInstance, type ControlBody, type ControlBodyInit, type ControlType } from '@mvm/wire'
import { createPeerRole, type PeerHost } from '@mvm/peer'

// A Terminate that overtakes an Instantiate still in progress (first job: the runtime is still
// loading) must win: the instantiation fails and no rank of that job ever runs here.

type AnyHandler = (body: ControlBody, ctx: { peerId: string, signal: AbortSignal }) => ControlBodyInit | undefined | Promise<ControlBodyInit | undefined>

const SELF = '12D3KooWPeerUnderTest'

function host (): PeerHost & { deliver: (b: ControlBody) => Promise<ControlBodyInit | undefined>, added: string[] } {
  const handlers = new Map<ControlType, AnyHandler>()
  const added: string[] = []
  return {
    peerId: SELF,
    added,
    control: {
      handle: (type, handler) => { handlers.set(type, handler as unknown as AnyHandler); return () => { handlers.delete(type) } },
      toSuperPeer: () => undefined
    },
    processes: { add: (p) => { added.push(`${p.jobId}/${p.rank}`) }, remove: () => false, dropJob: () => 0 },
    monitor: { setProbe: () => {} },
    streams: { handle: async () => {}, unhandle: async () => {}, dial: async () => { throw new Error('no streams in this test') } },
    extendSoap: () => {},
    deliver: async (body) => await handlers.get(body.type)!(body, { peerId: 'sp', signal: new AbortController().signal })
  }
}

const SLEEPER = "import { job } from '@mvm/job'\nexport default job(async () => { await new Promise((r) => setTimeout(r, 30000)); return 1 })\n"

t.test('Terminate during a first Instantiate: the instantiation fails and nothing runs', async (t) => {
  const h = host()
  const role = createPeerRole(h, { dataDir: t.testdir(), logger: silentLogger() })
  await role.start()
  t.teardown(async () => { await role.stop() })
  const spec = encodeInstance({
    jobId: 'race-1', owner: 'alice', name: 'sleeper', program: { source: SLEEPER, language: 'js' },
    graph: expandTopology({ shape: 'line', size: 2 } as never), placement: [SELF, SELF], addresses: { [SELF]: [] },
    params: {}, resources: { memoryMB: 256, wallTimeSec: 60 }, queue: { type: 'fifo', capacity: 4, encoding: 'json' }, resume: false
  })
  const inst = h.deliver({ type: 'instantiate', jobId: 'race-1', spec, bundle: [] } as unknown as ControlBody).then(() => undefined, (e: unknown) => e)
  // the Terminate arrives while the runtime is still being loaded for this first job
  await h.deliver({ type: 'terminate', jobId: 'race-1', reason: 'dispatch failed' } as unknown as ControlBody)
  const err = await inst
  t.ok(err instanceof Error, 'the overtaken Instantiate fails')
  t.match((err as Error).message, /terminated|abort/i)
  t.same(h.added, [], 'no rank of the job was ever listed as running')
})
