import type { Issue } from '@mvm/core'
import type { ParsedDocument } from './document.js'
import { expandTopology } from './topology/expand.js'
import type { TopologySpec } from './topology/schema.js'
import type { RankGraph } from './topology/types.js'

/**
 * A malleable job's bounds (`processes: { min, max }`): it starts at `min` ranks and the broker
 * may restart it at any size in [min, max] from a coordinated cut. `auto` (default true) lets the
 * broker grow it into free slots and shrink it for higher-priority work; false: only
 * `mvm resize` changes its size.
 */
export interface Malleable { min: number, max: number, auto: boolean }

/** Shapes whose rank graph exists at every size (mesh only with one dimension). */
export const RESIZABLE_SHAPES = ['ring', 'line', 'star', 'tree', 'mesh', 'complete'] as const

/** The topology spec at another size: the same shape and options, `size` (and a 1-D mesh's dims) set to `n`. */
export function resizeTopology (spec: TopologySpec, n: number): TopologySpec {
  if (spec.shape === 'mesh') return { ...spec, size: n, dims: [n] }
  return { ...spec, size: n } as TopologySpec
}

/** The rank graph of a malleable job at `n` ranks (throws TopologyError when the shape has none). */
export function resizedGraph (spec: TopologySpec, n: number): RankGraph {
  return expandTopology(resizeTopology(spec, n))
}

/**
 * What a malleable profile must also satisfy: a resizable topology family that expands at every
 * size in [min, max] (checked at both ends), and coordinated checkpoints (a resize restarts the
 * ranks from a consistent cut).
 */
export function checkMalleable (doc: ParsedDocument, m: Malleable, topology: TopologySpec | undefined, checkpointMode: string | undefined): Issue[] {
  const issues: Issue[] = []
  if (m.min > m.max) issues.push(doc.source.issueAt(['spec', 'processes', 'min'], `min (${m.min}) must not be above max (${m.max})`))
  if (checkpointMode !== 'coordinated') {
    issues.push(doc.source.issueAt(['spec', 'processes'], 'a malleable job (processes: { min, max }) needs checkpoint: { intervalSec, mode: coordinated }: it is resized at a consistent cut'))
  }
  if (topology === undefined || issues.length > 0) return issues
  const shape = topology.shape
  if (!(RESIZABLE_SHAPES as readonly string[]).includes(shape) || (shape === 'mesh' && topology.dims.length !== 1)) {
    const what = shape === 'mesh' ? `a ${topology.dims.length}-D mesh` : `shape ${shape}`
    issues.push(doc.source.issueAt(['spec', 'topology'], `a malleable job needs a topology that exists at every size (${RESIZABLE_SHAPES.join(', ')}; mesh in one dimension); ${what} does not`))
    return issues
  }
  for (const n of [m.min, m.max]) {
    try {
      resizedGraph(topology, n)
    } catch (err) {
      issues.push(doc.source.issueAt(['spec', 'processes', n === m.min ? 'min' : 'max'], `the ${shape} topology has no graph of ${n} ranks: ${(err as Error).message}`))
    }
  }
  return issues
}
