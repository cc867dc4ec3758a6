import { z } from 'zod'
import { isMap, isPair, isScalar, isSeq } from 'yaml'
import type { Issue } from '@mvm/core'
import type { FieldPath, Source } from './source.js'
import { dotted } from './source.js'
import { didYouMean } from './suggest.js'

export type ParamValue = string | number | boolean
export const ParamType = { integer: 'integer', number: 'number', string: 'string', boolean: 'boolean' } as const
export type ParamType = (typeof ParamType)[keyof typeof ParamType]

const scalarSchema = z.union([z.number(), z.string(), z.boolean()])
/** `name: default` or `name: { default, type, description }`; a missing default makes the parameter required. */
export const paramDeclSchema = z.union([scalarSchema, z.object({
  default: scalarSchema.optional(),
  type: z.enum(['integer', 'number', 'string', 'boolean']).optional(),
  description: z.string().optional()
}).strict()])
export const paramsSchema = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'a parameter name is letters, digits and _' }),
  paramDeclSchema
)
export type ParamDecl = z.infer<typeof paramDeclSchema>
export type ParamsDecl = z.infer<typeof paramsSchema>

/** Where an issue about a given parameter override belongs (the CLI flag or the referring file). */
export type OverrideOrigin = (name: string, message: string) => Issue

function typeOf (d: ParamDecl): { type: ParamType | undefined, def: ParamValue | undefined } {
  if (typeof d !== 'object') return { type: typeof d as ParamType, def: d }
  return { type: d.type ?? (d.default === undefined ? undefined : typeof d.default as ParamType), def: d.default }
}

function coerce (v: unknown, type: ParamType | undefined): ParamValue | string {
  // returns the coerced value, or a string starting with '!' describing what was expected
  if (type === undefined) return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : '!expected a string, number or boolean'
  if (type === 'string') return typeof v === 'object' ? '!expected a string' : String(v)
  if (type === 'boolean') {
    if (typeof v === 'boolean') return v
    if (v === 'true') return true
    if (v === 'false') return false
    return '!expected true or false'
  }
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN
  if (!Number.isFinite(n)) return type === 'integer' ? '!expected an integer' : '!expected a number'
  if (type === 'integer' && !Number.isInteger(n)) return '!expected an integer'
  return n
}

/**
 * Declared defaults overlaid with overrides (strings from `--param` are coerced to the declared
 * type, or the default's type). Overriding an undeclared parameter is an error, not a silent no-op.
 */
export function resolveParams (decl: ParamsDecl, overrides: Record<string, unknown>, source: Source, origin: OverrideOrigin): { values: Map<string, ParamValue | undefined>, issues: Issue[] } {
  const values = new Map<string, ParamValue | undefined>()
  const issues: Issue[] = []
  for (const [name, d] of Object.entries(decl)) {
    const { type, def } = typeOf(d)
    if (def !== undefined && type !== undefined) {
      const c = coerce(def, type)
      if (typeof c === 'string' && c.startsWith('!') && type !== 'string') {
        issues.push(source.issueAt(['params', name, 'default'], `default ${JSON.stringify(def)} does not match type ${type}: ${c.slice(1)}`))
      }
    }
    values.set(name, def)
  }
  for (const [name, raw] of Object.entries(overrides)) {
    if (!(name in decl)) {
      const known = Object.keys(decl)
      issues.push(origin(name, `unknown parameter '${name}'${didYouMean(name, known)}; declared: ${known.length === 0 ? 'none' : known.join(', ')}`))
      continue
    }
    const { type } = typeOf(decl[name] as ParamDecl)
    const c = coerce(raw, type)
    if (typeof c === 'string' && c.startsWith('!') && type !== 'string') {
      issues.push(origin(name, `parameter '${name}' = ${JSON.stringify(raw)}: ${c.slice(1)}`))
      continue
    }
    values.set(name, c)
  }
  return { values, issues }
}

const ref = /\$\$\{|\$\{([^}]*)\}/g
const whole = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/

/**
 * Replaces `${name}` in every scalar string except the `params` block itself, in the parsed
 * document so positions stay attached. A scalar that is exactly `${name}` takes the typed value.
 * Returns issues and the dotted paths they concern (so schema checks do not repeat them).
 */
export function substitute (source: Source, values: Map<string, ParamValue | undefined>): { issues: Issue[], paths: Set<string> } {
  const issues: Issue[] = []
  const paths = new Set<string>()
  const problem = (name: string): string | undefined => {
    if (!values.has(name)) return `unresolved parameter '\${${name}}'${didYouMean(name, [...values.keys()])} (declare it under params)`
    if (values.get(name) === undefined) return `parameter '${name}' has no default and no value was given (use --param ${name}=...)`
    return undefined
  }
  const visit = (node: unknown, path: Array<string | number>): void => {
    if (isMap(node)) {
      for (const p of node.items) {
        if (!isPair(p) || !isScalar(p.key)) continue
        const key = String(p.key.value)
        if (path.length === 0 && key === 'params') continue
        visit(p.value, [...path, key])
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => visit(item, [...path, i]))
    } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('${')) {
      const text = node.value
      const exact = whole.exec(text)
      if (exact !== null) {
        const name = exact[1] as string
        const msg = problem(name)
        if (msg === undefined) { node.value = values.get(name); return }
        report(node.range?.[0], text, `\${${name}}`, path, msg)
        return
      }
      node.value = text.replace(ref, (m, name: string | undefined) => {
        if (name === undefined) return '${'
        const msg = problem(name)
        if (msg !== undefined) { report(node.range?.[0], text, m, path, msg); return m }
        return String(values.get(name))
      })
    }
  }
  const report = (start: number | undefined, _text: string, token: string, path: FieldPath, msg: string): void => {
    // point at the `${` itself when it is visible in the source slice of this scalar
    let at
    if (start !== undefined) {
      const idx = source.text.indexOf(token, start)
      const lineEnd = source.text.indexOf('\n', start)
      at = source.position(idx >= 0 && (lineEnd < 0 || idx < lineEnd) ? idx : start)
    }
    issues.push(source.issueAt(path, msg, at))
    paths.add(dotted(path))
  }
  visit(source.doc.contents, [])
  return { issues, paths }
}
