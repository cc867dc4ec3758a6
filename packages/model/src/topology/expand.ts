import { TopologyError } from './errors.js'
import { topologySpecSchema } from './schema.js'
import type { TopologySpec, TopologySpecInput } from './schema.js'
import type { RankGraph } from './types.js'
import { expandComplete, expandLine, expandRing, expandStar } from './shapes/simple.js'
import { expandGrid } from './shapes/grid.js'
import { expandTree } from './shapes/tree.js'
import { expandButterfly, expandHypercube } from './shapes/cube.js'
import { expandGraph } from './shapes/graph.js'

/**
 * Turns a topology `spec` into its rank graph. The spec may be raw (parameters substituted,
 * numbers still strings) or already parsed by `topologySpecSchema`; it is validated here
 * either way, so callers holding a plain object cannot skip the checks.
 *
 * @throws TopologyError with `path` relative to `spec`
 */
export function expandTopology (spec: TopologySpec | TopologySpecInput | unknown): RankGraph {
  const parsed = topologySpecSchema.safeParse(spec)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const path = (issue?.path ?? []).filter((p): p is string | number => typeof p !== 'symbol')
    if (issue?.code === 'unrecognized_keys') {
      // point at the stray field itself, not at the object that holds it
      const key = issue.keys[0] ?? ''
      throw new TopologyError([...path, key], `unknown field '${key}'${fieldHint(s0(spec))}`)
    }
    throw new TopologyError(path, issue?.message ?? 'invalid topology spec')
  }
  const s = parsed.data
  switch (s.shape) {
    case 'ring': return expandRing(s)
    case 'line': return expandLine(s)
    case 'star': return expandStar(s)
    case 'mesh':
    case 'torus': return expandGrid(s)
    case 'tree': return expandTree(s)
    case 'hypercube': return expandHypercube(s)
    case 'butterfly': return expandButterfly(s)
    case 'complete': return expandComplete(s)
    case 'graph': return expandGraph(s)
  }
}

function s0 (spec: unknown): string | undefined {
  const shape = (spec as { shape?: unknown } | null)?.shape
  return typeof shape === 'string' ? shape : undefined
}

const FIELDS: Record<string, string> = {
  ring: 'size', line: 'size, directed', star: 'size', mesh: 'size, dims', torus: 'size, dims',
  tree: 'size, arity', hypercube: 'size', butterfly: 'size', complete: 'size', graph: 'size, directed, nodes, edges'
}

function fieldHint (shape: string | undefined): string {
  const f = shape === undefined ? undefined : FIELDS[shape]
  return f === undefined ? '' : ` (a ${shape} takes shape, ${f}, description)`
}
