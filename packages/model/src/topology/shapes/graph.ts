import { GraphBuilder } from '../builder.js'
import { TopologyError } from '../errors.js'
import { NAME_PATTERN } from '../schema.js'
import type { GraphSpec } from '../schema.js'
import type { RankGraph } from '../types.js'

interface Endpoint { rank: number, node: string, port: string }

/**
 * Hand-written graph: ranks follow node order. Each edge `from: a.p` / `to: b.q` joins port p of
 * a and port q of b. A node that lists `ports` must use exactly those: an edge on an undeclared
 * port and a declared port no edge uses are both errors, because a program would send into nothing.
 */
export function expandGraph (spec: GraphSpec): RankGraph {
  const n = spec.nodes.length
  if (spec.size !== undefined && spec.size !== n) {
    throw new TopologyError(['size'], `graph size is ${spec.size} but it has ${n} node${n === 1 ? '' : 's'}`)
  }
  const rankOf = new Map<string, number>()
  spec.nodes.forEach((node, i) => {
    if (rankOf.has(node.name)) throw new TopologyError(['nodes', i, 'name'], `node '${node.name}' is defined twice`)
    rankOf.set(node.name, i)
    const seen = new Set<string>()
    node.ports?.forEach((p, j) => {
      if (seen.has(p)) throw new TopologyError(['nodes', i, 'ports', j], `node '${node.name}' lists port '${p}' twice`)
      seen.add(p)
    })
  })

  const b = new GraphBuilder(n)
  spec.nodes.forEach((node, i) => b.label(i, node.label ?? node.name))

  const endpoint = (text: string, edge: number, field: 'from' | 'to'): Endpoint => {
    const where = ['edges', edge, field]
    const dot = text.indexOf('.')
    if (dot <= 0 || dot === text.length - 1) {
      throw new TopologyError(where, `edge ${edge}: '${text}' should be node.port, e.g. "worker.in"`)
    }
    const node = text.slice(0, dot)
    const port = text.slice(dot + 1)
    const rank = rankOf.get(node)
    if (rank === undefined) throw new TopologyError(where, `edge ${edge}: node '${node}' does not exist`)
    if (!NAME_PATTERN.test(port)) throw new TopologyError(where, `edge ${edge}: '${port}' is not a valid port name`)
    const declared = spec.nodes[rank]?.ports
    if (declared !== undefined && !declared.includes(port)) {
      throw new TopologyError(where, `edge ${edge}: node '${node}' has no port '${port}' (it declares ${declared.length === 0 ? 'none' : declared.join(', ')})`)
    }
    return { rank, node, port }
  }

  spec.edges.forEach((edge, i) => {
    const a = endpoint(edge.from, i, 'from')
    const z = endpoint(edge.to, i, 'to')
    if (a.rank === z.rank && a.port === z.port) {
      throw new TopologyError(['edges', i, 'to'], `edge ${i}: '${edge.from}' cannot link a port to itself`)
    }
    for (const [e, field] of [[a, 'from'], [z, 'to']] as const) {
      if (b.hasPort(e.rank, e.port)) {
        throw new TopologyError(['edges', i, field], `edge ${i}: port '${e.port}' of node '${e.node}' is already used by another edge`)
      }
    }
    b.link(a.rank, a.port, z.rank, z.port, spec.directed, ['edges', i])
  })

  spec.nodes.forEach((node, i) => {
    for (const [j, p] of (node.ports ?? []).entries()) {
      if (!b.hasPort(i, p)) throw new TopologyError(['nodes', i, 'ports', j], `node '${node.name}' declares port '${p}' but no edge uses it`)
    }
  })
  return b.build('graph', spec.directed, { nodes: spec.nodes.map((node) => node.name) })
}
