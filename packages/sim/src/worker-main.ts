import type { ControlTraffic } from '@mvm/node'
import { Community, type CommunityInit, type SimNode } from './community.js'
import { cheapErrorStacks, roomyYoungGeneration } from './heap.js'
import { runJobs } from './jobs.js'
import type { WorkerRequest, WorkerRates, WorkerStatus } from './workers.js'

/**
 * One process of a community split over several (`mvm sim --workers`): it runs the groups it is
 * given (their super-peers and peers, over the memory transport; the super-peers also on TCP for
 * child super-peers in other processes) and answers its parent's requests over the IPC channel.
 */
roomyYoungGeneration()
cheapErrorStacks()

let c: Community | undefined
let mark: { at: number, before: Map<SimNode, ControlTraffic> } | undefined

function need (): Community {
  if (c === undefined) throw new Error('the worker has not started its groups')
  return c
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)
const moved = (t: ControlTraffic): { m: number, b: number } => ({ m: t.msgsIn + t.msgsOut, b: t.bytesIn + t.bytesOut })

async function handle (req: WorkerRequest): Promise<unknown> {
  switch (req.op) {
    case 'start': {
      c = new Community(req.init as CommunityInit)
      await c.startServices(req.timeoutMs)
      return undefined
    }
    case 'add': { await need().addPeers(req.count); return undefined }
    case 'status': {
      const k = need()
      const m = process.memoryUsage()
      const out: WorkerStatus = { up: sum(k.upByGroup()), want: sum(k.expectedByGroup()), rssMB: Math.round(m.rss / 2 ** 20), heapUsedMB: Math.round(m.heapUsed / 2 ** 20), nodes: k.all().length }
      if (req.rootSees === true && k.here[0] === 0) out.rootSees = k.rootSees()
      return out
    }
    case 'mark': { mark = { at: Date.now(), before: need().traffic() }; return undefined }
    case 'measure': {
      const k = need()
      if (mark === undefined) throw new Error('measure before mark')
      const after = k.traffic()
      const secs = (Date.now() - mark.at) / 1000
      const before = mark.before
      const rate = (n: SimNode): [number, number] => {
        const a = after.get(n); const b = before.get(n)
        if (a === undefined || b === undefined) return [0, 0]
        return [(moved(a).m - moved(b).m) / secs, (moved(a).b - moved(b).b) / secs]
      }
      const all = k.all().map(rate)
      const out: WorkerRates = {
        secs,
        peers: k.peers.map(rate),
        superPeers: k.superPeers.map(rate),
        allMsgs: sum(all.map((r) => r[0])),
        allBytes: sum(all.map((r) => r[1]))
      }
      if (k.here[0] === 0 && k.superPeers[0] !== undefined) out.root = rate(k.superPeers[0])
      return out
    }
    case 'jobs': { return await runJobs(need(), req.count, req.mix, { timeoutMs: req.timeoutMs }) }
    case 'stop': { await c?.stop(); c = undefined; return undefined }
  }
}

process.on('message', (req: WorkerRequest) => {
  handle(req).then(
    (value) => { process.send?.({ id: req.id, ok: true, value }) },
    (err: unknown) => { process.send?.({ id: req.id, ok: false, error: (err as Error).message }) }
  )
})
process.on('disconnect', () => { process.exit(0) })
