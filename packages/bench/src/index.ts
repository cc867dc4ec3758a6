/**
 * @packageDocumentation
 * `npm run bench`: the MVM toolkit's figures, each as a ratio against a baseline measured in
 * the same run, interleaved (A B A B …), with median and min/max over repeated rounds. Rows:
 * launch, throughput, local and remote messages, collectives, science (primes), footprint,
 * SOAP, data (inputs, caches, environments) and scale (`mvm sim --queued`). Labs are real `mvm node` processes on 127.0.0.1 (the data rows use in-process libp2p nodes); every process started is stopped.
 * A toolkit figure that cannot be measured yet reads "unavailable: <reason>" and the run goes on.
 *
 * @example
 * ```ts
 * import { runBench, renderTable } from '@mvm/bench'
 * const { rows, files } = await runBench({ quick: true, only: ['launch'], outDir: 'bench-results' })
 * console.log(renderTable(rows))      // and files.json / files.markdown / files.svg
 * ```
 */
import { resolve } from 'node:path'
import { repoRoot } from './paths.js'
import { benchProfile } from './profile.js'
import { groups } from './rows/index.js'
import { runRows } from './run.js'
import { runMeta, type RunMeta } from './report/json.js'
import type { RowResult } from './types.js'
import { writeReports, type Written } from './write.js'

export type { Contender, Measured, Profile, RowGroup, RowResult, RowSpec, Stats } from './types.js'
export type { RunMeta } from './report/json.js'
export type { Written } from './write.js'
export { summarize, ratioOf } from './stats.js'
export { interleave, type InterleaveOptions } from './interleave.js'
export { selectRows } from './run.js'
export { renderTable } from './report/table.js'
export { renderMarkdown } from './report/markdown.js'
export { renderSvg } from './report/svg.js'
export { renderJson } from './report/json.js'
export { benchProfile } from './profile.js'
export { groups } from './rows/index.js'
export { stopAll } from './procs.js'

export interface BenchOptions {
  /** Small sizes, 3 rounds: a few minutes. */
  quick?: boolean
  /** Group names (`launch`, `throughput`, `local`, `remote`, `collectives`, `science`, `footprint`, `soap`) or row ids. */
  only?: string[]
  /** Where results.json/.md/.svg go; default `bench-results` under the current directory. */
  outDir?: string
  /** The command recorded in the reports. */
  command?: string
  log?: (line: string) => void
  onRow?: (row: RowResult) => void
  signal?: AbortSignal
}

export interface BenchRun { rows: RowResult[], meta: RunMeta, files: Written }

/** Runs the selected rows and writes the reports. */
export async function runBench (options: BenchOptions = {}): Promise<BenchRun> {
  const quick = options.quick ?? false
  const outDir = resolve(options.outDir ?? 'bench-results')
  const t0 = Date.now()
  const rows = await runRows(groups, {
    profile: benchProfile(quick),
    outDir,
    root: repoRoot,
    ...(options.only !== undefined ? { only: options.only } : {}),
    ...(options.log !== undefined ? { log: options.log } : {}),
    ...(options.onRow !== undefined ? { onRow: options.onRow } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {})
  })
  const meta = runMeta(options.command ?? `npm run bench${quick ? ' -- --quick' : ''}`, quick, Date.now() - t0)
  const files = await writeReports(outDir, rows, meta)
  return { rows, meta, files }
}
