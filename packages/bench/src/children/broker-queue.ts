// The toolkit side of the footprint/decision rows: @mvm/broker in-process with N queued jobs
// and a dispatcher that never completes, so every placed job keeps its slots.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createBroker } from '@mvm/broker'

const count = Number(process.argv[2] ?? '10000')
const dataDir = mkdtempSync(join(tmpdir(), 'mvm-bench-broker-'))
const never = new Promise<void>(() => {})
const broker = createBroker({
  dataDir,
  dispatcher: { start: async () => { await never }, stop: async () => {} },
  strategy: 'least-loaded'
})
let nodes = 0

/**
 * A super-peer decides in a long-running, JIT-warm process: warm the same code on a broker of
 * its own first, so the figure is the decision and not V8 compiling it.
 */
async function warmUp (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mvm-bench-warm-'))
  const warm = createBroker({ dataDir: dir, dispatcher: { start: async () => { await never }, stop: async () => {} }, strategy: 'least-loaded' })
  try {
    await warm.start()
    for (let round = 0; round < 4; round++) {
      warm.submitMany(Array.from({ length: 500 }, (_, k) => ({ request: { name: `warm-${k}`, priority: k % 7, size: 2, resources: { memoryMB: 64 } } })))
      warm.updateNodes([{ peerId: `warm-${round}`, group: 'lab', state: 'up', labels: {}, totalSlots: 1000, freeSlots: 1000, freeMemoryMB: 1 << 20, load: 0 }])
      warm.schedule()
      await new Promise((resolve) => setImmediate(resolve))
    }
  } finally {
    await warm.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function main (): Promise<void> {
  if (process.argv[3] === 'warm') await warmUp()
  await broker.start()
  // in batches: one transaction per 1,000 jobs, so 100,000 queue in seconds
  for (let i = 0; i < count; i += 1000) {
    const n = Math.min(1000, count - i)
    broker.submitMany(Array.from({ length: n }, (_, k) => ({ request: { name: `queued-${i + k}`, owner: 'bench', priority: (i + k) % 7, size: 2, resources: { memoryMB: 64 } } })))
  }
  process.on('message', (m: { id: string, cmd: string }) => {
    if (m.cmd !== 'decide') return
    // a fresh node with room for exactly one job: each decision places one job out of the queue
    nodes++
    const views = Array.from({ length: nodes }, (_, i) => ({
      peerId: `peer-${i}`, group: 'lab', state: 'up' as const, labels: {}, totalSlots: 2, freeSlots: i === nodes - 1 ? 2 : 0, freeMemoryMB: 4096, load: 0
    }))
    const t0 = process.hrtime.bigint()
    broker.updateNodes(views)
    const placed = broker.schedule()
    // the state change it made is group-committed on the next turn, outside the decision
    const us = Number(process.hrtime.bigint() - t0) / 1000
    process.send!(placed >= 0 ? { id: m.id, value: us } : { id: m.id, error: 'nothing placed' })
  })
  process.stdout.write(JSON.stringify({ event: 'ready', queued: broker.list({ state: 'queued', limit: count + 1 }).length }) + '\n')
}

const bye = (): void => { void broker.stop().finally(() => { rmSync(dataDir, { recursive: true, force: true }); process.exit(0) }) }
process.on('disconnect', bye)
process.on('SIGTERM', bye)
main().catch((err) => { process.stderr.write(String(err?.stack ?? err) + '\n'); rmSync(dataDir, { recursive: true, force: true }); process.exit(1) })
