import { startLab } from './dist/toolkit/lab.js'
import { benchJob, runJob } from './dist/toolkit/submit.js'
import { timedPool } from './dist/baselines/helpers.js'
const root = new URL('../../', import.meta.url).pathname
const lab = await startLab({ root, peers: 2, slots: 4 })
console.log('peers', lab.peers.map((p) => p.pid), 'sp', lab.superPeer.pid)
const sig = new AbortController().signal
try {
  const req = await benchJob('trivial')
  const n = 300
  const ms = await timedPool(n, 32, async () => { await runJob(lab.broker, req, sig, 600000, 5 * 32) })
  console.log('jobs/s', (n / (ms / 1000)).toFixed(1))
} finally { await lab.stop() }
