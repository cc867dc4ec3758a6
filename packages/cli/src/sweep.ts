import { formatTable } from './output.js'
import { formatResult } from './result-text.js'
import type { Outcome } from './wait.js'

/** An array job's element: the values `spec.array` gave it, in the profile's key order (see array-elements.ts). */
export interface ArrayElement { values: Array<[string, unknown]> }

/**
 * A sweep's outcomes, one row per element labelled by its params, so `n=10000 → 1229` reads
 * without matching job ids by hand; results are cut to fit a cell unless `full`.
 */
export function sweepTable (elements: readonly ArrayElement[], outcomes: readonly Outcome[], full: boolean): string {
  const keys = elements[0]?.values.map(([k]) => k) ?? []
  const rows = outcomes.map((o, i) => {
    const e = elements[i]
    const cells = keys.map((_, j) => e === undefined ? '?' : String(JSON.stringify(e.values[j]![1]) ?? ''))
    const result = o.info.state === 'succeeded'
      ? formatResult(o.result?.resultJson, full ? { full: true } : { oneLine: true })
      : (o.info.reason ?? '')
    return [o.info.jobId, ...cells.map((c) => c.replace(/^"(.*)"$/, '$1')), o.info.state, full ? result.replace(/\n\s*/g, ' ') : result]
  })
  return formatTable(['JOB', ...keys, 'STATE', 'RESULT'], rows)
}
