import type { InstanceSpec, RankOutcome, RunningJob, Runtime, RuntimeInit } from '@mvm/runtime'
import type { ResourceSampler } from '@mvm/node'

/** How long a simulated rank takes: the job's `params.ms` (default 100 ms). */
export const DEFAULT_RANK_MS = 100

/** A simulated node's memory: what it reports free with no rank running (the node's default capacity). */
export const SIM_MEMORY_MB = 2048
/** Memory one running simulated rank takes from its node. */
export const SIM_RANK_MEMORY_MB = 64

/** The ranks running on one simulated node, counted by its runtime and read by its resource sampler. */
export class SimRanks {
  running = 0

  /**
   * The node's load and free memory as its simulated ranks make them: one CPU per running rank,
   * {@link SIM_MEMORY_MB} less {@link SIM_RANK_MEMORY_MB} per rank. A real node samples its
   * process tree and the OS; in one process every simulated node would read the same process
   * and host, whose load and free memory move together for all of them.
   */
  readonly sampler: ResourceSampler = () => ({ load: this.running, freeMemoryMB: Math.max(0, SIM_MEMORY_MB - SIM_RANK_MEMORY_MB * this.running) })
}

/**
 * The one part of a node `mvm sim` replaces: the runtime that would compile the program and run
 * each rank in a sandboxed process. Here a rank is a timer of the job's `params.ms`; it ends
 * with exit code 0 and its rank number as result (or `params.fail` makes it fail). The peer
 * agent around it (Awaken, Instantiate, reports, Terminate, session checks) is the real one.
 */
export function simRuntime (init: RuntimeInit, ranks = new SimRanks()): Runtime {
  const live = new Set<SimJob>()
  return {
    dataDir: init.dataDir,
    async instantiate (spec) {
      const job = new SimJob(spec, ranks, () => { live.delete(job) })
      live.add(job)
      return job
    },
    async compile () { return { codePath: '', cached: true, hash: 'sim' } },
    portStats: () => [],
    poolStats: () => undefined,
    async stop () { await Promise.all([...live].map(async (j) => { await j.terminate('runtime stopping') })) }
  }
}

class SimJob implements RunningJob {
  readonly jobId: string
  readonly workDir = ''
  readonly logs: Record<number, { out: string, err: string }> = {}
  readonly done: Promise<RankOutcome[]>
  private readonly ranks: number[]
  private readonly timers = new Map<number, NodeJS.Timeout>()
  private readonly outcomes: RankOutcome[] = []
  private readonly listeners: Array<(r: RankOutcome) => void> = []
  private resolveDone!: (r: RankOutcome[]) => void
  private startedAt = 0

  constructor (private readonly spec: InstanceSpec, private readonly count: SimRanks, private readonly onEnd: () => void) {
    this.jobId = spec.jobId
    this.ranks = spec.placement.flatMap((p, r) => p === spec.self ? [r] : [])
    this.done = new Promise((resolve) => { this.resolveDone = resolve })
    if (this.ranks.length === 0) this.finish()
  }

  async start (options: { signal?: AbortSignal } = {}): Promise<void> {
    options.signal?.throwIfAborted()
    const ms = rankMs(this.spec.params)
    const fail = this.spec.params.fail === true || this.spec.params.fail === 'true'
    this.startedAt = Date.now()
    for (const rank of this.ranks) {
      this.count.running++
      this.timers.set(rank, setTimeout(() => {
        this.timers.delete(rank)
        this.count.running--
        this.end(fail
          ? { rank, exitCode: 1, error: { code: 'E_SIM', message: 'simulated failure' }, startedAtMs: this.startedAt, finishedAtMs: Date.now(), reason: 'exit' }
          : { rank, exitCode: 0, result: rank, startedAtMs: this.startedAt, finishedAtMs: Date.now(), reason: 'exit', cpuSec: 0, maxRssMB: 0 })
      }, ms))
    }
  }

  onRank (cb: (r: RankOutcome) => void): void { this.listeners.push(cb) }
  onCheckpoint (): void {}
  /** Simulated ranks keep no state to cut. */
  requestCut (): boolean { return false }
  portStats (): [] { return [] }
  pids (): Record<number, number> { return Object.fromEntries(this.ranks.map((r) => [r, 0])) }

  async terminate (reason = 'terminated'): Promise<void> {
    for (const [rank, t] of this.timers) {
      clearTimeout(t)
      this.count.running--
      this.end({ rank, exitCode: null, error: { code: 'E_KILLED', message: reason }, startedAtMs: this.startedAt, finishedAtMs: Date.now(), reason: 'killed' })
    }
    this.timers.clear()
    if (this.outcomes.length < this.ranks.length) this.finish()
    await this.done
  }

  private end (r: RankOutcome): void {
    this.outcomes.push(r)
    for (const l of this.listeners) l(r)
    if (this.outcomes.length === this.ranks.length) this.finish()
  }

  private finish (): void {
    this.onEnd()
    this.resolveDone([...this.outcomes])
  }
}

function rankMs (params: Record<string, unknown>): number {
  const v = Number(params.ms)
  return Number.isFinite(v) && v >= 0 ? v : DEFAULT_RANK_MS
}
