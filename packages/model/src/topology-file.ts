import type { Issue } from '@mvm/core'
import { expandTopology, TopologyError, topologySpecSchema } from './topology/index.js'
import type { RankGraph } from './topology/types.js'
import type { FieldPath, Source } from './source.js'
import type { ParsedDocument } from './document.js'
import { validate } from './document.js'
import { documentSchema } from './schemas/common.js'
import type { LoadedTopology } from './types.js'

export const topologySchema = documentSchema('Topology', topologySpecSchema)

/**
 * Expands a validated spec; a semantic problem (butterfly of 6, dangling edge) becomes an
 * issue at the field the topology code names, `base` being where the spec sits in the file.
 */
export function expandAt (spec: unknown, source: Source, base: FieldPath): { graph?: RankGraph, issues: Issue[] } {
  try {
    return { graph: expandTopology(spec), issues: [] }
  } catch (err) {
    if (err instanceof TopologyError) return { issues: [source.issueAt([...base, ...err.path], err.message)] }
    return { issues: [source.issueAt(base, `cannot expand the topology: ${(err as Error).message}`)] }
  }
}

export function finishTopology (doc: ParsedDocument): { result?: LoadedTopology, issues: Issue[] } {
  const v = validate(topologySchema, doc.data, doc)
  const issues = [...doc.issues, ...v.issues]
  if (v.value === undefined || issues.length > 0) return { issues }
  const x = expandAt(v.value.spec, doc.source, ['spec'])
  if (x.graph === undefined) return { issues: x.issues }
  const { apiVersion, metadata, spec } = v.value
  return { result: { kind: 'Topology', file: doc.source.file, apiVersion, metadata, params: doc.params, spec, graph: x.graph }, issues: [] }
}
