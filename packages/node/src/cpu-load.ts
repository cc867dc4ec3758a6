import { readFileSync, readdirSync } from 'node:fs'

/** Linux reports process times in clock ticks; USER_HZ is 100 on every Linux Node runs on. */
const TICKS_PER_SEC = 100
/** Ranks run as children of the node (pool hosts) and, at most, their children. */
const MAX_DEPTH = 3
const MAX_PROCESSES = 4096

/** utime+stime of one process in seconds, or undefined if it is gone (or this is not Linux). */
function cpuSecondsOf (pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // pid (comm) state ppid … utime(14) stime(15): comm may hold spaces and parentheses
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(f[11]) + Number(f[12])
    return Number.isFinite(ticks) ? ticks / TICKS_PER_SEC : undefined
  } catch { return undefined }
}

function childrenOf (pid: number): number[] {
  const out: number[] = []
  let tasks: string[]
  try { tasks = readdirSync(`/proc/${pid}/task`) } catch { return out }
  for (const t of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ')) if (c !== '') out.push(Number(c))
    } catch { /* thread ended, or the kernel has no children files */ }
  }
  return out
}

/** The node's descendants, breadth first, bounded in depth and count. */
function descendants (root: number): number[] {
  const out: number[] = []
  let level = [root]
  for (let d = 0; d < MAX_DEPTH && level.length > 0 && out.length < MAX_PROCESSES; d++) {
    level = level.flatMap(childrenOf).slice(0, MAX_PROCESSES - out.length)
    out.push(...level)
  }
  return out
}

/**
 * How many CPUs this node keeps busy — its own process and the processes it started (ranks,
 * sandbox pools) — averaged since the previous sample: 0.5 is half of one CPU. This and not
 * the OS load average is the node's load: the load average is the whole machine's run queue,
 * so every node of a lab (or any node on a shared host) showed the host's load, e.g. 10 on
 * idle nodes while other programs ran.
 */
export class CpuLoad {
  private last = new Map<number, number>()
  private lastSelf = process.cpuUsage()
  private lastAt = performance.now()
  private value = 0

  /** Takes a sample if at least `minMs` passed since the last one; returns the latest value. */
  sample (minMs = 500): number {
    const now = performance.now()
    const wallSec = (now - this.lastAt) / 1000
    if (wallSec * 1000 < minMs) return this.value
    const self = process.cpuUsage(this.lastSelf)
    let busy = (self.user + self.system) / 1e6
    const seen = new Map<number, number>()
    for (const pid of descendants(process.pid)) {
      const s = cpuSecondsOf(pid)
      if (s === undefined) continue
      seen.set(pid, s)
      // a process started since the last sample: all of its time is in this interval (at most)
      busy += Math.max(0, s - (this.last.get(pid) ?? 0))
    }
    this.last = seen
    this.lastSelf = process.cpuUsage()
    this.lastAt = now
    this.value = Math.round(Math.max(0, busy / wallSec) * 100) / 100
    return this.value
  }
}
