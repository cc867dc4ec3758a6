import type { Issue } from '@mvm/core'

/**
 * Limits checked on the raw text before the YAML parser sees it. The parser recurses per
 * nesting level and builds a node per item, so a small hostile document (200 KB of `[[[[`)
 * costs seconds of a super-peer's event loop and then overflows the stack; one linear scan
 * with these bounds keeps every accepted document cheap to parse and validate.
 */
export interface TextBounds {
  maxBytes: number
  /** Block indentation levels plus open flow collections ([ and {), at any point. */
  maxDepth: number
  /** A scalar cannot be longer than its line (block scalars aside), so lines bound strings. */
  maxLineChars: number
  /** Anchors and aliases together (`&x`, `*x`); the composer's maxAliasCount bounds expansion. */
  maxAnchors: number
}

export const DEFAULT_TEXT_BOUNDS: TextBounds = {
  maxBytes: 1024 * 1024,
  maxDepth: 64,
  maxLineChars: 64 * 1024,
  maxAnchors: 1000
}

/** The first bound `text` breaks, as an issue at its line and column; undefined when it fits. */
export function checkTextBounds (text: string, file: string, bounds: TextBounds = DEFAULT_TEXT_BOUNDS): Issue | undefined {
  const at = (line: number, column: number, message: string): Issue => ({ file, line, column, path: '', message })
  const bytes = Buffer.byteLength(text, 'utf8')
  if (bytes > bounds.maxBytes) return at(1, 1, `document is ${bytes} bytes, over the limit of ${bounds.maxBytes}`)
  const indents: number[] = []
  let flow = 0
  let quote: '"' | "'" | null = null
  let anchors = 0
  /** Indentation of the line that opened a block scalar (| or >): deeper lines are its text. */
  let blockScalarAt: number | null = null
  let line = 0
  let start = 0
  while (start <= text.length) {
    let end = text.indexOf('\n', start)
    if (end < 0) end = text.length
    line++
    const s = text.slice(start, end)
    start = end + 1
    if (s.length > bounds.maxLineChars) return at(line, 1, `line is ${s.length} characters long, over the limit of ${bounds.maxLineChars}`)
    let i = 0
    while (i < s.length && s[i] === ' ') i++
    const blank = i === s.length || s[i] === '#' || s[i] === '\r'
    if (blockScalarAt !== null) {
      if (blank || i > blockScalarAt) continue
      blockScalarAt = null
    }
    // a continuation line inside a flow collection or a quoted string has no block indentation
    const continued = flow > 0 || quote !== null
    let depth = indents.length
    if (!continued && !blank) {
      while (indents.length > 0 && indents[indents.length - 1]! >= i) indents.pop()
      indents.push(i)
      depth = indents.length
      // "- - - x" nests a sequence per dash on one line
      let j = i
      while (s[j] === '-' && (s[j + 1] === ' ' || j + 1 === s.length)) {
        depth++
        j += 2
        while (s[j] === ' ') j++
      }
      if (depth + flow > bounds.maxDepth) return at(line, i + 1, `nesting deeper than ${bounds.maxDepth} levels at line ${line}`)
    }
    let prev = ' '
    for (let k = i; k < s.length; k++) {
      const c = s[k]!
      if (quote !== null) {
        if (c === '\\' && quote === '"') { k++; continue }
        if (c === quote) {
          if (quote === "'" && s[k + 1] === "'") { k++; continue }
          quote = null
        }
        prev = c
        continue
      }
      if (c === '#' && (prev === ' ' || prev === '\t')) break
      const tokenStart = prev === ' ' || prev === '\t' || prev === '[' || prev === '{' || prev === ',' || k === i
      if ((c === '"' || c === "'") && (tokenStart || flow > 0)) quote = c
      else if ((c === '[' || c === '{') && (flow > 0 || tokenStart)) {
        flow++
        if (depth + flow > bounds.maxDepth) return at(line, k + 1, `nesting deeper than ${bounds.maxDepth} levels at line ${line}`)
      } else if ((c === ']' || c === '}') && flow > 0) flow--
      else if ((c === '&' || c === '*') && tokenStart) {
        if (++anchors > bounds.maxAnchors) return at(line, k + 1, `more than ${bounds.maxAnchors} anchors and aliases (line ${line})`)
      } else if ((c === '|' || c === '>') && flow === 0 && tokenStart && /^[|>][-+0-9]*\s*(#.*)?\r?$/.test(s.slice(k))) {
        blockScalarAt = i
        break
      }
      prev = c
    }
  }
  return undefined
}
