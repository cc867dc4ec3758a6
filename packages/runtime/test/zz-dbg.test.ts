import t from 'tap'
import { expandTopology } from '@mvm/model'
import { cluster, profileSource, run } from './fixtures.js'
t.test('p', async (t) => {
  const c = cluster(t)
  const lines = ['The cat and the Hat', 'A cat of THE world; cat!', 'hat trick']
  const res = await run(c, { source: await profileSource('pipeline'), graph: expandTopology({ shape: 'line', size: 4, directed: true } as never), placement: ['A','B','B','B'], params: { lines }, wallTimeSec: 5 })
  console.log(JSON.stringify(res.map(r => r.error?.message ?? r.result)))
})
