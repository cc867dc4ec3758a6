/**
 * Topologies: the schema of a Topology file's `spec`, its expansion into a rank graph, and
 * renderers (text, JSON, Graphviz DOT, SVG).
 *
 * @example
 * ```ts
 * const graph = expandTopology({ shape: 'torus', size: 16, dims: [4, 4] })
 * graph.ranks[0].ports // [{ port: 'east', peerRank: 1, peerPort: 'west', direction: 'both' }, …]
 * console.log(renderText(graph))
 * ```
 */
export type { ShapeName, PortLink, RankNode, RankGraph } from './types.js'
export { topologySpecSchema, MAX_RANKS, MAX_COMPLETE_RANKS } from './schema.js'
export type {
  TopologySpec, TopologySpecInput, RingSpec, LineSpec, StarSpec, GridSpec, TreeSpec,
  HypercubeSpec, ButterflySpec, CompleteSpec, GraphSpec
} from './schema.js'
export { TopologyError } from './errors.js'
export type { SpecPath } from './errors.js'
export { expandTopology } from './expand.js'
export { butterflyPartner } from './shapes/cube.js'
export { renderText, renderJson } from './render/text.js'
export { renderDot } from './render/dot.js'
export { renderSvg } from './render/svg.js'
export { renderTopology, TOPOLOGY_FORMATS } from './render/index.js'
export type { TopologyFormat } from './render/index.js'
