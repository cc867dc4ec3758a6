/** A job process this node runs; filled by the job machinery once it exists. */
export interface ProcessEntry {
  jobId: string
  rank: number
  pid: number
  state: string
  startedAt: string
}

/** The node's process table: empty until jobs run; answers Node.ListProcesses. */
export class ProcessTable {
  private readonly rows = new Map<string, ProcessEntry>()

  add (p: ProcessEntry): void { this.rows.set(`${p.jobId}/${p.rank}`, { ...p }) }
  remove (jobId: string, rank: number): boolean { return this.rows.delete(`${jobId}/${rank}`) }
  list (jobId?: string): ProcessEntry[] {
    return [...this.rows.values()].filter((p) => jobId === undefined || p.jobId === jobId).map((p) => ({ ...p }))
  }

  /** Forgets a job's rows; returns how many there were. */
  dropJob (jobId: string): number {
    let n = 0
    for (const [k, p] of this.rows) if (p.jobId === jobId) { this.rows.delete(k); n++ }
    return n
  }

  get size (): number { return this.rows.size }
}
