import { UnavailableError, type Logger } from '@mvm/core'
import type { CheckpointRecord, Dispatcher, Job } from '@mvm/broker'
import { expectBody, type RpcPeer } from '@mvm/wire'
import { encodeInstance, type InstanceTemplate, type InstantiateSpec } from '@mvm/wire'
import type { BundleFile } from '@mvm/soap'

export interface DispatchTarget {
  /** The member's control channel, if it is connected. */
  channel: (peerId: string) => RpcPeer | undefined
  addresses: (peerId: string) => string[]
  bundle: (job: Job) => BundleFile[]
  /** The broker's stored checkpoints of a job, read when it is dispatched with `resume`. */
  checkpoints?: (jobId: string) => CheckpointRecord[]
}

const INSTANTIATE_TIMEOUT_MS = 120_000
const TERMINATE_TIMEOUT_MS = 10_000

/**
 * The broker's reach into the group (steps d and f): awaken every chosen peer, then send
 * each the job-instantiation message concurrently. Either every peer acknowledges or the
 * ones that did are told to terminate and the dispatch fails as a whole, so a job never
 * runs partly placed.
 */
export function controlDispatcher (target: DispatchTarget, log: Logger): Dispatcher {
  return {
    async start (job, placement, { signal, resume }) {
      const peers = [...new Set(placement)]
      const tpl = job.request.instance as InstanceTemplate | undefined
      if (tpl === undefined) throw new UnavailableError(`job ${job.id} has no instance template (submitted by an older broker?)`)
      const instance: InstantiateSpec = {
        ...tpl, jobId: job.id, placement, resume, addresses: Object.fromEntries(peers.map((p) => [p, target.addresses(p)]))
      }
      const saved = resume ? target.checkpoints?.(job.id) ?? [] : []
      // each peer gets only its own ranks' states: all of them could outgrow one Instantiate frame
      const specFor = (p: string): Uint8Array => {
        const mine = saved.filter((c) => placement[c.rank] === p)
        return encodeInstance(mine.length === 0 ? instance : { ...instance, restored: Object.fromEntries(mine.map((c) => [c.rank, JSON.parse(c.stateJson) as unknown])) })
      }
      if (saved.length > 0) log.info({ jobId: job.id, ranks: saved.map((c) => c.rank) }, 'resuming from checkpoints')
      const bundle = target.bundle(job)
      const acked: string[] = []
      try {
        await Promise.all(peers.map(async (p) => {
          const rpc = target.channel(p)
          if (rpc === undefined) throw new UnavailableError(`peer ${p} is not connected to this super-peer`)
          expectBody(await rpc.request({ type: 'awaken', jobId: job.id }, { signal, timeoutMs: TERMINATE_TIMEOUT_MS }), 'ack')
          expectBody(await rpc.request({ type: 'instantiate', jobId: job.id, spec: specFor(p), bundle }, { signal, timeoutMs: INSTANTIATE_TIMEOUT_MS }), 'instantiateAck')
          acked.push(p)
        }))
      } catch (err) {
        log.warn({ jobId: job.id, err: (err as Error).message }, 'dispatch failed; terminating the peers that accepted')
        await terminateAll(target, job.id, peers, 'dispatch failed', log)
        throw err
      }
    },
    async stop (job, placement, reason) {
      await terminateAll(target, job.id, [...new Set(placement)], reason, log)
    }
  }
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
