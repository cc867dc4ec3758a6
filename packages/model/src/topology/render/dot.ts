import type { RankGraph } from '../types.js'
import { uniqueLinks } from './links.js'

/** Graphviz DOT: one node per rank, one edge per link, port names as tail/head labels. */
export function renderDot (graph: RankGraph): string {
  const kind = graph.directed ? 'digraph' : 'graph'
  const op = graph.directed ? '->' : '--'
  const lines = [`${kind} ${quote(`${graph.shape}-${graph.size}`)} {`, '  node [shape=circle, fontsize=10];', '  edge [fontsize=8];']
  for (const node of graph.ranks) {
    // `\n` is DOT's own line break inside a label, so it goes in after escaping the text
    const label = node.label === undefined ? `"${node.rank}"` : `"${node.rank}\\n${escape(node.label)}"`
    lines.push(`  r${node.rank} [label=${label}];`)
  }
  for (const l of uniqueLinks(graph)) {
    lines.push(`  r${l.a} ${op} r${l.b} [taillabel=${quote(l.portA)}, headlabel=${quote(l.portB)}];`)
  }
  lines.push('}')
  return lines.join('\n') + '\n'
}

function escape (s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, ' ')
}

function quote (s: string): string {
  return `"${escape(s)}"`
}
