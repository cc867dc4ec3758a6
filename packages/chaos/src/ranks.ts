import { readdir, readFile } from 'node:fs/promises'

/**
 * Pids of the rank processes running under `rootPid`: every descendant (ranks may sit under
 * a wrapper, another uid or a new session) whose command line names the rank host. Parked
 * sandboxes ("mvm parked sandbox") run no rank and are left out.
 */
export async function rankPids (rootPid: number): Promise<number[]> {
  const parent = new Map<number, number>()
  const cmd = new Map<number, string>()
  for (const e of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(e)) continue
    const pid = Number(e)
    try {
      const stat = await readFile(`/proc/${e}/stat`, 'utf8')
      // the command name in parentheses may hold spaces: fields start after the last ')'
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      parent.set(pid, ppid)
      cmd.set(pid, (await readFile(`/proc/${e}/cmdline`, 'utf8')).replace(/\0/g, ' '))
    } catch { /* gone meanwhile */ }
  }
  const under = (pid: number): boolean => {
    for (let p = parent.get(pid), hops = 0; p !== undefined && hops < 64; p = parent.get(p), hops++) {
      if (p === rootPid) return true
    }
    return false
  }
  return [...cmd].filter(([pid, c]) => /rank-host/.test(c) && under(pid)).map(([pid]) => pid).sort((a, b) => a - b)
}
