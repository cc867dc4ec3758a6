import type { IncomingMessage, ServerResponse } from 'node:http'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { BrokerSource, OverlaySource, PeerSource, QueuePortStats } from './sources.js'

export interface NodeMetricsInit {
  /** Constant labels on every series of this node (e.g. `{ node: 'p1' }`). */
  labels?: Record<string, string>
  /** Node's own process metrics (RSS, CPU, event loop lag); on by default. */
  processMetrics?: boolean
}

/** Outcome of one SOAP call: `ok`, or the stable error code of its fault. */
export interface SoapCallRecord { service: string, operation: string, result: string, seconds: number }

/**
 * One node's metrics. A registry per node, never prom-client's global one: tests and `mvm lab`
 * embed several nodes in one process, and each must scrape as its own target.
 */
export interface NodeMetrics {
  readonly registry: Registry
  soapCall: (call: SoapCallRecord) => void
  /** A job went from queued to running after `seconds` (its first start or a restart). */
  scheduled: (seconds: number) => void
  /**
   * Adds a tally of job bytes (bundles today, staged data later) a role moved since start; the
   * node's `mvm_data_bytes_total` is the sum over its roles.
   */
  addDataSource: (s: () => { in: number, out: number }) => void
  setBroker: (s: BrokerSource | undefined) => void
  setPeer: (s: PeerSource | undefined) => void
  setOverlay: (s: OverlaySource | undefined) => void
  setQueueStats: (s: (() => QueuePortStats[]) | undefined) => void
  /** The Prometheus text exposition of every series. */
  text: () => Promise<string>
  /** Serves `text()` over HTTP: GET or HEAD only. */
  serve: (req: IncomingMessage, res: ServerResponse) => Promise<void>
}

// submit -> running spans from a warm 2-rank launch (ms) to a job that waited for slots (minutes)
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
const SOAP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 25]

export function createNodeMetrics (init: NodeMetricsInit = {}): NodeMetrics {
  const registry = new Registry()
  if (init.labels !== undefined) registry.setDefaultLabels(init.labels)
  if (init.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'mvm_node_' })

  let broker: BrokerSource | undefined
  let peer: PeerSource | undefined
  let overlay: OverlaySource | undefined
  let queueStats: (() => QueuePortStats[]) | undefined
  const registers = [registry]

  const soapCalls = new Counter({ name: 'mvm_soap_calls_total', help: 'SOAP calls served, by service, operation and result (ok or the fault code)', labelNames: ['service', 'operation', 'result'], registers })
  const soapSeconds = new Histogram({ name: 'mvm_soap_call_seconds', help: 'Time to answer a SOAP call, by service and operation', labelNames: ['service', 'operation'], buckets: SOAP_BUCKETS, registers })
  const latency = new Histogram({ name: 'mvm_scheduling_latency_seconds', help: 'Time from a job entering the queue to its ranks running', buckets: LATENCY_BUCKETS, registers })
  const dataSources: Array<() => { in: number, out: number }> = []
  const dataSeen = { in: 0, out: 0 }
  new Counter({
    name: 'mvm_data_bytes_total', help: 'Job bytes (program bundles) this node received or sent, by direction', labelNames: ['direction'], registers,
    collect () {
      for (const dir of ['in', 'out'] as const) {
        const now = dataSources.reduce((n, s) => n + s()[dir], 0)
        if (now > dataSeen[dir]) { this.inc({ direction: dir }, now - dataSeen[dir]); dataSeen[dir] = now }
        else if (dataSeen[dir] === 0) this.inc({ direction: dir }, 0)
      }
    }
  })

  new Gauge({
    name: 'mvm_jobs', help: 'Jobs in the broker store, by state (super-peer only)', labelNames: ['state'], registers,
    collect () {
      this.reset()
      for (const [state, n] of Object.entries(broker?.jobsByState() ?? {})) this.set({ state }, n)
    }
  })
  new Gauge({
    name: 'mvm_queue_length', help: 'Jobs waiting to be scheduled (super-peer only)', registers,
    collect () { if (broker !== undefined) this.set(broker.jobsByState().queued ?? 0) }
  })
  new Gauge({
    name: 'mvm_ranks_running', help: 'Ranks running on this node (peer role)', registers,
    collect () { this.set(peer?.ranksRunning() ?? 0) }
  })
  new Gauge({
    name: 'mvm_sandbox_pool', help: 'Sandbox processes of the warm pool, by state (peer role; absent before the first job)', labelNames: ['state'], registers,
    collect () {
      this.reset()
      const p = peer?.pool()
      if (p !== undefined) for (const [state, n] of Object.entries(p)) this.set({ state }, n)
    }
  })
  new Gauge({
    name: 'mvm_members', help: 'Members of the group by state, as this super-peer sees them', labelNames: ['state'], registers,
    collect () {
      this.reset()
      for (const [state, n] of Object.entries(overlay?.members() ?? {})) this.set({ state }, n)
    }
  })
  // the overlay keeps the tally; the counter follows it by the difference since the last scrape
  let heartbeatsSeen = 0
  new Counter({
    name: 'mvm_heartbeats_missed_total', help: 'Heartbeat intervals group members let pass without a heartbeat', registers,
    collect () {
      const now = overlay?.heartbeatsMissed() ?? 0
      if (now > heartbeatsSeen) { this.inc(now - heartbeatsSeen); heartbeatsSeen = now }
    }
  })
  let receivedSeen = 0
  new Counter({
    name: 'mvm_heartbeats_received_total', help: 'Heartbeats received from group members', registers,
    collect () {
      const now = overlay?.heartbeatsReceived?.() ?? 0
      if (now > receivedSeen) { this.inc(now - receivedSeen); receivedSeen = now }
    }
  })
  const queueItems = new Gauge({ name: 'mvm_queue_items_total', help: 'Items sent through each port of a running job on this node', labelNames: ['job', 'rank', 'port'], registers, collect () { fillQueue() } })
  const queueBytes = new Gauge({ name: 'mvm_queue_bytes_total', help: 'Bytes sent through each port of a running job on this node', labelNames: ['job', 'rank', 'port'], registers })
  const fillQueue = (): void => {
    queueItems.reset(); queueBytes.reset()
    for (const s of queueStats?.() ?? []) {
      const labels = { job: s.jobId, rank: String(s.rank), port: s.port }
      queueItems.set(labels, s.items)
      queueBytes.set(labels, s.bytes)
    }
  }

  const text = async (): Promise<string> => await registry.metrics()
  return {
    registry,
    soapCall (c) {
      soapCalls.inc({ service: c.service, operation: c.operation, result: c.result })
      soapSeconds.observe({ service: c.service, operation: c.operation }, c.seconds)
    },
    scheduled (seconds) { if (Number.isFinite(seconds) && seconds >= 0) latency.observe(seconds) },
    addDataSource (s) { dataSources.push(s) },
    setBroker (s) { broker = s },
    setPeer (s) { peer = s },
    setOverlay (s) { overlay = s },
    setQueueStats (s) { queueStats = s },
    text,
    async serve (req, res) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('metrics: only GET and HEAD\n')
        return
      }
      try {
        const body = await text()
        res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' })
        res.end(req.method === 'HEAD' ? undefined : body)
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics: ${(err as Error).message}\n`)
      }
    }
  }
}
