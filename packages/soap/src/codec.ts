import type { Field, Scalar, Shape } from './shapes.js'

/**
 * Converts between node-soap's loose objects and the typed messages, driven by a Shape.
 * `fail` decides the error class: a bad request is the caller's fault (BadRequestError),
 * a bad reply is the peer's (ProtocolError), a bad handler result is ours (internal).
 */
export interface CodecContext { where: string, fail: (message: string) => Error }

const INT_RE = /^[+-]?\d+$/
const BASE64_RE = /^[A-Za-z0-9+/\s]*={0,2}\s*$/

/** Wire object → typed message. Missing lists become [], missing optionals stay absent. */
export function decode (shape: Shape, raw: unknown, ctx: CodecContext): Record<string, unknown> {
  const src = isRecord(raw) ? raw : {}
  const out: Record<string, unknown> = {}
  for (const [name, field] of Object.entries(shape)) {
    const path = `${ctx.where}.${name}`
    const v = src[name]
    if (field.kind === 'labels') { out[name] = decodeLabels(v, path, ctx); continue }
    if (field.many === true) {
      out[name] = asList(v).map((item, i) => decodeOne(field, item, `${path}[${i}]`, ctx))
      continue
    }
    if (v === undefined || (v === null && field.opt === true)) {
      if (field.opt === true) continue
      throw ctx.fail(`${path}: required element is missing`)
    }
    // node-soap reads some empty elements (<content/>) as null: present, with empty text
    out[name] = decodeOne(field, v ?? '', path, ctx)
  }
  return out
}

/** Typed message → wire object, keys in schema order (strict clients such as .NET care). */
export function encode (shape: Shape, msg: unknown, ctx: CodecContext): Record<string, unknown> {
  const src = isRecord(msg) ? msg : {}
  const out: Record<string, unknown> = {}
  for (const [name, field] of Object.entries(shape)) {
    const path = `${ctx.where}.${name}`
    const v = src[name]
    if (field.kind === 'labels') {
      if (v === undefined || v === null) continue
      if (!isRecord(v)) throw ctx.fail(`${path}: expected an object of string labels`)
      out[name] = Object.entries(v).map(([key, value]) => ({ key, value: String(value) }))
      continue
    }
    if (v === undefined || v === null) {
      if (field.opt === true || field.many === true) continue
      throw ctx.fail(`${path}: required field is missing`)
    }
    if (field.many === true) {
      if (!Array.isArray(v)) throw ctx.fail(`${path}: expected an array`)
      out[name] = v.map((item, i) => encodeOne(field, item, `${path}[${i}]`, ctx))
    } else {
      out[name] = encodeOne(field, v, path, ctx)
    }
  }
  return out
}

function decodeOne (field: Field, v: unknown, path: string, ctx: CodecContext): unknown {
  if (typeof field.kind === 'object') return decode(field.kind, v, { ...ctx, where: path })
  if (field.kind === 'labels') return decodeLabels(v, path, ctx)
  const value = decodeScalar(field.kind, text(v), path, ctx)
  if (field.values !== undefined && !field.values.includes(value as string)) {
    throw ctx.fail(`${path}: "${String(value)}" is not one of ${field.values.join(', ')}`)
  }
  return value
}

function encodeOne (field: Field, v: unknown, path: string, ctx: CodecContext): unknown {
  if (typeof field.kind === 'object') return encode(field.kind, v, { ...ctx, where: path })
  switch (field.kind) {
    case 'base64':
      if (!(v instanceof Uint8Array)) throw ctx.fail(`${path}: expected bytes (Uint8Array)`)
      return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')
    case 'dateTime':
      if (v instanceof Date) return v.toISOString()
      return decodeScalar('dateTime', String(v), path, ctx)
    case 'int': case 'long': case 'double':
      if (typeof v !== 'number' || !Number.isFinite(v)) throw ctx.fail(`${path}: expected a finite number`)
      if (field.kind !== 'double' && !Number.isInteger(v)) throw ctx.fail(`${path}: expected an integer`)
      return v
    case 'bool':
      if (typeof v !== 'boolean') throw ctx.fail(`${path}: expected a boolean`)
      return v
    default:
      if (field.values !== undefined && !field.values.includes(String(v))) {
        throw ctx.fail(`${path}: "${String(v)}" is not one of ${field.values.join(', ')}`)
      }
      return String(v)
  }
}

function decodeScalar (kind: Exclude<Scalar, 'labels'>, s: string, path: string, ctx: CodecContext): unknown {
  switch (kind) {
    case 'string': return s
    case 'int': case 'long': {
      const t = s.trim()
      if (!INT_RE.test(t)) throw ctx.fail(`${path}: "${s}" is not an integer`)
      const n = Number(t)
      if (!Number.isSafeInteger(n)) throw ctx.fail(`${path}: ${s} is out of range`)
      return n
    }
    case 'double': {
      const n = Number(s.trim())
      if (s.trim() === '' || !Number.isFinite(n)) throw ctx.fail(`${path}: "${s}" is not a number`)
      return n
    }
    case 'bool': {
      const t = s.trim()
      if (t === 'true' || t === '1') return true
      if (t === 'false' || t === '0') return false
      throw ctx.fail(`${path}: "${s}" is not a boolean`)
    }
    case 'dateTime': {
      const ms = Date.parse(s)
      if (Number.isNaN(ms)) throw ctx.fail(`${path}: "${s}" is not an xs:dateTime`)
      return new Date(ms).toISOString()
    }
    case 'base64':
      if (!BASE64_RE.test(s)) throw ctx.fail(`${path}: not valid base64`)
      return new Uint8Array(Buffer.from(s, 'base64'))
  }
}

function decodeLabels (v: unknown, path: string, ctx: CodecContext): Record<string, string> {
  const out: Record<string, string> = {}
  asList(v).forEach((item, i) => {
    const l = decode({ key: { kind: 'string' }, value: { kind: 'string' } }, item, { ...ctx, where: `${path}[${i}]` })
    out[l.key as string] = l.value as string
  })
  return out
}

/** node-soap gives one element as a value and several as an array; absent as undefined. */
function asList (v: unknown): unknown[] {
  if (v === undefined || v === null) return []
  return Array.isArray(v) ? v : [v]
}

/** node-soap's view of a text element: a string, a typed value, or {} when empty. */
function text (v: unknown): string {
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  if (v instanceof Date) return v.toISOString()
  if (isRecord(v)) {
    if ('$value' in v) return text(v.$value)
    return ''
  }
  return String(v)
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof Uint8Array)
}
