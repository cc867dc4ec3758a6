import type { Issue } from '@mvm/core'
import type { ParsedDocument } from './document.js'
import { validate } from './document.js'
import { cycleText, relativeRef } from './files.js'
import type { FileRef } from './files.js'
import type { InternalOptions, Loaded } from './internal.js'
import { policySchema, policySections } from './schemas/policy.js'
import type { PolicySpec } from './schemas/policy.js'
import { deepMerge, leafPaths } from './tree.js'
import type { LoadedPolicy, SourceLocation } from './types.js'

function settingSources (doc: ParsedDocument, spec: PolicySpec): Record<string, SourceLocation> {
  const out: Record<string, SourceLocation> = {}
  for (const section of policySections) {
    for (const p of leafPaths({ [section]: spec[section] })) {
      const pos = doc.source.locate(['spec', ...p])
      out[p.join('.')] = { file: doc.source.file, line: pos.line, column: pos.column }
    }
  }
  return out
}

async function loadParent (doc: ParsedDocument, ref: FileRef, target: string, o: InternalOptions): Promise<Loaded<LoadedPolicy>> {
  const parent = relativeRef(ref, target)
  const at = (message: string): Loaded<LoadedPolicy> => ({ issues: [doc.source.issueAt(['spec', 'extends'], message)] })
  if ([...o.stack, ref].some((r) => r.abs === parent.abs)) return at(`circular extends: ${cycleText([...o.stack, ref], parent)}`)
  const sub = await o.loadRef(parent, { ...o, stack: [...o.stack, ref], params: {}, implicitParams: {}, origin: undefined })
  if (sub.missing !== undefined) return at(`extended policy ${sub.missing}`)
  if (sub.result === undefined) return { issues: sub.issues }
  if (sub.result.kind !== 'Policy') return at(`expected a Policy file to extend, ${parent.file} is a ${sub.result.kind}`)
  return { result: sub.result, issues: [] }
}

/**
 * A policy with `extends` takes its parent's settings underneath its own (field by field) and
 * the union of both `enforced` lists; `level` and `scope` stay its own.
 */
export async function finishPolicy (doc: ParsedDocument, ref: FileRef, o: InternalOptions): Promise<Loaded<LoadedPolicy>> {
  const v = validate(policySchema, doc.data, doc)
  const issues = [...doc.issues, ...v.issues]
  if (v.value === undefined) return { issues }
  const { apiVersion, metadata } = v.value
  let spec = v.value.spec
  let sources = settingSources(doc, spec)
  let extendsFiles: string[] = []
  let enforcedAt: Record<string, SourceLocation> = {}
  spec.enforced.forEach((e, i) => {
    const pos = doc.source.locate(['spec', 'enforced', i])
    enforcedAt[e] = { file: doc.source.file, line: pos.line, column: pos.column }
  })
  if (spec.extends !== undefined) {
    const parent = await loadParent(doc, ref, spec.extends, o)
    issues.push(...parent.issues)
    if (parent.result !== undefined) {
      const p = parent.result
      const sections: Record<string, unknown> = {}
      for (const s of policySections) if (p.spec[s] !== undefined) sections[s] = p.spec[s]
      spec = deepMerge(sections, spec) as PolicySpec
      spec.enforced = [...new Set([...p.spec.enforced, ...v.value.spec.enforced])]
      sources = { ...p.sources, ...sources }
      enforcedAt = { ...p.enforcedAt, ...enforcedAt }
      extendsFiles = [p.file, ...p.extendsFiles]
    }
  }
  if (issues.length > 0) return { issues }
  return { result: { kind: 'Policy', file: ref.file, apiVersion, metadata, params: doc.params, spec, sources, enforcedAt, extendsFiles }, issues: [] as Issue[] }
}
