import { BadRequestError, InvalidStateError, toMvmError } from '@mvm/core'
import { createNodeClient, type GetJobLogsRequest, type GetJobLogsResponse, type Handler, type JobRankLog, type NodeClient } from '@mvm/soap'
import { checkLogsRequest, perStreamBudget } from '@mvm/soap'

/** What the broker handler needs of a job (structurally @mvm/broker's Job). */
export interface LoggedJob { id: string, size: number, state: string, placement: string[] | null, childIds?: string[] }

export interface BrokerLogsInit {
  /** The broker's job lookup; throws E_NOT_FOUND for an unknown job. */
  jobs: { get: (jobId: string) => LoggedJob, resolveId?: (idOrPrefix: string) => string }
  /** A peer's SOAP URL (the super-peer's membership), undefined when it is not known. */
  soapUrlOf: (peerId: string) => string | undefined
  /** Per peer call; default 15 s. */
  timeoutMs?: number
  /** For tests: how to reach a peer's Node service. */
  nodeClient?: (url: string) => Pick<NodeClient, 'GetLogs'>
}

/** How a super-peer reaches a peer's Node service: itself directly, the others through its membership. */
export function peerSoapUrl (node: { readonly peerId: string, readonly soapUrl: string, readonly membership: { get: (peerId: string) => { soapUrl?: string } | undefined } }): (peerId: string) => string | undefined {
  return (p) => p === node.peerId ? node.soapUrl : node.membership.get(p)?.soapUrl
}

/**
 * Broker.GetJobLogs: looks up where each rank was placed and asks those peers' Node.GetLogs,
 * all peers at once. A peer that cannot answer does not fail the call: its ranks carry `error`.
 */
export function brokerLogsHandler (init: BrokerLogsInit): Handler<GetJobLogsRequest, GetJobLogsResponse> {
  const where = 'Broker.GetJobLogs'
  const connect = init.nodeClient ?? createNodeClient
  return async (req) => {
    const q = checkLogsRequest(req, where)
    const job = init.jobs.get(init.jobs.resolveId?.(q.jobId) ?? q.jobId)
    if (job.childIds !== undefined) {
      throw new BadRequestError(`${where}: job ${job.id} is an array job; ask for the logs of its elements: ${job.childIds.join(', ')}`)
    }
    const placement = job.placement ?? []
    if (placement.length === 0) throw new InvalidStateError(`${where}: job ${job.id} is ${job.state} and has not been placed on any node yet, so it has no logs`)
    if (q.rank !== undefined && q.rank >= placement.length) {
      throw new BadRequestError(`${where}: job ${job.id} has ranks 0..${placement.length - 1}; there is no rank ${q.rank}`)
    }
    const ranks = q.rank !== undefined ? [q.rank] : placement.map((_, r) => r)
    const byPeer = new Map<string, number[]>()
    for (const r of ranks) {
      const p = placement[r]!
      byPeer.set(p, [...(byPeer.get(p) ?? []), r])
    }
    const maxBytes = perStreamBudget(q.maxBytes, ranks.length)
    const cursor = { ...(q.outOffset !== undefined ? { outOffset: q.outOffset } : {}), ...(q.errOffset !== undefined ? { errOffset: q.errOffset } : {}) }
    const parts = await Promise.all([...byPeer].map(async ([peerId, mine]) => await fromPeer(peerId, mine)))
    return { logs: parts.flat().sort((a, b) => a.rank - b.rank) }

    async function fromPeer (peerId: string, mine: number[]): Promise<JobRankLog[]> {
      const failed = (error: string): JobRankLog[] => mine.map((rank) => ({ rank, peerId, stdout: '', stderr: '', truncated: false, error }))
      const url = init.soapUrlOf(peerId)
      if (url === undefined || url === '') return failed(`peer ${peerId} is not in this super-peer's view, so its logs cannot be fetched`)
      try {
        const res = await connect(url).GetLogs(
          // the peer knows the full id only: a prefix the broker resolved must not reach it
          q.rank !== undefined ? { jobId: job.id, rank: q.rank, maxBytes, ...cursor } : { jobId: job.id, maxBytes },
          { timeoutMs: init.timeoutMs ?? 15_000 })
        const got = new Map(res.logs.map((l) => [l.rank, l]))
        // a requeued job may have left other ranks' logs on this peer: only its placed ranks count
        return mine.map((rank) => {
          const l = got.get(rank)
          return l !== undefined
            ? { ...l, peerId }
            : { rank, peerId, stdout: '', stderr: '', truncated: false, error: `peer ${peerId} has no log of rank ${rank} (it may not have started)` }
        })
      } catch (err) {
        const e = toMvmError(err)
        return failed(`peer ${peerId}: ${e.code}: ${e.message}`)
      }
    }
  }
}
