/** Which way a figure improves: latencies and memory go down, rates go up. */
export const Better = { lower: 'lower', higher: 'higher' } as const
export type Better = (typeof Better)[keyof typeof Better]

/** Median and spread of one side's samples. */
export interface Stats {
  median: number
  min: number
  max: number
  n: number
}

/** One side of a row: measured, or why it could not be. */
export type Measured =
  | { ok: true, stats: Stats, samples: number[] }
  | { ok: false, reason: string }

/** One line of the report: a figure against its baseline, measured interleaved in the same run. */
export interface RowResult {
  /** `group.name`, e.g. `launch.warm`; `--only` matches the group or the whole id. */
  id: string
  group: string
  figure: string
  baseline: string
  unit: string
  better: Better
  a: Measured
  b: Measured
  /** Figure median / baseline median; null when a side is unavailable. */
  ratio: number | null
  /** Range of the ratio from the two spreads: [a.min / b.max, a.max / b.min]. */
  ratioRange: [number, number] | null
  note?: string
}

/**
 * One side of a comparison. `setup` may start processes; `sample` returns one number in the
 * row's unit; `teardown` always runs. A throw in `setup` or `sample` makes this side
 * "unavailable: <reason>" without failing the run.
 */
export interface Contender {
  setup?: (signal: AbortSignal) => Promise<void>
  sample: (signal: AbortSignal) => Promise<number>
  teardown?: () => Promise<void>
}

/** Sizes and bounds; `quick` picks small ones so a run takes a few minutes. */
export interface Profile {
  quick: boolean
  /** Recorded rounds per row (each round is one A and one B sample). */
  rounds: number
  /** Unrecorded rounds first, so caches and JITs are warm. */
  warmup: number
  /** Wall-time bound per row, ms: no more rounds start after it. */
  rowBudgetMs: number
  /** Bound on any one sample, ms. */
  sampleTimeoutMs: number
  latencyMessages: number
  bandwidthMessages: number
  primesN: number
  seqJobs: number
  inflightJobs: number
  arrayElements: number
  queuedJobs: number
}

/** What every row may use: the profile, shared resources started once, and the output folder. */
export interface BenchContext {
  profile: Profile
  /** Folder for run-time artefacts (results, the compiled MPI program). */
  outDir: string
  /** Repository root (where packages/cli lives). */
  root: string
  /** A resource started on first use and stopped when the run ends. */
  shared: <T>(key: string, start: () => Promise<T>, stop: (v: T) => Promise<void>) => Promise<T>
  log: (line: string) => void
}

/** A row definition: its labels and how to build the two contenders. */
export interface RowSpec {
  id: string
  figure: string
  baseline: string
  unit: string
  better: Better
  make: (ctx: BenchContext) => { a: Contender, b: Contender } | Promise<{ a: Contender, b: Contender }>
  /** Rounds override (slow rows such as cold launch or 10^8 primes). */
  rounds?: (p: Profile) => number
  /** Unrecorded rounds before the recorded ones; default the profile's. */
  warmup?: (p: Profile) => number
  note?: string
}

/** A row group as `--only` names it: launch, throughput, local, remote, collectives, science, footprint, soap, data, failover, scale. */
export interface RowGroup {
  name: string
  title: string
  rows: RowSpec[] | ((ctx: BenchContext) => Promise<RowSpec[]>)
}
