import { UnavailableError, type Logger } from '@mvm/core'
import type { CheckpointRecord, Dispatcher, Job } from '@mvm/broker'
import { expectBody, type RpcPeer } from '@mvm/wire'
import { encodeInstance, type InstanceTemplate, type InstantiateSpec, type JobEnvironment } from '@mvm/wire'
import type { BundleFile } from '@mvm/soap'
import { resizedGraph, type TopologySpec } from '@mvm/model'
import { isCutEnvelope, resizeEnvelope, type ResizeEnvelope } from '@mvm/job'

export interface DispatchTarget {
  /** The member's control channel, if it is connected. */
  channel: (peerId: string) => RpcPeer | undefined
  addresses: (peerId: string) => string[]
  bundle: (job: Job) => BundleFile[]
  /** The broker's stored checkpoints of a job, read when it is dispatched with `resume`. */
  checkpoints?: (jobId: string) => CheckpointRecord[]
  /** Told of the job bytes (bundle files) each Instantiate carries, for the node's metrics. */
  sent?: (bytes: number) => void
  /** The job's inputs as they are now (earlier jobs' outputs resolved) and who holds them. */
  files?: (job: Job) => Pick<InstantiateSpec, 'inputs' | 'dataHolders'>
  /** The job's environment with its tree id, when it was accepted before it was built. */
  environment?: (job: Job) => Promise<JobEnvironment | undefined>
}

const INSTANTIATE_TIMEOUT_MS = 120_000
const TERMINATE_TIMEOUT_MS = 10_000

/**
 * The broker's reach into the group (steps d and f): awaken every chosen peer, and only once
 * all of them are awake (listening on /mvm/queue, so no rank's first frame to a peer on its
 * first job is lost) send each the job-instantiation message concurrently. Either every peer
 * acknowledges or the dispatch fails as a whole and every placed peer is told to terminate,
 * after every request already sent has settled, so no Instantiate ever follows a Terminate
 * and a job never runs partly placed.
 *
 * A peer that acknowledged Awaken on its current control session is not awakened again (its
 * runtime and queue proxy stay up for the life of the session): the warm path is one round
 * trip per peer.
 */
export function controlDispatcher (target: DispatchTarget, log: Logger): Dispatcher {
  // per session object: a reconnected peer has a new RpcPeer and is awakened again
  const awake = new WeakSet<RpcPeer>()
  return {
    async start (job, placement, { signal, resume }) {
      const peers = [...new Set(placement)]
      const stored = job.request.instance as InstanceTemplate | undefined
      if (stored === undefined) throw new UnavailableError(`job ${job.id} has no instance template (submitted by an older broker?)`)
      const env = stored.environment?.id === undefined && stored.environment?.sources !== undefined ? await target.environment?.(job) : undefined
      const tpl = reshaped(job, env === undefined ? stored : { ...stored, environment: env })
      const hasData = (tpl.inputs ?? []).length > 0 || (tpl.inputsFrom ?? []).length > 0 || tpl.environment?.id !== undefined
      const instance: InstantiateSpec = {
        ...tpl, jobId: job.id, placement, resume, addresses: Object.fromEntries(peers.map((p) => [p, target.addresses(p)])),
        ...(hasData && target.files !== undefined ? target.files(job) : {})
      }
      const saved = resume ? target.checkpoints?.(job.id) ?? [] : []
      // restarted at another size: every new rank starts from the whole cut (the old layout)
      const resized = resizeFrom(job, saved)
      // each peer gets only its own ranks' states: all of them could outgrow one Instantiate frame
      const specFor = (p: string): Uint8Array => {
        if (resized !== undefined) return encodeInstance({ ...instance, restored: Object.fromEntries(placement.flatMap((q, r) => q === p ? [[r, resized]] : [])) })
        const mine = saved.filter((c) => placement[c.rank] === p)
        return encodeInstance(mine.length === 0 ? instance : { ...instance, restored: Object.fromEntries(mine.map((c) => [c.rank, JSON.parse(c.stateJson) as unknown])) })
      }
      if (saved.length > 0) log.info({ jobId: job.id, ranks: saved.map((c) => c.rank) }, 'resuming from checkpoints')
      const bundle = target.bundle(job)
      const bundleBytes = bundle.reduce((n, f) => n + f.content.byteLength, 0)
      try {
        const channels = peers.map((p) => {
          const rpc = target.channel(p)
          if (rpc === undefined) throw new UnavailableError(`peer ${p} is not connected to this super-peer`)
          return rpc
        })
        await settleAll(channels.map(async (rpc) => {
          if (awake.has(rpc)) return
          expectBody(await rpc.request({ type: 'awaken', jobId: job.id }, { signal, timeoutMs: TERMINATE_TIMEOUT_MS }), 'ack')
          awake.add(rpc)
        }))
        signal?.throwIfAborted()
        await settleAll(channels.map(async (rpc, i) => {
          target.sent?.(bundleBytes)
          expectBody(await rpc.request({ type: 'instantiate', jobId: job.id, spec: specFor(peers[i]!), bundle }, { signal, timeoutMs: INSTANTIATE_TIMEOUT_MS }), 'instantiateAck')
        }))
      } catch (err) {
        log.warn({ jobId: job.id, err: (err as Error).message }, 'dispatch failed; terminating the peers that accepted')
        await terminateAll(target, job.id, peers, 'dispatch failed', log)
        throw err
      }
    },
    async stop (job, placement, reason) {
      await terminateAll(target, job.id, [...new Set(placement)], reason, log)
    },
    async requestCut (job) {
      const peer = job.placement?.[0]
      const rpc = peer === undefined ? undefined : target.channel(peer)
      if (rpc === undefined) throw new UnavailableError(`job ${job.id}: the node of its rank 0 is not connected to this super-peer`)
      expectBody(await rpc.request({ type: 'cutRequest', jobId: job.id }, { timeoutMs: TERMINATE_TIMEOUT_MS }), 'ack')
    }
  }
}

/** The instance template at the job's current size: a resized malleable job's topology expanded again. */
function reshaped (job: Job, tpl: InstanceTemplate): InstanceTemplate {
  const m = malleableOf(job)
  if (m === undefined || tpl.graph.size === job.size) return tpl
  return { ...tpl, graph: resizedGraph(m.topology, job.size) }
}

/**
 * The envelope every new rank starts from when the job resumes from a cut taken at another size
 * (a resize, or a restart after one before the new size's first cut), else undefined.
 */
function resizeFrom (job: Job, saved: CheckpointRecord[]): ResizeEnvelope | undefined {
  if (malleableOf(job) === undefined || saved.length === 0 || saved.length === job.size) return undefined
  const shares = saved.map((c) => JSON.parse(c.stateJson) as unknown)
  if (!shares.every(isCutEnvelope)) return undefined
  return resizeEnvelope(shares)
}

function malleableOf (job: Job): { topology: TopologySpec } | undefined {
  const m = job.request.malleable as { topology?: TopologySpec } | undefined
  return m?.topology === undefined ? undefined : { topology: m.topology }
}

/** Like Promise.all, but rejects (with the first failure) only after every promise settled. */
async function settleAll (ps: Array<Promise<unknown>>): Promise<void> {
  const out = await Promise.allSettled(ps)
  const bad = out.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (bad !== undefined) throw bad.reason
}

async function terminateAll (target: DispatchTarget, jobId: string, peers: string[], reason: string, log: Logger): Promise<void> {
  await Promise.all(peers.map(async (p) => {
    const rpc = target.channel(p)
    if (rpc === undefined) return
    try {
      await rpc.request({ type: 'terminate', jobId, reason }, { timeoutMs: TERMINATE_TIMEOUT_MS })
    } catch (err) {
      log.debug({ jobId, peer: p, err: (err as Error).message }, 'terminate not acknowledged')
    }
  }))
}
