// The footprint/decision baseline: a plain Node process holding the same job requests in a Map
// and choosing the next job with a linear scan (highest priority, then oldest, that fits).
interface Req { name: string, owner: string, priority: number, size: number, resources: { memoryMB: number }, seq: number }

const count = Number(process.argv[2] ?? '10000')
const jobs = new Map<string, Req>()
for (let i = 0; i < count; i++) {
  jobs.set(`job-${i}`, { name: `queued-${i}`, owner: 'bench', priority: i % 7, size: 2, resources: { memoryMB: 64 }, seq: i })
}
let free = 0
process.on('message', (m: { id: string, cmd: string }) => {
  if (m.cmd !== 'decide') return
  free += 2
  const t0 = process.hrtime.bigint()
  let best: [string, Req] | undefined
  for (const e of jobs) {
    const r = e[1]
    if (r.size > free) continue
    if (best === undefined || r.priority > best[1].priority || (r.priority === best[1].priority && r.seq < best[1].seq)) best = e
  }
  if (best !== undefined) { jobs.delete(best[0]); free -= best[1].size }
  const us = Number(process.hrtime.bigint() - t0) / 1000
  process.send!({ id: m.id, value: us })
})
process.on('disconnect', () => { process.exit(0) })
process.stdout.write(JSON.stringify({ event: 'ready', queued: jobs.size }) + '\n')
