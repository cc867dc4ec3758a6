import type { RankGraph } from '../types.js'
import { renderDot } from './dot.js'
import { renderSvg } from './svg.js'
import { renderJson, renderText } from './text.js'

export const TOPOLOGY_FORMATS = ['text', 'json', 'dot', 'svg'] as const
export type TopologyFormat = (typeof TOPOLOGY_FORMATS)[number]

/** One entry point for tools that let the user pick a format by name. */
export function renderTopology (graph: RankGraph, format: TopologyFormat): string {
  switch (format) {
    case 'text': return renderText(graph)
    case 'json': return renderJson(graph)
    case 'dot': return renderDot(graph)
    case 'svg': return renderSvg(graph)
  }
}
