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

/**
 * One read of a rank's logs with Broker.GetJobLogs' byte cursor: the text from the offsets asked
 * for (or the last bytes, when none were) and `outEnd`/`errEnd`, where the next read goes on.
 * `error` says why the rank's peer could not answer (the cursor is then unchanged).
 */
export interface WebRankLog {
  rank: number
  peerId: string
  stdout: string
  stderr: string
  /** The read started past the beginning of a file (a tail): its first line may be cut. */
  truncated: boolean
  outEnd: number
  errEnd: number
  error?: string
}

export interface WebLogCursor { outOffset: number, errOffset: number }

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
  /**
   * Rank `rank`'s stdout and stderr from `from` on (without it, their last bytes), at most
   * `maxBytes` each; undefined while the job has not been placed on any node. Throws for an
   * unknown job or when the policy does not let the web view read job output.
   */
  logs: (jobId: string, rank: number, from: WebLogCursor | undefined, maxBytes: number) => Promise<WebRankLog | undefined>
}
