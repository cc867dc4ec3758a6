import t from 'tap'
import { createBroker, type SchedulingStrategy } from '@mvm/broker'
import { createStrategyRegistry, pack } from '@mvm/broker/internal'
import { node, TestDispatcher } from './fixtures/helpers.js'

const N = 10_000

t.test(`${N} queued jobs: submit all, then one scheduling pass`, async (t) => {
  const registry = createStrategyRegistry()
  let decisions = 0
  registry.register('counting-pack', () => {
    const inner = pack()
    const s: SchedulingStrategy = { name: 'counting-pack', place: (job, c) => { decisions++; return inner.place(job, c) } }
    return s
  })
  const dispatcher = new TestDispatcher()
  dispatcher.mode = 'manual'
  const broker = createBroker({ dataDir: t.testdir(), dispatcher, strategy: 'counting-pack' }, registry)
  await broker.start()
  t.teardown(() => broker.stop())

  // 10,000 jobs that cannot fit (50 ranks; the cluster has 40 slots), then one that can
  for (let i = 0; i < N; i++) broker.submit({ name: `big-${i}`, size: 50, priority: i % 3, resources: { memoryMB: 64 } })
  const small = broker.submit({ name: 'small', size: 2, resources: { memoryMB: 64 } }).jobId
  t.equal(broker.list({ state: 'queued', limit: N + 10 }).length, N, 'all queued (list returns at most 10,000)')

  broker.updateNodes(Array.from({ length: 10 }, (_, i) => node(`p${String(i).padStart(2, '0')}`, { totalSlots: 4, freeSlots: 4 })))
  decisions = 0
  const placed = broker.schedule()
  t.equal(placed, 1, 'one pass walks past 10,000 jobs that cannot fit and backfills the small one')
  t.equal(broker.get(small).state, 'scheduled')
  t.ok(decisions <= 3, `the strategy was asked ${decisions} times, not once per queued job`)

  // now 10,000 small jobs into 40 slots: the pass stops when the cluster is full
  for (let i = 0; i < N; i++) broker.submit({ name: `s-${i}`, size: 1 })
  const second = broker.schedule()
  t.equal(second, 38, 'exactly the free slots were filled (40 minus the 2 held by "small")')
  t.equal(broker.list({ state: 'scheduled', limit: 100 }).length, 39)
  t.equal(dispatcher.starts.length, 39)
})
