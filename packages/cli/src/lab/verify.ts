/** What a sample profile promises (`spec.expect`): a value, or a value with a tolerance. */
export interface Expectation { result?: unknown, tolerance?: number }

export interface Verdict { ok: boolean, note?: string }

export function verify (resultJson: string | undefined, expect: unknown): Verdict {
  if (expect === undefined || expect === null) return { ok: true, note: 'no expectation' }
  const e = expect as Expectation
  let actual: unknown
  try { actual = resultJson === undefined || resultJson === '' ? undefined : JSON.parse(resultJson) } catch { return { ok: false, note: 'result is not JSON' } }
  return close(actual, e.result, e.tolerance ?? 0) ? { ok: true, note: 'as expected' } : { ok: false, note: `expected ${JSON.stringify(e.result)}` }
}

/**
 * Does `a` (the actual result) meet `b` (the expectation)? Numbers may differ by `tol` (science
 * results are compared to 1e-9); objects need only the expected keys, so a profile can pin a
 * checksum without listing a whole grid; arrays must match element by element.
 */
export function close (a: unknown, b: unknown, tol: number): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= tol
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => close(x, b[i], tol))
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    return Object.keys(b).every((k) => k in a && close((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], tol))
  }
  return a === b
}
