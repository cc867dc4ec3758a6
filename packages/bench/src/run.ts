import { BadRequestError, throwIfAborted } from '@mvm/core'
import { interleave } from './interleave.js'
import { measured, ratioOf } from './stats.js'
import type { BenchContext, Profile, RowGroup, RowResult, RowSpec } from './types.js'

export interface RunOptions {
  profile: Profile
  outDir: string
  root: string
  /** Group names or row ids; empty = everything. */
  only?: string[]
  log?: (line: string) => void
  /** Called after each row, so a long run shows progress. */
  onRow?: (row: RowResult) => void
  signal?: AbortSignal
}

/** Rows selected by `--only`: a group name selects its rows, a full id selects one; unknown names are an error. */
export function selectRows (groups: RowGroup[], only: string[] = []): Array<{ group: RowGroup, row: RowSpec }> {
  const all = groups.flatMap((g) => (g.rows as RowSpec[]).map((row) => ({ group: g, row })))
  if (only.length === 0) return all
  const known = new Set([...groups.map((g) => g.name), ...all.map((r) => r.row.id)])
  const bad = only.filter((o) => !known.has(o))
  if (bad.length > 0) throw new BadRequestError(`--only: unknown row ${bad.map((b) => `"${b}"`).join(', ')}; known: ${[...known].join(', ')}`)
  return all.filter(({ group, row }) => only.includes(group.name) || only.includes(row.id))
}

/**
 * Runs the selected rows one after another (never two at once: they would measure each
 * other), each as interleaved A/B rounds. Shared resources (the lab) start on first use and
 * stop when the run ends, whatever happens.
 */
export async function runRows (groups: RowGroup[], options: RunOptions): Promise<RowResult[]> {
  const log = options.log ?? (() => {})
  const resources = new Map<string, { value: Promise<unknown>, stop: (v: any) => Promise<void> }>()
  const ctx: BenchContext = {
    profile: options.profile,
    outDir: options.outDir,
    root: options.root,
    log,
    shared: async <T>(key: string, start: () => Promise<T>, stop: (v: T) => Promise<void>): Promise<T> => {
      let r = resources.get(key)
      if (r === undefined) {
        r = { value: start(), stop }
        resources.set(key, r)
      }
      return await (r.value as Promise<T>)
    }
  }
  const results: RowResult[] = []
  try {
    for (const { group, row } of selectRows(groups, options.only)) {
      throwIfAborted(options.signal)
      log(`${row.id}: ${row.figure} vs ${row.baseline}`)
      const { a, b } = await row.make(ctx)
      const out = await interleave(a, b, {
        rounds: row.rounds?.(options.profile) ?? options.profile.rounds,
        warmup: row.warmup?.(options.profile) ?? options.profile.warmup,
        budgetMs: options.profile.rowBudgetMs,
        sampleTimeoutMs: options.profile.sampleTimeoutMs,
        ...(options.signal !== undefined ? { signal: options.signal } : {})
      })
      const ma = measured(out.a.samples, out.a.failure)
      const mb = measured(out.b.samples, out.b.failure)
      const result: RowResult = {
        id: row.id, group: group.name, figure: row.figure, baseline: row.baseline, unit: row.unit, better: row.better,
        a: ma, b: mb, ...ratioOf(ma, mb), ...(row.note !== undefined ? { note: row.note } : {})
      }
      results.push(result)
      options.onRow?.(result)
    }
  } finally {
    for (const [, r] of [...resources].reverse()) {
      try { await r.stop(await r.value) } catch { /* a resource that never started has nothing to stop */ }
    }
  }
  return results
}
