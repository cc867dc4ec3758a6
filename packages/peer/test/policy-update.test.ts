import t, { type Test } from 'tap'
import { resolve } from 'node:path'
import { ConfigError, silentLogger } from '@mvm/core'
import { loadPolicy, mergePolicies, type EffectivePolicy } from '@mvm/model'
import type { ControlBody, ControlBodyInit, ControlType } from '@mvm/wire'
import { createPeerRole, type PeerHost } from '@mvm/peer'

// ---- a fake of the structural PeerHost: records handlers by type like the node's ControlRouter ----

type AnyHandler = (body: ControlBody, ctx: { peerId: string, signal: AbortSignal }) => ControlBodyInit | undefined | Promise<ControlBodyInit | undefined>

interface FakeHost extends PeerHost {
  handlers: Map<ControlType, AnyHandler>
  /** Every handle() call, and every call of the unhandle functions it returned, in order. */
  registered: ControlType[]
  unregistered: ControlType[]
  soapExtensions: number
  streamCalls: string[]
  /** Sends `body` to the registered handler for its type, as a control message from the super-peer. */
  deliver: (body: ControlBody) => Promise<ControlBodyInit | undefined>
}

function fakeHost (): FakeHost {
  const h: FakeHost = {
    peerId: '12D3KooWPeerUnderTest',
    handlers: new Map(),
    registered: [],
    unregistered: [],
    soapExtensions: 0,
    streamCalls: [],
    control: {
      handle: (type, handler) => {
        // the real ControlRouter refuses a second handler for a type
        if (h.handlers.has(type)) throw new ConfigError(`a control handler for ${type} is already registered`)
        const fn = handler as unknown as AnyHandler
        h.handlers.set(type, fn)
        h.registered.push(type)
        return () => {
          h.unregistered.push(type)
          if (h.handlers.get(type) === fn) h.handlers.delete(type)
        }
      },
      toSuperPeer: () => undefined
    },
    processes: { add: () => {}, remove: () => false, dropJob: () => 0 },
    monitor: { setProbe: () => {} },
    streams: {
      handle: async (protocol) => { h.streamCalls.push(`handle ${protocol}`) },
      unhandle: async (protocol) => { h.streamCalls.push(`unhandle ${protocol}`) },
      dial: async () => { throw new Error('no streams in this test') }
    },
    extendSoap: () => { h.soapExtensions++ },
    deliver: async (body) => {
      const fn = h.handlers.get(body.type)
      if (fn === undefined) throw new Error(`no handler for ${body.type}`)
      return await fn(body, { peerId: '12D3KooWSuperPeer', signal: new AbortController().signal })
    }
  }
  return h
}

const update = (policyJson: string): ControlBody => ({ type: 'policyUpdate', policyJson })
const namespace5 = JSON.stringify({ version: 2, spec: { sandbox: { driver: 'namespace', poolSize: 5 } } })

function role (t: Test, init: { policy?: EffectivePolicy } = {}): { host: FakeHost, peer: ReturnType<typeof createPeerRole> } {
  const host = fakeHost()
  const peer = createPeerRole(host, { dataDir: t.testdir(), logger: silentLogger(), ...init })
  t.teardown(async () => { await peer.stop() })
  return { host, peer }
}

const NODE_POLICY = resolve(import.meta.dirname, '..', '..', '..', 'policies', 'node.yaml')

t.test('a domain policyUpdate sets the sandbox driver and pool of the peer', async (t) => {
  const { host, peer } = role(t)
  t.equal(peer.agent.settings().driver, undefined, 'no policy of its own: no driver chosen yet')
  t.equal(peer.agent.settings().poolSize, undefined)
  await peer.start()
  t.ok(host.handlers.has('policyUpdate'), 'the role handles policyUpdate once started')
  const reply = await host.deliver(update(namespace5))
  t.equal(reply, undefined, 'acknowledged (Ack)')
  t.equal(peer.agent.settings().driver, 'namespace', 'driver adopted')
  t.equal(peer.agent.settings().poolSize, 5, 'pool size adopted')
  t.equal(peer.agent.settings().ownPolicy, false)

  // the next update wins
  await host.deliver(update(JSON.stringify({ version: 3, spec: { sandbox: { driver: 'process', poolSize: 0 } } })))
  t.equal(peer.agent.settings().driver, 'process')
  t.equal(peer.agent.settings().poolSize, 0, 'a pool of 0 is a setting too')
})

t.test('what the super-peer really sends (the whole merged spec) is adopted the same way', async (t) => {
  const { host, peer } = role(t)
  await peer.start()
  const eff = mergePolicies([await loadPolicy(NODE_POLICY, { params: { poolSize: 4 } })])
  // PolicyControl.policyJson(): { version, spec }
  await host.deliver(update(JSON.stringify({ version: 7, spec: eff.spec })))
  t.equal(peer.agent.settings().driver, 'process')
  t.equal(peer.agent.settings().poolSize, 4)
})

t.test('a peer started with its own policy keeps its sandbox settings', async (t) => {
  const own = mergePolicies([await loadPolicy(NODE_POLICY, { params: { poolSize: 3 } })])
  const { host, peer } = role(t, { policy: own })
  await peer.start()
  t.equal(peer.agent.settings().ownPolicy, true)
  t.equal(peer.agent.settings().driver, 'process', 'from node.yaml')
  t.equal(peer.agent.settings().poolSize, 3, 'from node.yaml with poolSize=3')
  t.equal(peer.agent.settings().poolMemoryMB, 256, 'the merged sandbox.defaults.memoryMB')
  const reply = await host.deliver(update(namespace5))
  t.equal(reply, undefined, 'still acknowledged')
  t.equal(peer.agent.settings().driver, 'process', 'the domain update is NOT adopted')
  t.equal(peer.agent.settings().poolSize, 3)
})

t.test('malformed updates are ignored without throwing', async (t) => {
  const { host, peer } = role(t)
  await peer.start()
  await host.deliver(update(namespace5))
  const cases = ['{not json', '', '[1,2]', '42', '"text"', JSON.stringify({ version: 9 }), JSON.stringify({ version: 9, spec: {} }), JSON.stringify({ version: 9, spec: null }), JSON.stringify({ version: 9, spec: { scheduling: { strategy: 'pack' } } })]
  for (const json of cases) {
    const r = await host.deliver(update(json)).then((v) => ({ ok: true as const, v }), (e: unknown) => ({ ok: false as const, e }))
    t.ok(r.ok, `${JSON.stringify(json)}: no error${r.ok ? '' : `: ${String(r.e)}`}`)
    t.equal(peer.agent.settings().driver, 'namespace', `${JSON.stringify(json)}: driver unchanged`)
    t.equal(peer.agent.settings().poolSize, 5, `${JSON.stringify(json)}: pool unchanged`)
  }
})

t.test('JSON null and a null sandbox are ignored too', async (t) => {
  const { host, peer } = role(t)
  await peer.start()
  await host.deliver(update(namespace5))
  for (const json of ['null', JSON.stringify({ version: 9, spec: { sandbox: null } })]) {
    const r = await host.deliver(update(json)).then(() => undefined, (e: unknown) => e)
    t.equal(r, undefined, `${json}: no error${r === undefined ? '' : `: ${String(r)}`}`)
    t.equal(peer.agent.settings().driver, 'namespace', `${json}: driver unchanged`)
  }
})

t.test('start() twice registers each handler once; stop() unregisters all and is idempotent', async (t) => {
  const { host, peer } = role(t)
  t.notOk(peer.isStarted())
  await peer.start()
  await peer.start()
  t.ok(peer.isStarted())
  const expected: ControlType[] = ['awaken', 'instantiate', 'terminate', 'policyUpdate', 'cutRequest']
  t.same([...host.registered].sort(), [...expected].sort(), 'each handler registered exactly once')
  t.equal(host.soapExtensions, 1, 'Node.GetLogs added once')
  t.same(host.streamCalls, [], 'no queue protocol before the first job (nothing loaded yet)')

  await peer.stop()
  t.notOk(peer.isStarted())
  t.same([...host.unregistered].sort(), [...expected].sort(), 'every unhandle function returned by handle() was called')
  t.equal(host.handlers.size, 0, 'no handler left on the node')
  await peer.stop()
  t.equal(host.unregistered.length, expected.length, 'a second stop() unregisters nothing more')

  // once stopped, an update cannot reach the agent at all
  await t.rejects(host.deliver(update(namespace5)), /no handler for policyUpdate/)
  t.equal(peer.agent.settings().driver, undefined)

  // a stopped role can start again (a new lifetime) and handles updates again
  await peer.start()
  t.equal(host.handlers.size, expected.length, 'handlers registered again')
  await host.deliver(update(namespace5))
  t.equal(peer.agent.settings().driver, 'namespace')
})

t.test('stop() before start() is a no-op', async (t) => {
  const { host, peer } = role(t)
  await peer.stop()
  t.same(host.registered, [])
  t.same(host.unregistered, [])
  t.notOk(peer.isStarted())
})
