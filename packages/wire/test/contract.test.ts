import t, { type Test } from 'tap'
import protobuf from 'protobufjs'
import { encodeControl, decodeControl, encodeQueue, decodeQueue } from '@mvm/wire'
import { CONTROL_TYPES, ControlSpecs, QueueFrameSpec, QueueHelloSpec, protoRoot, type FieldSpec, type MessageSpec } from '@mvm/wire/internal'
import { controlSamples, queueFrameSample, queueHelloSample } from './samples.js'

// The TypeScript shapes, the field limits and the .proto files must describe the same messages.

const root = protoRoot()
const SCALAR: Record<string, string> = { string: 'string', bytes: 'bytes', uint32: 'uint32', int32: 'int32', uint64: 'uint64', double: 'double', bool: 'bool' }

function specType (f: FieldSpec): string {
  if (f.kind === 'enum' || f.kind === 'message') return f.name
  if (f.kind === 'repeated') return `repeated ${specType(f.of)}`
  if (f.kind === 'map') return `map<${specType(f.key)},${specType(f.value)}>`
  return SCALAR[f.kind]!
}

function protoType (f: protobuf.Field): string {
  if (f instanceof protobuf.MapField) return `map<${f.keyType},${f.type}>`
  return f.repeated ? `repeated ${f.type}` : f.type
}

/** Compares a message's proto fields with its spec, recursing into nested messages. */
function compare (t: Test, type: protobuf.Type, spec: MessageSpec, where: string): void {
  const proto = Object.fromEntries(type.fieldsArray.map((f) => [f.name, protoType(f)]))
  const ours = Object.fromEntries(Object.entries(spec).map(([k, f]) => [k, specType(f)]))
  t.same(ours, proto, `${where}: field names and types match ${type.fullName}`)
  for (const [k, f] of Object.entries(spec)) {
    const inner = f.kind === 'repeated' ? f.of : f
    if (inner.kind === 'message') compare(t, root.lookupType(`mvm.v1.${inner.name}`), inner.fields, `${where}.${k}`)
    if (inner.kind === 'enum') {
      const e = root.lookupEnum(`mvm.v1.${inner.name}`)
      t.same([...inner.values].sort(), Object.keys(e.values).filter((v) => !v.endsWith('_UNSPECIFIED')).sort(), `${where}.${k}: enum values match`)
    }
  }
}

/** Checks a typed sample's keys and value kinds against the proto type. */
function checkSample (t: Test, type: protobuf.Type, sample: Record<string, unknown>, where: string): void {
  t.same(Object.keys(sample).sort(), type.fieldsArray.map((f) => f.name).sort(), `${where}: TS interface keys match ${type.fullName}`)
  for (const f of type.fieldsArray) {
    const v = sample[f.name]
    const one = (x: unknown, path: string): void => {
      if (f.resolvedType instanceof protobuf.Type) { checkSample(t, f.resolvedType, x as Record<string, unknown>, path); return }
      const want = f.resolvedType instanceof protobuf.Enum ? 'string' : f.type === 'bytes' ? 'Uint8Array' : f.type === 'bool' ? 'boolean' : f.type === 'string' ? 'string' : 'number'
      const got = x instanceof Uint8Array ? 'Uint8Array' : typeof x
      if (got !== want) t.fail(`${path}: TS value is ${got}, proto ${f.type} wants ${want}`)
    }
    if (f instanceof protobuf.MapField) Object.values(v as object).forEach((x, i) => { one(x, `${where}.${f.name}[${i}]`) })
    else if (f.repeated) (v as unknown[]).forEach((x, i) => { one(x, `${where}.${f.name}[${i}]`) })
    else one(v, `${where}.${f.name}`)
  }
}

const pascal = (s: string): string => s[0]!.toUpperCase() + s.slice(1)

t.test('control: the Envelope oneof lists exactly the body types', async (t) => {
  const env = root.lookupType('mvm.v1.Envelope')
  t.same(env.oneofs.body!.fieldsArray.map((f) => f.name).sort(), [...CONTROL_TYPES].sort())
  t.same(env.fieldsArray.filter((f) => f.partOf === null).map((f) => `${f.name}:${f.type}`), ['version:uint32', 'id:uint64', 'replyTo:uint64'])
  for (const f of env.oneofs.body!.fieldsArray) t.equal(f.type, pascal(f.name), `${f.name} carries ${pascal(f.name)}`)
})

t.test('control: every body type matches its spec and TS interface', async (t) => {
  for (const k of CONTROL_TYPES) {
    const type = root.lookupType(`mvm.v1.${pascal(k)}`)
    compare(t, type, ControlSpecs[k], k)
    checkSample(t, type, controlSamples[k] as unknown as Record<string, unknown>, k)
  }
})

t.test('queue: hello and frame match their specs and TS interfaces', async (t) => {
  const hello = root.lookupType('mvm.v1.QueueHello')
  const frame = root.lookupType('mvm.v1.QueueFrame')
  compare(t, hello, QueueHelloSpec, 'hello')
  compare(t, frame, QueueFrameSpec, 'frame')
  checkSample(t, hello, queueHelloSample as unknown as Record<string, unknown>, 'hello')
  checkSample(t, frame, queueFrameSample as unknown as Record<string, unknown>, 'frame')
})

t.test('codecs: every sample survives encode/decode unchanged', async (t) => {
  for (const k of CONTROL_TYPES) {
    const body = { type: k, ...controlSamples[k] } as Parameters<typeof encodeControl>[0]['body']
    const env = decodeControl(encodeControl({ id: 9, replyTo: 2 ** 52, body }))
    t.same(env, { version: 1, id: 9, replyTo: 2 ** 52, body }, k)
  }
  t.same(decodeQueue(encodeQueue({ type: 'hello', ...queueHelloSample })), { type: 'hello', ...queueHelloSample })
  t.same(decodeQueue(encodeQueue({ type: 'frame', ...queueFrameSample })), { type: 'frame', ...queueFrameSample })
})
