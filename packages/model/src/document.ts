import type { z } from 'zod'
import type { Issue } from '@mvm/core'
import { parseSource } from './source.js'
import { checkTextBounds } from './bounds.js'
import type { FieldPath, Source } from './source.js'
import { paramsSchema, resolveParams, substitute } from './params.js'
import type { OverrideOrigin, ParamValue } from './params.js'
import { createErrorMap, toIssues } from './zod-issues.js'
import { headerSchema } from './schemas/common.js'
import type { Kind } from './schemas/common.js'

export interface ParsedDocument {
  source: Source
  kind: Kind
  /** The document after parameter substitution, before schema validation. */
  data: Record<string, unknown>
  params: Record<string, ParamValue>
  issues: Issue[]
  /** Paths already reported (an unresolved `${x}`), so the schema does not report them again. */
  reported: Set<string>
}

export interface ParseOptions {
  params?: Record<string, unknown>
  /** Values used for declared parameters nobody overrode (a profile's `processes` → `size`). */
  implicitParams?: Record<string, ParamValue>
  origin?: OverrideOrigin
}

/**
 * The stages every kind shares: YAML syntax, header, parameter declarations, substitution.
 * Returns undefined (with issues) when a stage fails so badly that later ones would only
 * produce noise.
 */
export function parseText (text: string, file: string, opts: ParseOptions = {}): { doc?: ParsedDocument, issues: Issue[] } {
  // before the parser: its cost grows with nesting and node count, not only with size
  const over = checkTextBounds(text, file)
  if (over !== undefined) return { issues: [over] }
  const { source, issues } = parseSource(text, file)
  if (issues.length > 0) return { issues }
  let raw: unknown
  try {
    raw = source.doc.toJS({ maxAliasCount: 1000 })
  } catch (err) {
    return { issues: [source.issueAt([], `cannot read the YAML document: ${(err as Error).message}`)] }
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { issues: [source.issueAt([], `expected a YAML map with apiVersion, kind, metadata and spec, got ${raw === null || raw === undefined ? 'an empty document' : Array.isArray(raw) ? 'a list' : 'a single value'}`)] }
  }
  const mapping = createErrorMap()
  const header = headerSchema.safeParse(raw, { error: mapping.map, reportInput: true })
  if (!header.success) return { issues: toIssues(header.error.issues, source, mapping) }

  const declared = paramsSchema.safeParse((raw as Record<string, unknown>).params ?? {}, { error: mapping.map, reportInput: true })
  if (!declared.success) return { issues: toIssues(declared.error.issues, source, mapping, ['params']) }

  const origin: OverrideOrigin = opts.origin ?? ((name, message) => source.issueAt(['params', name], message))
  const overrides = { ...opts.params }
  for (const [k, v] of Object.entries(opts.implicitParams ?? {})) {
    if (k in declared.data && !(k in overrides)) overrides[k] = v
  }
  const resolved = resolveParams(declared.data, overrides, source, origin)
  const sub = substitute(source, resolved.values)
  const params: Record<string, ParamValue> = {}
  for (const [k, v] of resolved.values) if (v !== undefined) params[k] = v
  return {
    doc: {
      source,
      kind: header.data.kind,
      data: source.doc.toJS({ maxAliasCount: 1000 }) as Record<string, unknown>,
      params,
      issues: [...resolved.issues, ...sub.issues],
      reported: sub.paths
    },
    issues: []
  }
}

/** Validates with a zod schema; issues land at the line/column of the offending node. */
export function validate<S extends z.ZodType> (schema: S, value: unknown, doc: ParsedDocument, base: FieldPath = []): { value?: z.output<S>, issues: Issue[] } {
  const mapping = createErrorMap()
  const r = schema.safeParse(value, { error: mapping.map, reportInput: true })
  if (r.success) return { value: r.data, issues: [] }
  const issues = toIssues(r.error.issues, doc.source, mapping, base)
    .filter((i) => ![...doc.reported].some((p) => i.path === p || i.path.startsWith(p + '.')))
  return { issues }
}

export function sortIssues (issues: Issue[]): Issue[] {
  const seen = new Set<string>()
  return issues
    .filter((i) => { const k = `${i.file}:${i.line}:${i.column}:${i.message}`; if (seen.has(k)) return false; seen.add(k); return true })
    .sort((a, b) => a.file === b.file ? a.line - b.line || a.column - b.column : 0)
}
