/** What the web view reads; the super-peer role satisfies it (see @mvm/super-peer webSource). */

export interface WebNode {
  peerId: string
  group: string
  roles: string[]
  state: string
  labels: Record<string, string>
  load: number
  freeSlots: number
  totalSlots: number
  /** Set for a node known through a child group's report. */
  viaChild?: string
}

export interface WebJob {
  jobId: string
  name: string
  state: string
  owner: string
  size: number
  ranksStarted: number
  ranksFinished: number
  reason?: string
  submittedAt: string
}

export interface WebPortStats { jobId: string, rank: number, port: string, items: number, bytes: number }

export interface WebSource {
  nodes: () => WebNode[]
  jobs: () => WebJob[]
  /** Throws (E_NOT_FOUND) for an unknown job. */
  job: (jobId: string) => WebJob
  /** The job's topology as an SVG document (edges carry data-from / data-to), or undefined. */
  topologySvg: (jobId: string) => string | undefined
  /** Cumulative counts per rank and port, as the peers last reported them. */
  traffic: (jobId: string) => WebPortStats[]
  /** The policy in force, as JSON-able data. */
  policy: () => unknown
}
