import path from 'node:path'
import type { ParsedDocument } from './document.js'
import { validate } from './document.js'
import { cycleText, describeReadError, readText, relativeRef } from './files.js'
import type { FileRef } from './files.js'
import type { InternalOptions, Loaded } from './internal.js'
import { jobProfileSchema } from './schemas/profile.js'
import type { JobProfileDocument } from './schemas/profile.js'
import { expandAt } from './topology-file.js'
import { resolveEnvironment, resolveInputs, resolveOutputs } from './data-files.js'
import type { RankGraph } from './topology/types.js'
import type { TopologySpec } from './topology/index.js'
import type { LoadedProfile, ProgramSource } from './types.js'
import { checkMalleable } from './malleable.js'

const languages: Record<string, 'ts' | 'js'> = { '.ts': 'ts', '.mts': 'ts', '.js': 'js', '.mjs': 'js' }

async function loadProgram (doc: ParsedDocument, ref: FileRef, program: JobProfileDocument['spec']['program'], o: InternalOptions): Promise<Loaded<ProgramSource>> {
  if (typeof program !== 'string') return { result: { source: program.inline, language: program.language }, issues: [] }
  const at = (message: string): Loaded<ProgramSource> => ({ issues: [doc.source.issueAt(['spec', 'program'], message)] })
  const language = languages[path.extname(program)]
  if (language === undefined) return at(`expected a .ts or .js program file, got ${JSON.stringify(program)}`)
  const target = relativeRef(ref, program)
  const text = await readText(target, o.signal)
  if (typeof text !== 'string') return at(`program ${describeReadError(target, text)} (paths are relative to the profile's folder)`)
  return { result: { path: target.abs, source: text, language }, issues: [] }
}

interface ResolvedTopology { graph: RankGraph, spec: TopologySpec, file?: string }

async function loadTopology (doc: ParsedDocument, ref: FileRef, spec: JobProfileDocument['spec'], o: InternalOptions): Promise<Loaded<ResolvedTopology>> {
  const t = spec.topology
  if (typeof t === 'object' && !('file' in t)) {
    const x = expandAt(t, doc.source, ['spec', 'topology'])
    return x.graph === undefined ? { issues: x.issues } : { result: { graph: x.graph, spec: t }, issues: [] }
  }
  const fileField = typeof t === 'string' ? ['spec', 'topology'] : ['spec', 'topology', 'file']
  const target = relativeRef(ref, typeof t === 'string' ? t : t.file)
  const at = (message: string): Loaded<ResolvedTopology> => ({ issues: [doc.source.issueAt(fileField, message)] })
  if ([...o.stack, ref].some((r) => r.abs === target.abs)) return at(`circular file reference: ${cycleText([...o.stack, ref], target)}`)
  const given = typeof t === 'string' ? {} : t.params ?? {}
  const sub = await o.loadRef(target, {
    ...o,
    stack: [...o.stack, ref],
    params: given,
    // a topology that declares `size` gets the profile's process count unless told otherwise
    implicitParams: spec.processes === undefined ? {} : { size: typeof spec.processes === 'number' ? spec.processes : spec.processes.min },
    origin: (name, message) => doc.source.issueAt(typeof t === 'string' ? ['spec', 'topology'] : ['spec', 'topology', 'params', name], message)
  })
  if (sub.missing !== undefined) return at(`topology ${sub.missing}`)
  if (sub.result === undefined) return { issues: sub.issues }
  if (sub.result.kind !== 'Topology') return at(`expected a Topology file, ${target.file} is a ${sub.result.kind}`)
  return { result: { graph: sub.result.graph, spec: sub.result.spec, file: target.abs }, issues: [] }
}

export async function finishProfile (doc: ParsedDocument, ref: FileRef, o: InternalOptions): Promise<Loaded<LoadedProfile>> {
  const v = validate(jobProfileSchema, doc.data, doc)
  const issues = [...doc.issues, ...v.issues]
  if (v.value === undefined) return { issues }
  const { apiVersion, metadata, spec } = v.value
  const program = await loadProgram(doc, ref, spec.program, o)
  const topology = await loadTopology(doc, ref, spec, o)
  const inputs = await resolveInputs(doc, ref, spec.inputs, o.inputs ?? { local: true })
  const env = await resolveEnvironment(doc, ref, spec.environment, o.inputs ?? { local: true })
  issues.push(...program.issues, ...topology.issues, ...inputs.issues, ...env.issues)
  const size = topology.result?.graph.size
  const malleable = typeof spec.processes === 'object' ? spec.processes : undefined
  const processes = malleable?.min ?? spec.processes as number | undefined
  // a malleable job's outputs may come from any rank it has at the end: name them for max
  const outputs = resolveOutputs(doc, spec.outputs, malleable?.max ?? size ?? processes)
  issues.push(...outputs.issues)
  if (size !== undefined && processes !== undefined && processes !== size) {
    issues.push(doc.source.issueAt(malleable === undefined ? ['spec', 'processes'] : ['spec', 'processes', 'min'], `processes is ${processes} but the topology has ${size} ranks`))
  }
  if (malleable !== undefined) issues.push(...checkMalleable(doc, malleable, topology.result?.spec, spec.checkpoint?.mode))
  // a cut stores the messages in flight as JSON and its markers travel as JSON values
  if (spec.checkpoint?.mode === 'coordinated' && spec.queue.encoding !== 'json') {
    issues.push(doc.source.issueAt(['spec', 'checkpoint', 'mode'], `checkpoint mode coordinated needs queue.encoding json (it is ${spec.queue.encoding}): cuts keep the messages in flight as JSON`))
  }
  if (issues.length > 0 || program.result === undefined || topology.result === undefined) return { issues }
  const result: LoadedProfile = {
    kind: 'JobProfile',
    file: ref.file,
    apiVersion,
    metadata,
    params: doc.params,
    spec: { ...spec, processes: processes ?? topology.result.graph.size },
    ...(malleable === undefined ? {} : { malleable }),
    program: program.result,
    topology: topology.result,
    inputs: [...inputs.inputs, ...env.inputs],
    outputs: outputs.outputs
  }
  return { result, issues: [] }
}
