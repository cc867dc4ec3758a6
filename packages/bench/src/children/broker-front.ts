// The broker side alone, over real SOAP: @mvm/broker with the super-peer's job operations
// (submission cache, WaitJob long polls) on 127.0.0.1, and stand-in nodes whose ranks report
// success as soon as they are dispatched. What it sustains is the ceiling the broker puts on
// jobs/s, whatever the peers cost.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createBroker, type Broker } from '@mvm/broker'
import { startSoapServer } from '@mvm/soap'
import { JobWaiters, SubmissionCache, brokerJobHandlers } from '@mvm/super-peer/internal'

const dataDir = mkdtempSync(join(tmpdir(), 'mvm-bench-front-'))
let broker: Broker | undefined
broker = createBroker({
  dataDir,
  dispatcher: {
    start: async (job) => {
      // the ranks "run" on the next turn, as a report from a node would arrive
      setImmediate(() => { for (let r = 0; r < job.size; r++) broker?.reportRank(job.id, { rank: r, exitCode: 0, output: job.size }) })
    },
    stop: async () => {}
  }
})

async function main (): Promise<void> {
  await broker!.start()
  // the lab's shape: two nodes of four slots
  broker!.updateNodes(['stand-in-1', 'stand-in-2'].map((peerId) => ({ peerId, group: 'lab', state: 'up' as const, labels: {}, totalSlots: 4, freeSlots: 4, freeMemoryMB: 1 << 20, load: 0 })))
  const waiters = new JobWaiters(broker!)
  const server = await startSoapServer({ services: { Broker: brokerJobHandlers(broker!, { ranksStarted: () => 0 }, { cache: new SubmissionCache(), waiters }) } })
  const bye = (): void => {
    waiters.close()
    void server.close().then(async () => { await broker?.stop() }).finally(() => { rmSync(dataDir, { recursive: true, force: true }); process.exit(0) })
  }
  process.on('SIGTERM', bye)
  process.on('disconnect', bye)
  process.stdout.write(JSON.stringify({ event: 'ready', url: server.baseUrl }) + '\n')
}

main().catch((err) => { process.stderr.write(String(err?.stack ?? err) + '\n'); rmSync(dataDir, { recursive: true, force: true }); process.exit(1) })
