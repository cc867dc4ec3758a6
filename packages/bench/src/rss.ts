import { readFile, readdir } from 'node:fs/promises'

/** Resident set size of one process in MiB (Linux /proc); 0 when it is gone. */
export async function rssMiB (pid: number): Promise<number> {
  try {
    const s = await readFile(`/proc/${pid}/status`, 'utf8')
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(s)
    return m === null ? 0 : Number(m[1]) / 1024
  } catch { return 0 }
}

/** The pids of `pid` and all its descendants. */
export async function processTree (pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>()
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = await readFile(`/proc/${d}/stat`, 'utf8')
      // the command name may hold spaces and parentheses: fields start after the last ')'
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      const list = parents.get(ppid) ?? []
      list.push(Number(d))
      parents.set(ppid, list)
    } catch { /* exited meanwhile */ }
  }
  const out: number[] = []
  const todo = [pid]
  while (todo.length > 0 && out.length < 10_000) {
    const p = todo.pop()!
    out.push(p)
    todo.push(...(parents.get(p) ?? []))
  }
  return out
}

/** RSS of a process and its descendants, MiB. */
export async function treeRssMiB (pid: number): Promise<number> {
  let sum = 0
  for (const p of await processTree(pid)) sum += await rssMiB(p)
  return sum
}
