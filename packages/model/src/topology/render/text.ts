import type { RankGraph } from '../types.js'
import { rankName } from './links.js'

/**
 * Plain-text listing: a header, then one line per port (`port → peerRank.peerPort`, with `←`
 * for receive-only ports) and the rank's groups. Meant for terminals and diffs.
 */
export function renderText (graph: RankGraph): string {
  const lines: string[] = []
  // graph node names are already on every rank line
  const params = Object.entries(graph.params)
    .filter(([k]) => k !== 'nodes')
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('x') : String(v)}`)
  lines.push(`${graph.shape}: ${graph.size} rank${graph.size === 1 ? '' : 's'}, ${graph.directed ? 'directed' : 'undirected'}` +
    (params.length > 0 ? `, ${params.join(', ')}` : ''))
  for (const node of graph.ranks) {
    lines.push(`rank ${rankName(graph, node.rank)}${node.ports.length === 0 ? ': no ports' : ''}`)
    const width = Math.max(0, ...node.ports.map((p) => p.port.length))
    for (const p of node.ports) {
      const arrow = p.direction === 'in' ? '←' : p.direction === 'out' ? '→' : '↔'
      lines.push(`  ${p.port.padEnd(width)} ${arrow} ${p.peerRank}.${p.peerPort}`)
    }
    for (const [name, ports] of Object.entries(graph.groups[node.rank] ?? {})) {
      lines.push(`  group ${name} = ${ports.join(', ')}`)
    }
  }
  return lines.join('\n') + '\n'
}

/** The graph as pretty JSON: the RankGraph contract itself, for other tools. */
export function renderJson (graph: RankGraph): string {
  return JSON.stringify(graph, null, 2) + '\n'
}
