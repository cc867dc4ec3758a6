import { readFile } from 'node:fs/promises'

/** Linux exposes utime/stime in USER_HZ ticks, which is 100 on every mainstream architecture. */
const TICKS_PER_SEC = 100

export interface ProcSample {
  rssMB: number
  /** Peak RSS (VmHWM) so far. */
  hwmMB: number
  cpuSec: number
}

/** One reading of /proc/<pid>; undefined once the process is gone. */
export async function sampleProc (pid: number): Promise<ProcSample | undefined> {
  try {
    const [status, stat] = await Promise.all([
      readFile(`/proc/${pid}/status`, 'utf8'),
      readFile(`/proc/${pid}/stat`, 'utf8')
    ])
    const kb = (key: string): number => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)
      return m === null ? 0 : Number(m[1]) / 1024
    }
    // the command name (field 2) may contain spaces and parens: split after the last ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const utime = Number(rest[11] ?? 0)
    const stime = Number(rest[12] ?? 0)
    return { rssMB: kb('VmRSS'), hwmMB: kb('VmHWM'), cpuSec: (utime + stime) / TICKS_PER_SEC }
  } catch {
    return undefined
  }
}

/** Direct children of a pid (needs CONFIG_PROC_CHILDREN, present on common kernels). */
export async function childPids (pid: number): Promise<number[]> {
  try {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')
    return text.split(/\s+/).filter(s => s !== '').map(Number)
  } catch {
    return []
  }
}
