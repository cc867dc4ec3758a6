/**
 * A small declarative field checker. Each message of the contract has a spec (see
 * control-spec.ts, queue-spec.ts) that bounds every field; `check` walks a decoded (or
 * to-be-encoded) object, fills proto3 defaults, converts uint64 to number and reports
 * the first problem with its dotted path. The same specs are compared with the .proto
 * files in the contract test, so limits exist for every field.
 */

export type FieldSpec =
  | { kind: 'string', proto: 'string', max: number, required?: boolean, json?: boolean, pattern?: RegExp, check?: (v: string) => string | undefined }
  | { kind: 'bytes', max: number, required?: boolean, check?: (v: Uint8Array) => string | undefined }
  | { kind: 'uint32' | 'int32' | 'uint64', min?: number, max?: number }
  | { kind: 'double', min?: number, max?: number }
  | { kind: 'bool' }
  | { kind: 'enum', name: string, values: readonly string[], required?: boolean }
  | { kind: 'message', name: string, fields: MessageSpec, required?: boolean }
  | { kind: 'repeated', of: FieldSpec, max: number }
  | { kind: 'map', key: FieldSpec, value: FieldSpec, max: number }

export type MessageSpec = Record<string, FieldSpec>

/** A problem at `path`; thrown by `check` and turned into a typed error by the codec. */
export class FieldProblem extends Error {
  constructor (readonly path: string, readonly reason: string) {
    super(`${path}: ${reason}`)
    this.name = 'FieldProblem'
  }
}

export const str = (max: number, opts: { required?: boolean, json?: boolean, pattern?: RegExp, check?: (v: string) => string | undefined } = {}): FieldSpec =>
  ({ kind: 'string', proto: 'string', max, ...opts })
export const bytes = (max: number, opts: { required?: boolean, check?: (v: Uint8Array) => string | undefined } = {}): FieldSpec => ({ kind: 'bytes', max, ...opts })
export const u32 = (max?: number): FieldSpec => max === undefined ? { kind: 'uint32' } : { kind: 'uint32', max }
export const i32 = (): FieldSpec => ({ kind: 'int32' })
export const u64 = (): FieldSpec => ({ kind: 'uint64' })
export const double = (min?: number): FieldSpec => min === undefined ? { kind: 'double' } : { kind: 'double', min }
export const bool = (): FieldSpec => ({ kind: 'bool' })
export const enumOf = (name: string, values: readonly string[]): FieldSpec => ({ kind: 'enum', name, values, required: true })
export const msg = (name: string, fields: MessageSpec, required = false): FieldSpec => ({ kind: 'message', name, fields, required })
export const list = (of: FieldSpec, max: number): FieldSpec => ({ kind: 'repeated', of, max })
export const map = (key: FieldSpec, value: FieldSpec, max: number): FieldSpec => ({ kind: 'map', key, value, max })

const RANGES = { uint32: [0, 0xffff_ffff], int32: [-0x8000_0000, 0x7fff_ffff], uint64: [0, Number.MAX_SAFE_INTEGER] } as const

function toNumber (v: unknown, path: string): number {
  if (typeof v === 'number') return v
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v)
  if (typeof v === 'bigint') return Number(v)
  if (v !== null && typeof v === 'object' && 'low' in v && 'high' in v) return Number(String(v))
  throw new FieldProblem(path, `expected a number, got ${typeof v}`)
}

function checkField (spec: FieldSpec, v: unknown, path: string): unknown {
  switch (spec.kind) {
    case 'string': {
      const s = v ?? ''
      if (typeof s !== 'string') throw new FieldProblem(path, `expected a string, got ${typeof s}`)
      if (s.length > spec.max) throw new FieldProblem(path, `longer than ${spec.max} characters (${s.length})`)
      if (spec.required === true && s === '') throw new FieldProblem(path, 'is required')
      if (s !== '' && spec.pattern !== undefined && !spec.pattern.test(s)) throw new FieldProblem(path, `does not match ${String(spec.pattern)}`)
      if (s !== '' && spec.json === true) {
        try { JSON.parse(s) } catch (e) { throw new FieldProblem(path, `is not valid JSON (${(e as Error).message})`) }
      }
      const bad = s === '' ? undefined : spec.check?.(s)
      if (bad !== undefined) throw new FieldProblem(path, bad)
      return s
    }
    case 'bytes': {
      const b = v ?? new Uint8Array(0)
      if (!(b instanceof Uint8Array)) throw new FieldProblem(path, 'expected bytes (Uint8Array)')
      if (b.byteLength > spec.max) throw new FieldProblem(path, `larger than ${spec.max} bytes (${b.byteLength})`)
      if (spec.required === true && b.byteLength === 0) throw new FieldProblem(path, 'is required')
      const bad = b.byteLength === 0 ? undefined : spec.check?.(b)
      if (bad !== undefined) throw new FieldProblem(path, bad)
      return b
    }
    case 'uint32': case 'int32': case 'uint64': {
      const n = toNumber(v ?? 0, path)
      const [lo, hi] = RANGES[spec.kind]
      if (!Number.isInteger(n) || n < lo || n > hi) throw new FieldProblem(path, `expected a ${spec.kind} in ${lo}..${hi}, got ${n}`)
      if (spec.min !== undefined && n < spec.min) throw new FieldProblem(path, `must be at least ${spec.min}, got ${n}`)
      if (spec.max !== undefined && n > spec.max) throw new FieldProblem(path, `must be at most ${spec.max}, got ${n}`)
      return n
    }
    case 'double': {
      const n = v ?? 0
      if (typeof n !== 'number' || !Number.isFinite(n)) throw new FieldProblem(path, `expected a finite number, got ${String(n)}`)
      if (spec.min !== undefined && n < spec.min) throw new FieldProblem(path, `must be at least ${spec.min}, got ${n}`)
      if (spec.max !== undefined && n > spec.max) throw new FieldProblem(path, `must be at most ${spec.max}, got ${n}`)
      return n
    }
    case 'bool': {
      const b = v ?? false
      if (typeof b !== 'boolean') throw new FieldProblem(path, `expected a boolean, got ${typeof b}`)
      return b
    }
    case 'enum': {
      if (typeof v !== 'string' || !spec.values.includes(v)) {
        throw new FieldProblem(path, `expected one of ${spec.values.join('|')}, got ${v === undefined || v === null ? 'nothing' : JSON.stringify(v)}`)
      }
      return v
    }
    case 'message': {
      if ((v === undefined || v === null) && spec.required === true) throw new FieldProblem(path, 'is required')
      return checkMessage(spec.fields, v ?? {}, path)
    }
    case 'repeated': {
      const a = v ?? []
      if (!Array.isArray(a)) throw new FieldProblem(path, 'expected a list')
      if (a.length > spec.max) throw new FieldProblem(path, `more than ${spec.max} entries (${a.length})`)
      return a.map((x, i) => checkField(spec.of, x, `${path}[${i}]`))
    }
    case 'map': {
      const o = v ?? {}
      if (typeof o !== 'object' || Array.isArray(o)) throw new FieldProblem(path, 'expected an object map')
      const entries = Object.entries(o as Record<string, unknown>)
      if (entries.length > spec.max) throw new FieldProblem(path, `more than ${spec.max} entries (${entries.length})`)
      const out: Record<string, unknown> = {}
      for (const [k, x] of entries) {
        checkField(spec.key, k, `${path}{key ${JSON.stringify(k.slice(0, 40))}}`)
        out[k] = checkField(spec.value, x, `${path}[${JSON.stringify(k.slice(0, 40))}]`)
      }
      return out
    }
  }
}

/** Checks every field of `spec` in `obj`, rejecting unknown fields; returns a clean copy. */
export function checkMessage (spec: MessageSpec, obj: unknown, path: string): Record<string, unknown> {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new FieldProblem(path, 'expected a message object')
  const src = obj as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(src)) {
    if (!(k in spec) && src[k] !== undefined) throw new FieldProblem(path, `unknown field "${k}"`)
  }
  for (const [k, f] of Object.entries(spec)) out[k] = checkField(f, src[k], path === '' ? k : `${path}.${k}`)
  return out
}
