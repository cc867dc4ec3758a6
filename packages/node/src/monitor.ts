import { freemem } from 'node:os'
import { CpuLoad } from './cpu-load.js'
import { Limits, type DataCounters, type PortTraffic } from '@mvm/wire'
import type { LoadReport } from './types.js'

/** What the job machinery (loaded later) tells the monitor; zeros until jobs exist. */
export interface Usage {
  usedSlots: number
  usedMemoryMB: number
  processes: number
  queueDepth: number
  /** Cumulative traffic per job, rank and port of the ranks running here (the heartbeat carries it). */
  ports: PortTraffic[]
}

export type UsageProbe = () => Partial<Usage>

export interface Capacity { slots: number, memoryMB: number }

/** What a node measures of its host for each report: the CPUs its work keeps busy, and the memory free. */
export interface ResourceSample { load: number, freeMemoryMB: number }

/**
 * Takes one {@link ResourceSample}. A real node samples its own process tree's CPU time and
 * the OS's free memory ({@link hostSampler}); `mvm sim` gives each simulated node one derived
 * from its simulated ranks, since thousands of nodes in one process would all read the same
 * process and host.
 */
export type ResourceSampler = () => ResourceSample

/** The real node's sampler: CPU time of this process and its descendants (see CpuLoad), and os.freemem(). */
export function hostSampler (): ResourceSampler {
  const cpu = new CpuLoad()
  return () => ({ load: cpu.sample(), freeMemoryMB: Math.floor(freemem() / (1024 * 1024)) })
}

/** Builds this node's monitoring report from the OS and the usage probe. */
export class Monitor {
  private probe: UsageProbe = () => ({})
  private dataProbe: (() => DataCounters) | undefined
  private readonly sample: ResourceSampler

  constructor (private readonly capacity: Capacity, sampler?: ResourceSampler) {
    this.sample = sampler ?? hostSampler()
  }

  get totalSlots (): number { return this.capacity.slots }
  get totalMemoryMB (): number { return this.capacity.memoryMB }

  setProbe (probe: UsageProbe): void { this.probe = probe }

  /** The data layer's counters, carried in every report (set once the node's data store is open). */
  setDataProbe (probe: (() => DataCounters) | undefined): void { this.dataProbe = probe }

  report (): LoadReport {
    let u: Partial<Usage> = {}
    try { u = this.probe() } catch { u = {} }
    const used = clampInt(u.usedSlots, this.capacity.slots)
    let sample: ResourceSample
    try { sample = this.sample() } catch { sample = { load: 0, freeMemoryMB: this.capacity.memoryMB } }
    const hostFreeMB = clampInt(sample.freeMemoryMB, Number.MAX_SAFE_INTEGER)
    const usedMemoryMB = u.usedMemoryMB
    const freeMemoryMB = Math.max(0, Math.min(this.capacity.memoryMB - clampInt(usedMemoryMB, this.capacity.memoryMB), hostFreeMB))
    const load = sample.load
    const data = this.data()
    return {
      ...(data === undefined ? {} : { data }),
      // CPUs busy with this node's work, not the host's load average (see CpuLoad)
      load: Number.isFinite(load) && load >= 0 ? load : 0,
      freeSlots: this.capacity.slots - used,
      totalSlots: this.capacity.slots,
      // the wire's MonitoringReport spells it as protobufjs camel-cases control.proto's free_memory_mb
      freeMemoryMb: freeMemoryMB,
      processes: clampInt(u.processes, 1_000_000),
      queueDepth: clampInt(u.queueDepth, 1_000_000_000),
      timestampMs: Date.now(),
      ports: boundedPorts(u.ports)
    }
  }

  private data (): DataCounters | undefined {
    if (this.dataProbe === undefined) return undefined
    try {
      const d = this.dataProbe()
      const out = {} as Record<keyof DataCounters, number>
      for (const [k, v] of Object.entries(d) as Array<[keyof DataCounters, number]>) out[k] = Number.isSafeInteger(v) && v >= 0 ? v : 0
      return out
    } catch { return undefined }
  }
}

function clampInt (v: number | undefined, max: number): number {
  if (v === undefined || !Number.isFinite(v) || v < 0) return 0
  return Math.min(max, Math.floor(v))
}

/** The heartbeat carries at most Limits.portTraffic rows: the busiest (most bytes) win. */
function boundedPorts (ports: PortTraffic[] | undefined): PortTraffic[] {
  if (!Array.isArray(ports) || ports.length === 0) return []
  const ok = ports.filter((p) => Number.isSafeInteger(p.items) && Number.isSafeInteger(p.bytes) && p.items >= 0 && p.bytes >= 0)
  if (ok.length <= Limits.portTraffic) return ok
  return [...ok].sort((a, b) => b.bytes - a.bytes).slice(0, Limits.portTraffic)
}
