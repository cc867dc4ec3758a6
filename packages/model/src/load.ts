import { AbortError, NotFoundError, ValidationError } from '@mvm/core'
import { parseText, sortIssues } from './document.js'
import { describeReadError, readText, rootRef } from './files.js'
import type { FileRef } from './files.js'
import type { InternalOptions, Loaded } from './internal.js'
import { finishTopology } from './topology-file.js'
import { finishProfile } from './profile-file.js'
import { finishPolicy } from './policy-file.js'
import { finishNodeConfig } from './node-config-file.js'
import { finishWorkflow } from './workflow-file.js'
import type { LoadOptions, LoadedNodeConfig, LoadedPolicy, LoadedProfile, LoadedTopology, LoadedWorkflow, MvmDocument } from './types.js'
import type { RankGraph } from './topology/types.js'

async function loadParsed (text: string, ref: FileRef, o: InternalOptions): Promise<Loaded<MvmDocument>> {
  const p = parseText(text, ref.file, o)
  if (p.doc === undefined) return { issues: p.issues }
  switch (p.doc.kind) {
    case 'Topology': return finishTopology(p.doc)
    case 'JobProfile': return await finishProfile(p.doc, ref, o)
    case 'Policy': return await finishPolicy(p.doc, ref, o)
    case 'NodeConfig': return finishNodeConfig(p.doc, ref)
    case 'Workflow': return await finishWorkflow(p.doc, ref, o)
  }
}

const loadRef: InternalOptions['loadRef'] = async (ref, o) => {
  o.signal?.throwIfAborted()
  const text = await readText(ref, o.signal)
  if (typeof text !== 'string') return { issues: [], missing: describeReadError(ref, text) }
  return await loadParsed(text, ref, o)
}

function internal (opts: LoadOptions): InternalOptions {
  const o: InternalOptions = { stack: [], loadRef, params: opts.params ?? {} }
  if (opts.signal !== undefined) o.signal = opts.signal
  if (opts.inputs !== undefined) o.inputs = opts.inputs
  return o
}

function settle<T> (r: Loaded<T>): T {
  if (r.issues.length > 0 || r.result === undefined) throw new ValidationError(sortIssues(r.issues))
  return r.result
}

function rethrowAbort (err: unknown, signal?: AbortSignal): never {
  if (signal?.aborted === true && !(err instanceof ValidationError)) throw new AbortError()
  throw err
}

/**
 * Loads YAML text as if it were the file `file` (relative references resolve against its folder).
 * @throws ValidationError with every issue found
 */
export async function loadText (text: string, file: string, opts: LoadOptions = {}): Promise<MvmDocument> {
  try {
    return settle(await loadParsed(text, rootRef(file), internal(opts)))
  } catch (err) { rethrowAbort(err, opts.signal) }
}

/**
 * Loads any MVM file; the result is discriminated by `kind`.
 * @throws NotFoundError when the file cannot be read, ValidationError with every issue found
 */
export async function loadFile (file: string, opts: LoadOptions = {}): Promise<MvmDocument> {
  try {
    const ref = rootRef(file)
    const r = await loadRef(ref, internal(opts))
    if (r.missing !== undefined) throw new NotFoundError(r.missing)
    return settle(r)
  } catch (err) { rethrowAbort(err, opts.signal) }
}

async function loadKind<K extends MvmDocument['kind']> (file: string, kind: K, opts: LoadOptions): Promise<Extract<MvmDocument, { kind: K }>> {
  const doc = await loadFile(file, opts)
  if (doc.kind !== kind) {
    throw new ValidationError([{ file, line: 1, column: 1, path: 'kind', message: `expected a ${kind} file, got kind ${doc.kind}` }])
  }
  return doc as Extract<MvmDocument, { kind: K }>
}

export async function loadProfile (file: string, opts: LoadOptions = {}): Promise<LoadedProfile> {
  return await loadKind(file, 'JobProfile', opts)
}
export async function loadPolicy (file: string, opts: LoadOptions = {}): Promise<LoadedPolicy> {
  return await loadKind(file, 'Policy', opts)
}
export async function loadWorkflow (file: string, opts: LoadOptions = {}): Promise<LoadedWorkflow> {
  return await loadKind(file, 'Workflow', opts)
}
export async function loadNodeConfig (file: string, opts: LoadOptions = {}): Promise<LoadedNodeConfig> {
  return await loadKind(file, 'NodeConfig', opts)
}
export async function loadTopologyFile (file: string, opts: LoadOptions = {}): Promise<{ doc: LoadedTopology, graph: RankGraph }> {
  const doc = await loadKind(file, 'Topology', opts)
  return { doc, graph: doc.graph }
}

