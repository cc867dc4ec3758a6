import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument } from 'yaml'
import type { Document, Node as YamlNode } from 'yaml'
import type { Issue } from '@mvm/core'

export type FieldPath = ReadonlyArray<string | number>

export interface Position { line: number, column: number }

/**
 * A parsed YAML file that can answer "where is this field?". Every later stage (parameters,
 * schema, topology semantics) reports problems through `issueAt`, so all of them carry the
 * line and column of the node that caused them.
 */
export interface Source {
  file: string
  text: string
  doc: Document.Parsed
  position: (offset: number) => Position
  locate: (path: FieldPath) => Position
  issueAt: (path: FieldPath, message: string, at?: Position) => Issue
}

export function dotted (path: FieldPath): string {
  return path.map(String).join('.')
}

/** Parses text keeping CST ranges; YAML syntax errors come back as issues, not exceptions. */
export function parseSource (text: string, file: string): { source: Source, issues: Issue[] } {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true })
  const position = (offset: number): Position => {
    const p = lineCounter.linePos(Math.max(0, Math.min(offset, text.length)))
    return { line: p.line, column: p.col }
  }
  const locate = (path: FieldPath): Position => {
    const off = locateOffset(doc, path)
    return off === undefined ? { line: 1, column: 1 } : position(off)
  }
  const issueAt = (path: FieldPath, message: string, at?: Position): Issue => {
    const p = at ?? locate(path)
    return { file, line: p.line, column: p.column, path: dotted(path), message }
  }
  const source: Source = { file, text, doc, position, locate, issueAt }
  // one error per line: after the first, the parser's recovery mostly reports its own confusion
  const lines = new Set<number>()
  const issues: Issue[] = []
  for (const e of doc.errors) {
    const p = position(e.pos[0])
    if (lines.has(p.line)) continue
    lines.add(p.line)
    const lineText = text.split('\n')[p.line - 1] ?? ''
    const hint = /[[{].*\$\{|\$\{.*[\]}]/.test(lineText) ? ' (inside [ ] or { }, write "${name}" in quotes)' : ''
    issues.push({ file, line: p.line, column: p.column, path: '', message: `YAML syntax error: ${firstLine(e.message)}${hint}` })
  }
  return { source, issues }
}

function firstLine (s: string): string {
  return s.split('\n')[0] ?? s
}

/**
 * Offset of the deepest existing node on `path`. A field that is missing is reported at its
 * parent's key (the line a reader would add it under), never at the top of the file.
 */
function locateOffset (doc: Document.Parsed, path: FieldPath): number | undefined {
  let node: unknown = doc.contents
  let best: number | undefined = rangeStart(node)
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyOf(p.key) === String(seg))
      if (pair === undefined) return best
      const keyStart = rangeStart(pair.key)
      node = pair.value
      best = rangeStart(node) ?? keyStart ?? best
      // a key with an empty value: point at the key, the value's range is past the colon
      if (node === null || (isScalar(node) && node.value === null)) best = keyStart ?? best
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg]
      if (item === undefined) return best
      node = item
      best = rangeStart(node) ?? best
    } else {
      return best
    }
  }
  return best
}

/** Offset of the key of `path` (for "unknown field" issues the key itself is the culprit). */
export function keyOffset (doc: Document.Parsed, parent: FieldPath, key: string): number | undefined {
  const node = parent.length === 0 ? doc.contents : doc.getIn(parent as Array<string | number>, true)
  if (!isMap(node)) return undefined
  const pair = node.items.find((p) => isPair(p) && keyOf(p.key) === key)
  return pair === undefined ? undefined : rangeStart(pair.key)
}

function keyOf (k: unknown): string | undefined {
  if (isScalar(k)) return String(k.value)
  return undefined
}

function rangeStart (n: unknown): number | undefined {
  const r = (n as YamlNode | null | undefined)?.range
  return r === undefined || r === null ? undefined : r[0]
}
