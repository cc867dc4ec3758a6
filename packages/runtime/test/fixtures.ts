import type { Test } from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRuntime, type InstanceSpec, type RunningJob, type RankOutcome, type Runtime } from '@mvm/runtime'
import type { LinkFrame, RemoteLink } from '@mvm/queue'
import type { RankGraph } from '@mvm/model'

type Handler = (fromNode: string, frame: LinkFrame) => void

/**
 * An in-memory network of RemoteLinks: frames are copied (as a real wire would) and delivered
 * asynchronously in send order; frames that arrive before a handler is set wait for it.
 */
export function memoryNetwork (nodes: string[]): { link: (node: string) => RemoteLink, sent: () => number } {
  const handlers = new Map<string, Handler>()
  const early = new Map<string, Array<[string, LinkFrame]>>()
  let sent = 0
  const deliver = (to: string, from: string, f: LinkFrame): void => {
    const h = handlers.get(to)
    if (h === undefined) { early.set(to, [...(early.get(to) ?? []), [from, f]]); return }
    h(from, f)
  }
  return {
    sent: () => sent,
    link: (self) => ({
      async send (nodeId, frame) {
        if (!nodes.includes(nodeId)) throw new Error(`no node ${nodeId}`)
        sent++
        const copy = { ...frame, payload: new Uint8Array(frame.payload) }
        await new Promise<void>((resolve) => setImmediate(() => { deliver(nodeId, self, copy); resolve() }))
      },
      onFrame (handler) {
        handlers.set(self, handler)
        for (const [from, f] of early.get(self) ?? []) handler(from, f)
        early.delete(self)
        return () => { handlers.delete(self) }
      }
    })
  }
}

export interface Cluster { runtimes: Record<string, Runtime>, dirs: Record<string, string>, net: ReturnType<typeof memoryNetwork> }

/** Two (or more) runtimes, each with its own dataDir, as if on different nodes. */
export function cluster (t: Test, nodes = ['A', 'B']): Cluster {
  const runtimes: Record<string, Runtime> = {}
  const dirs: Record<string, string> = {}
  for (const n of nodes) {
    dirs[n] = mkdtempSync(join(tmpdir(), `mvm-rt-${n}-`))
    runtimes[n] = createRuntime({ dataDir: dirs[n] })
  }
  t.teardown(async () => {
    await Promise.all(Object.values(runtimes).map(async (r) => await r.stop()))
    for (const d of Object.values(dirs)) rmSync(d, { recursive: true, force: true })
  })
  return { runtimes, dirs, net: memoryNetwork(nodes) }
}

export interface RunOptions {
  source: string
  graph: RankGraph
  placement: string[]
  params?: Record<string, unknown>
  queue?: InstanceSpec['queue']
  jobId?: string
  language?: 'ts' | 'js'
  wallTimeSec?: number
}

let jobCounter = 0

/** Instantiates the job on every node of the placement and starts it. */
export async function launch (c: Cluster, o: RunOptions): Promise<Record<string, RunningJob>> {
  const jobId = o.jobId ?? `job${++jobCounter}-${process.pid}`
  const nodes = [...new Set(o.placement)]
  const insts: Record<string, RunningJob> = {}
  for (const n of nodes) {
    insts[n] = await c.runtimes[n]!.instantiate({
      jobId,
      owner: 'tester',
      program: { source: o.source, language: o.language ?? 'ts', path: `${jobId}.ts` },
      graph: o.graph,
      placement: o.placement,
      self: n,
      params: o.params ?? {},
      resources: { memoryMB: 256, wallTimeSec: o.wallTimeSec ?? 60 },
      queue: o.queue ?? { type: 'fifo', capacity: 16, encoding: 'json' }
    }, c.net.link(n))
  }
  await Promise.all(Object.values(insts).map(async (i) => await i.start()))
  return insts
}

/** Runs to completion; results of all ranks, by rank. */
export async function run (c: Cluster, o: RunOptions): Promise<RankOutcome[]> {
  const insts = await launch(c, o)
  const all = (await Promise.all(Object.values(insts).map(async (i) => await i.done))).flat()
  return all.sort((a, b) => a.rank - b.rank)
}

export const profileSource = async (name: string): Promise<string> =>
  await readFile(new URL(`../../../profiles/${name}.ts`, import.meta.url), 'utf8')
