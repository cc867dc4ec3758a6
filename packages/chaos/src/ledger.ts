/** What one submitted thing came to. `expected` = a hostile job or request that failed, as it must. */
export type Outcome = 'correct' | 'wrong' | 'expected' | 'lost'

/** A sample job, a hostile job or a hostile request: everything the run submitted. */
export interface Item {
  id: string
  /** 'sample', or the fault kind that submitted it (hostile-*, soap-*). */
  kind: string
  name: string
  submittedAt: number
  finishedAt?: number
  outcome?: Outcome
  note?: string
}

/** A fault over a time span (an instant for kills and requests, the job's life for hostile jobs). */
export interface Fault {
  kind: string
  at: number
  until: number
  note?: string
}

export interface Row { fault: string, injected: number, submitted: number, correct: number, wrong: number, expected: number, lost: number }

export class Ledger {
  readonly items: Item[] = []
  readonly faults: Fault[] = []

  add (item: Item): Item { this.items.push(item); return item }
  fault (f: Fault): Fault { this.faults.push(f); return f }
  finish (item: Item, outcome: Outcome, note?: string): void {
    item.outcome = outcome
    item.finishedAt = Date.now()
    if (note !== undefined) item.note = note
  }

  /** The fault kinds that hit an item while it was in flight (its own kind excluded). */
  exposure (item: Item, now = Date.now()): string[] {
    const end = item.finishedAt ?? now
    const kinds = new Set<string>()
    for (const f of this.faults) {
      if (f.at <= end && f.until >= item.submittedAt && !(f.kind === item.kind && f.at === item.submittedAt)) kinds.add(f.kind)
    }
    return [...kinds].sort()
  }

  /**
   * One row per fault kind: the items it submitted plus the items in flight while it hit, so
   * a loss shows under every fault it overlapped; `none` holds items no fault touched; TOTAL
   * counts each item once. An item without an outcome at the end is lost.
   */
  rows (kinds: readonly string[], now = Date.now()): Row[] {
    const empty = (fault: string, injected: number): Row => ({ fault, injected, submitted: 0, correct: 0, wrong: 0, expected: 0, lost: 0 })
    const byKind = new Map<string, Row>(kinds.map((k) => [k, empty(k, this.faults.filter((f) => f.kind === k).length)]))
    const none = empty('none', 0)
    const total = empty('TOTAL', this.faults.length)
    const count = (r: Row, it: Item): void => { r.submitted++; r[it.outcome ?? 'lost']++ }
    for (const it of this.items) {
      const hit = new Set(this.exposure(it, now))
      if (it.kind !== 'sample') hit.add(it.kind)
      if (hit.size === 0) count(none, it)
      for (const k of hit) {
        let r = byKind.get(k)
        if (r === undefined) { r = empty(k, 0); byKind.set(k, r) }
        count(r, it)
      }
      count(total, it)
    }
    return [...byKind.values(), none, total]
  }
}

const HEAD = ['FAULT', 'INJECTED', 'SUBMITTED', 'CORRECT', 'WRONG', 'FAILED_AS_EXPECTED', 'LOST'] as const

export function formatRows (rows: Row[]): string {
  const cells = [HEAD as readonly string[], ...rows.map((r) => [r.fault, String(r.injected), String(r.submitted), String(r.correct), String(r.wrong), String(r.expected), String(r.lost)])]
  const widths = HEAD.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)))
  return cells.map((c) => c.map((x, i) => i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n'
}

/** Reads the table back from a run's stdout (the smoke test, and tools that grade a run). */
export function parseRows (text: string): Row[] {
  const lines = text.split('\n')
  const start = lines.findIndex((l) => l.trim().split(/\s+/).join(' ') === HEAD.join(' '))
  if (start < 0) throw new Error('no chaos table (header line FAULT INJECTED ... LOST) in the output')
  const rows: Row[] = []
  for (const line of lines.slice(start + 1)) {
    const f = line.trim().split(/\s+/)
    if (f.length !== HEAD.length) break
    const n = f.slice(1).map(Number)
    if (n.some((x) => !Number.isInteger(x) || x < 0)) throw new Error(`chaos table: bad row "${line}"`)
    rows.push({ fault: f[0]!, injected: n[0]!, submitted: n[1]!, correct: n[2]!, wrong: n[3]!, expected: n[4]!, lost: n[5]! })
    if (f[0] === 'TOTAL') return rows
  }
  throw new Error('chaos table has no TOTAL row')
}
