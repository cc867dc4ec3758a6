import { z } from 'zod'

/** The slice of JSON Schema that z.toJSONSchema emits and the field list reads. */
interface Js {
  type?: string | string[]
  const?: unknown
  enum?: unknown[]
  default?: unknown
  properties?: Record<string, Js>
  required?: string[]
  additionalProperties?: Js | boolean
  items?: Js
  anyOf?: Js[]
  oneOf?: Js[]
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  minItems?: number
  minLength?: number
  pattern?: string
  format?: string
}

export interface FieldLine { path: string, type: string, required: boolean, default?: string }

/**
 * Every field of a zod schema, dotted path first, as the validator accepts it (the input side:
 * defaults are what an absent field becomes). Generated, so `mvm help` cannot drift from the schema.
 */
export function schemaFields (schema: z.ZodType): FieldLine[] {
  const js = z.toJSONSchema(schema, { unrepresentable: 'any', io: 'input' }) as Js
  const out: FieldLine[] = []
  walk(js, '', out)
  return out
}

function walk (js: Js, path: string, out: FieldLine[]): void {
  const req = new Set(js.required ?? [])
  for (const [name, p] of Object.entries(js.properties ?? {})) {
    const at = path === '' ? name : `${path}.${name}`
    out.push({ path: at, type: typeOf(p), required: req.has(name), ...(p.default !== undefined ? { default: JSON.stringify(p.default) } : {}) })
    into(p, at, out)
  }
}

/** Fields inside a field: its object, its list's objects, a map's values, each variant of a union. */
function into (p: Js, at: string, out: FieldLine[]): void {
  if (p.properties !== undefined) walk(p, at, out)
  if (p.items !== undefined) into(p.items, `${at}[]`, out)
  if (typeof p.additionalProperties === 'object' && p.properties === undefined) into(p.additionalProperties, `${at}.<name>`, out)
  for (const v of [...(p.anyOf ?? []), ...(p.oneOf ?? [])]) {
    const tag = Object.entries(v.properties ?? {}).find(([, x]) => x.const !== undefined)
    into(v, tag !== undefined ? `${at}(${tag[0]}=${String(tag[1].const)})` : at, out)
  }
}

function typeOf (p: Js): string {
  if (p.const !== undefined) return JSON.stringify(p.const)
  if (p.enum !== undefined) return p.enum.map((e) => String(e)).join(' | ')
  const alts = p.anyOf ?? p.oneOf
  if (alts !== undefined) return [...new Set(alts.map(typeOf))].join(' | ')
  const t = Array.isArray(p.type) ? p.type.join(' | ') : p.type
  if (t === 'array') return `list of ${p.items !== undefined ? typeOf(p.items) : 'any'}${p.minItems !== undefined && p.minItems > 0 ? ` (at least ${p.minItems})` : ''}`
  if (t === 'object') {
    if (p.properties !== undefined) return 'object'
    return typeof p.additionalProperties === 'object' ? `map of ${typeOf(p.additionalProperties)}` : 'object'
  }
  if (t === undefined) return 'any'
  const bounds: string[] = []
  if (p.minimum !== undefined) bounds.push(`>= ${p.minimum}`)
  if (p.exclusiveMinimum !== undefined) bounds.push(`> ${p.exclusiveMinimum}`)
  if (p.maximum !== undefined && p.maximum < Number.MAX_SAFE_INTEGER) bounds.push(`<= ${p.maximum}`)
  if (p.minLength !== undefined && p.minLength > 0) bounds.push('not empty')
  if (p.format !== undefined) bounds.push(p.format)
  return bounds.length > 0 ? `${t} (${bounds.join(', ')})` : t
}
