/**
 * Results as people read them. A job's result can be large (heat returns its 4,000-cell grid):
 * printed whole it buries everything else, so by default long arrays and strings are cut with
 * a note saying how much there is and how to see it all; `full` prints everything as JSON.
 */
export interface ResultTextOptions {
  /** Everything, as indented JSON (what `--full` asks for). */
  full?: boolean
  /** One line, for a table cell. */
  oneLine?: boolean
}

/** Array items shown before the cut. */
const HEAD_ITEMS = 8
/** String characters shown before the cut. */
const HEAD_CHARS = 200
/** A table cell is cut here. */
const CELL_CHARS = 60
/** Nesting shown before `{…}`: results are data, not deep trees. */
const MAX_DEPTH = 6

const HINT = '--full or --json for all'

export function formatResult (resultJson: string | undefined, o: ResultTextOptions = {}): string {
  if (resultJson === undefined || resultJson === '') return '(no result)'
  let v: unknown
  try { v = JSON.parse(resultJson) } catch { return resultJson }
  return formatValue(v, o)
}

export function formatValue (v: unknown, o: ResultTextOptions = {}): string {
  if (o.full === true) return typeof v === 'object' && v !== null ? JSON.stringify(v, null, 2) : String(v)
  if (o.oneLine === true) {
    const s = typeof v === 'string' ? v : inline(v, 0)
    return s.length > CELL_CHARS ? s.slice(0, CELL_CHARS - 1) + '…' : s
  }
  if (typeof v === 'string') return cutString(v)
  if (typeof v !== 'object' || v === null) return String(v)
  if (Array.isArray(v)) return inline(v, 0)
  return block(v as Record<string, unknown>, 0).join('\n')
}

/** An object as `key: value` lines, nested objects indented below their key. */
function block (obj: Record<string, unknown>, depth: number): string[] {
  const pad = '  '.repeat(depth)
  const lines: string[] = []
  for (const [k, val] of Object.entries(obj)) {
    if (isPlainObject(val) && Object.keys(val).length > 0 && depth < MAX_DEPTH) {
      lines.push(`${pad}${k}:`, ...block(val, depth + 1))
    } else {
      lines.push(`${pad}${k}: ${typeof val === 'string' ? cutString(val) : inline(val, depth + 1)}`)
    }
  }
  return lines
}

/** A value on one line, long arrays cut to their first items and a count. */
function inline (v: unknown, depth: number): string {
  if (typeof v === 'string') return JSON.stringify(cutString(v))
  if (typeof v !== 'object' || v === null) return String(v)
  if (depth >= MAX_DEPTH) return Array.isArray(v) ? '[…]' : '{…}'
  if (Array.isArray(v)) {
    const head = v.slice(0, HEAD_ITEMS).map((x) => inline(x, depth + 1))
    if (v.length <= HEAD_ITEMS) return `[${head.join(', ')}]`
    return `[${head.join(', ')}, …] (${v.length.toLocaleString('en-US')} values; ${HINT})`
  }
  return `{ ${Object.entries(v).map(([k, x]) => `${k}: ${inline(x, depth + 1)}`).join(', ')} }`
}

function cutString (s: string): string {
  if (s.length <= HEAD_CHARS) return s
  return `${s.slice(0, HEAD_CHARS)}… (${s.length.toLocaleString('en-US')} characters; ${HINT})`
}

function isPlainObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
