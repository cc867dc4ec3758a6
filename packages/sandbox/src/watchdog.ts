import { sampleProc } from './proc-stats.js'
import type { ExitReason, SandboxLimits } from './types.js'

/** RSS above memoryMB × 1.2 + this floor kills: Node's own baseline (~40 MiB) must not count against a small class. */
export const RSS_FLOOR_MB = 64
/** A rank can allocate ~1 GB/s: at 200 ms one sample's gap was 150 MB of overshoot. */
export const POLL_MS = 50

export interface WatchdogInit {
  /** Resolves the host pid to watch (the namespace driver learns it after unshare forks). */
  pid: () => number | undefined
  limits: SandboxLimits
  /** false when a cgroup enforces memory: the kernel kills and we only report. */
  watchMemory: boolean
  onLimit: (reason: ExitReason, message: string) => void
}

export interface Watchdog {
  /**
   * Restarts wall and CPU accounting under new limits (a pooled sandbox handed to a job, or
   * parked between jobs): they replace the old ones, so a limit the next job does not set is
   * gone; the memory class stays, since the heap cap was fixed at spawn.
   */
  reset: (limits: SandboxLimits) => void
  maxRssMB: () => number
  stop: () => void
}

export function startWatchdog (init: WatchdogInit): Watchdog {
  let limits = init.limits
  let wallTimer: NodeJS.Timeout | undefined
  let cpuBase: number | undefined = 0
  let peak = 0
  let stopped = false
  let busy = false

  const armWall = (): void => {
    if (wallTimer !== undefined) clearTimeout(wallTimer)
    wallTimer = undefined
    const sec = limits.wallTimeSec
    if (sec === undefined) return
    wallTimer = setTimeout(() => init.onLimit('wall-time', `wall time limit of ${sec} s exceeded`), sec * 1000)
    wallTimer.unref()
  }

  const poll = async (): Promise<void> => {
    const pid = init.pid()
    if (pid === undefined || busy || stopped) return
    busy = true
    try {
      const s = await sampleProc(pid)
      if (s === undefined || stopped) return
      peak = Math.max(peak, s.hwmMB, s.rssMB)
      cpuBase ??= s.cpuSec
      const mem = limits.memoryMB
      if (init.watchMemory && mem !== undefined && s.rssMB > mem * 1.2 + RSS_FLOOR_MB) {
        init.onLimit('memory', `memory limit of ${mem} MB exceeded (RSS ${Math.round(s.rssMB)} MB)`)
        return
      }
      const cpu = limits.cpuTimeSec
      if (cpu !== undefined && s.cpuSec - cpuBase > cpu) {
        init.onLimit('cpu-time', `CPU time limit of ${cpu} s exceeded (${(s.cpuSec - cpuBase).toFixed(2)} s used)`)
      }
    } finally {
      busy = false
    }
  }

  const interval = setInterval(() => { void poll() }, POLL_MS)
  interval.unref()
  armWall()
  void poll()

  return {
    reset (next) {
      limits = { ...next, memoryMB: limits.memoryMB }
      cpuBase = undefined
      armWall()
      void poll()
    },
    maxRssMB: () => Math.round(peak),
    stop () {
      stopped = true
      clearInterval(interval)
      if (wallTimer !== undefined) clearTimeout(wallTimer)
    }
  }
}
