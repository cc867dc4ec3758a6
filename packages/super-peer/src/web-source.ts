import { renderSvg, type RankGraph } from '@mvm/model'
import type { InstanceTemplate } from '@mvm/wire'
import type { BrokerAgent, MemberLike, SuperPeerNode } from './broker-agent.js'
import { jobInfo } from './broker-soap.js'

/** Jobs whose last reported traffic is kept after they leave the heartbeats (oldest dropped first). */
const TRAFFIC_JOBS_KEPT = 100

interface PortRow { jobId: string, rank: number, port: string, items: number, bytes: number }

/**
 * What the web view (@mvm/web WebSource, matched structurally) reads of this super-peer: the
 * broker's job list as the Broker SOAP operations give it, the membership view, the policy in
 * force, and each job's port traffic as the peers' heartbeats carry it.
 */
export function webSource (node: Pick<SuperPeerNode, 'membership'>, agent: BrokerAgent) {
  const broker = agent.broker
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
    policy: () => agent.policy.effective.spec
  }
}
