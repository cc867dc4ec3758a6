/**
 * @packageDocumentation
 * Prometheus metrics of one MVM node ({@link createNodeMetrics}): a prom-client registry of its
 * own, fed at scrape time by the roles the node holds (broker, peer runtime, overlay) and by
 * the SOAP server's call observer. `@mvm/node` serves it at `/metrics` on the node's HTTP port.
 *
 * @example
 * ```ts
 * const m = createNodeMetrics({ labels: { node: 'p1' } })
 * m.setPeer({ ranksRunning: () => 2, pool: () => undefined })
 * console.log(await m.text())   // mvm_ranks_running{node="p1"} 2 …
 * ```
 */
export { createNodeMetrics, type NodeMetrics, type NodeMetricsInit, type SoapCallRecord } from './node-metrics.js'
export type { BrokerSource, OverlaySource, PeerSource, QueuePortStats } from './sources.js'
