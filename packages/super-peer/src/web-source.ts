import { renderSvg, type RankGraph } from '@mvm/model'
import type { InstanceTemplate } from '@mvm/wire'
import { UnavailableError } from '@mvm/core'
import type { BrokerAgent, MemberLike, SuperPeerNode } from './broker-agent.js'
import { jobInfo } from './broker-soap.js'
import { brokerLogsHandler, peerSoapUrl } from './logs-broker.js'
import { ANONYMOUS, authorize } from './policy-auth.js'

/** Jobs whose last reported traffic is kept after they leave the heartbeats (oldest dropped first). */
const TRAFFIC_JOBS_KEPT = 100

interface PortRow { jobId: string, rank: number, port: string, items: number, bytes: number }

interface RankLogRead { rank: number, peerId: string, stdout: string, stderr: string, truncated: boolean, outEnd: number, errEnd: number, error?: string }

/**
 * What the web view (@mvm/web WebSource, matched structurally) reads of this super-peer: the
 * broker's job list as the Broker SOAP operations give it, the membership view, the policy in
 * force, each job's port traffic as the peers' heartbeats carry it, and rank logs read with
 * the cursor of Broker.GetJobLogs (the same handler, called in process).
 */
export function webSource (node: Pick<SuperPeerNode, 'membership'> & { readonly peerId: string, readonly soapUrl: string }, agent: BrokerAgent) {
  const broker = agent.broker
  const getJobLogs = brokerLogsHandler({ jobs: broker, soapUrlOf: peerSoapUrl(node) })
  const progress = { ranksStarted: (id: string) => agent.ranksStarted(id) }
  const info = (id: string) => {
    const j = jobInfo(broker, broker.get(broker.resolveId(id)), progress)
    return { jobId: j.jobId, name: j.name, state: j.state, owner: j.owner, size: j.size, ranksStarted: j.ranksStarted, ranksFinished: j.ranksFinished, submittedAt: j.submittedAt, ...(j.reason !== undefined ? { reason: j.reason } : {}) }
  }
  // per job, per "peer rank port": a finished job leaves the heartbeats but keeps its last counts
  const seen = new Map<string, Map<string, PortRow>>()
  const collect = (): void => {
    for (const m of node.membership.view({ includeChildren: false })) {
      for (const p of (m.report as MemberLike['report'] & { ports?: PortRow[] }).ports ?? []) {
        let rows = seen.get(p.jobId)
        if (rows === undefined) {
          rows = new Map(); seen.set(p.jobId, rows)
          if (seen.size > TRAFFIC_JOBS_KEPT) seen.delete(seen.keys().next().value!)
        }
        rows.set(`${m.peerId} ${p.rank} ${p.port}`, { jobId: p.jobId, rank: p.rank, port: p.port, items: Number(p.items), bytes: Number(p.bytes) })
      }
    }
  }
  return {
    nodes: () => node.membership.view({ includeChildren: true }).map((m) => ({
      peerId: m.peerId, group: m.group, roles: m.roles, state: m.state, labels: m.labels,
      load: m.report.load, freeSlots: m.report.freeSlots, totalSlots: m.report.totalSlots,
      ...((m as { viaChild?: string }).viaChild !== undefined ? { viaChild: (m as { viaChild?: string }).viaChild } : {})
    })),
    jobs: () => broker.list({ limit: 200 }).map((j) => info(j.id)),
    job: info,
    topologySvg: (id: string): string | undefined => {
      const graph = (broker.get(broker.resolveId(id)).request.instance as InstanceTemplate | undefined)?.graph as RankGraph | undefined
      return graph === undefined ? undefined : renderSvg(graph)
    },
    traffic: (id: string): PortRow[] => {
      collect()
      const rows = [...(seen.get(broker.resolveId(id))?.values() ?? [])]
      return rows.sort((a, b) => a.rank - b.rank || (a.port < b.port ? -1 : 1))
    },
    policy: () => agent.policy.effective.spec,
    logs: async (id: string, rank: number, from: { outOffset: number, errOffset: number } | undefined, maxBytes: number): Promise<RankLogRead | undefined> => {
      // the web view has no login: it reads job output as the anonymous subject, under GetJobLogs' permission
      authorize(agent.policy.effective, ANONYMOUS, 'job.result')
      const jobId = broker.resolveId(id)
      const job = broker.get(jobId)
      // not placed yet: nothing to read, the stream asks again (an array job falls through to the handler's refusal)
      if (job.childIds === undefined && (job.placement ?? []).length === 0) return undefined
      const { logs } = await getJobLogs({ jobId, rank, maxBytes, ...from }, { remoteAddress: 'web view' })
      const l = logs.find((x) => x.rank === rank)
      if (l === undefined) return undefined
      if (l.error === undefined && (l.outEnd === undefined || l.errEnd === undefined)) {
        throw new UnavailableError(`peer ${l.peerId} cannot follow logs (no outEnd/errEnd cursor in its GetLogs reply)`)
      }
      return {
        rank, peerId: l.peerId, stdout: l.stdout, stderr: l.stderr, truncated: l.truncated,
        outEnd: l.outEnd ?? from?.outOffset ?? 0, errEnd: l.errEnd ?? from?.errOffset ?? 0, ...(l.error !== undefined ? { error: l.error } : {})
      }
    }
  }
}
