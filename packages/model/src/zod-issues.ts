import type { z } from 'zod'
import type { Issue } from '@mvm/core'
import { keyOffset } from './source.js'
import type { FieldPath, Source } from './source.js'
import { didYouMean } from './suggest.js'

type ZIssue = z.core.$ZodIssue
type RawIssue = z.core.$ZodRawIssue

/** Short, quoted rendering of a value for "got …" in messages. */
export function show (v: unknown): string {
  if (v === undefined) return 'nothing'
  if (v === null) return 'null (empty value)'
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 37) + '...' : v)
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a map'
  return String(v)
}

function listOf (opts: string[]): string {
  return opts.length <= 12 ? opts.join(', ') : `${opts.slice(0, 8).join(', ')}, ... (${opts.length} in all)`
}

const typeNames: Record<string, string> = {
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'a map',
  record: 'a map',
  array: 'a list',
  tuple: 'a list'
}

function isIntSchema (iss: RawIssue): boolean {
  type Z = { _zod?: { def?: { format?: string } } } | undefined
  const fmt = (x: unknown): string | undefined => (x as Z)?._zod?.def?.format
  return fmt(iss.inst) === 'safeint' || fmt((iss as { schema?: unknown }).schema) === 'safeint'
}

/**
 * Per-parse error map: turns zod's issue into a message that says what was expected and what
 * was found. Schemas may still carry their own messages (those win, as zod intends).
 */
export function createErrorMap (): ErrorMapping {
  const known = new WeakMap<object, string[]>()
  const map = (iss: RawIssue): string | undefined => {
    if (iss.code === 'unrecognized_keys' && typeof iss.input === 'object' && iss.input !== null) {
      // the final issue does not keep the schema, so remember which keys the object allows
      const shape = (iss.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape
      if (shape !== undefined) known.set(iss.input, Object.keys(shape))
    }
    return messageFor(iss)
  }
  return { map, known }
}

export interface ErrorMapping {
  map: (iss: RawIssue) => string | undefined
  known: WeakMap<object, string[]>
}

function messageFor (iss: RawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type': {
      if (iss.input === undefined) return 'missing required field'
      const expected = iss.expected === 'number' && isIntSchema(iss) ? 'int' : iss.expected
      return `expected ${typeNames[expected] ?? expected}, got ${show(iss.input)}`
    }
    case 'too_small': {
      const op = iss.inclusive === false ? '>' : '>='
      if (iss.origin === 'array') return `expected at least ${String(iss.minimum)} item(s), got ${(iss.input as unknown[]).length}`
      if (iss.origin === 'string') return `expected at least ${String(iss.minimum)} character(s), got ${show(iss.input)}`
      const what = isIntSchema(iss) ? 'an integer' : 'a number'
      return `expected ${what} ${op} ${String(iss.minimum)}, got ${show(iss.input)}`
    }
    case 'too_big': {
      const op = iss.inclusive === false ? '<' : '<='
      if (iss.origin === 'array') return `expected at most ${String(iss.maximum)} item(s)`
      const what = isIntSchema(iss) ? 'an integer' : 'a number'
      return `expected ${what} ${op} ${String(iss.maximum)}, got ${show(iss.input)}`
    }
    case 'invalid_value': {
      const opts = iss.values.map((v) => String(v))
      const hint = typeof iss.input === 'string' ? didYouMean(iss.input, opts) : ''
      return `expected one of ${listOf(opts)}, got ${show(iss.input)}${hint}`
    }
    case 'invalid_union': {
      const d = iss as { note?: string, discriminator?: string, options?: unknown[] }
      if (d.note !== 'No matching discriminator' || d.discriminator === undefined) return undefined
      const opts = (d.options ?? []).map(String)
      const got = (iss.input as Record<string, unknown> | undefined)?.[d.discriminator]
      if (got === undefined) return `missing required field '${d.discriminator}' (one of ${opts.join(', ')})`
      return `expected one of ${listOf(opts)}, got ${show(got)}${typeof got === 'string' ? didYouMean(got, opts) : ''}`
    }
    case 'invalid_format':
      return `expected ${iss.format === 'regex' ? 'a value matching ' + String((iss as { pattern?: unknown }).pattern) : iss.format}, got ${show(iss.input)}`
    default:
      return undefined
  }
}

/**
 * Converts zod issues to file issues. Unknown keys become one issue per key at the key's own
 * line, with a suggestion taken from the object's declared fields; a failed union reports the
 * alternative that came closest rather than "invalid input".
 */
export function toIssues (issues: readonly ZIssue[], source: Source, mapping: ErrorMapping, base: FieldPath = []): Issue[] {
  const out: Issue[] = []
  for (const iss of issues) {
    const path: FieldPath = [...base, ...(iss.path as Array<string | number>)]
    if (iss.code === 'unrecognized_keys') {
      const known = typeof iss.input === 'object' && iss.input !== null ? mapping.known.get(iss.input) ?? [] : []
      for (const k of iss.keys) {
        const off = keyOffset(source.doc, path, k)
        const at = off === undefined ? undefined : source.position(off)
        out.push(source.issueAt([...path, k], `unknown field '${k}'${didYouMean(k, known)}`, at))
      }
    } else if (iss.code === 'invalid_union' && iss.errors.length > 0) {
      out.push(...toIssues(closestBranch(iss.errors), source, mapping, path))
    } else if (iss.code === 'invalid_type' && iss.input === undefined && path.length > 0) {
      const name = path[path.length - 1]
      out.push(source.issueAt(path, `missing required field '${String(name)}'`))
    } else {
      out.push(source.issueAt(path, iss.message))
    }
  }
  return out
}

/** The union branch a user most likely meant: the one that failed deepest with fewest problems. */
function closestBranch (branches: ZIssue[][]): ZIssue[] {
  const score = (b: ZIssue[]): number => {
    const rootType = b.some((i) => i.path.length === 0 && i.code === 'invalid_type') ? 1000 : 0
    return rootType + b.length
  }
  let best = branches[0] ?? []
  for (const b of branches) if (score(b) < score(best)) best = b
  return best
}
