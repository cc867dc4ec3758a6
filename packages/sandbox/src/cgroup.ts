import { mkdir, readFile, rmdir, writeFile, access } from 'node:fs/promises'
import { join } from 'node:path'
import pRetry from 'p-retry'
import { RSS_FLOOR_MB } from './watchdog.js'
import type { SandboxLimits } from './types.js'

/** Tasks (threads) one Node process holds: main, V8 platform workers, libuv pool and spares. */
export const NODE_TASKS = 16
const CONTROLLERS = ['memory', 'pids', 'cpu'] as const

/** One sandbox's cgroup(s): v2 has one directory, v1 one per controller. */
export interface CgroupHandle {
  /** Directories whose cgroup.procs the sandbox joins before it execs. */
  readonly dirs: string[]
  readonly memoryBytes: number | undefined
  oomKilled: () => Promise<boolean>
  /** Highest memory use the kernel charged to the cgroup, in bytes (undefined if it does not say). */
  peakBytes: () => Promise<number | undefined>
  /** Moves a running process into the cgroup(s) (the process driver joins after spawn). */
  join: (pid: number) => Promise<void>
  remove: () => Promise<void>
}

async function readNumber (file: string): Promise<number | undefined> {
  const n = Number((await readFile(file, 'utf8').catch(() => '')).trim())
  return Number.isFinite(n) && n > 0 ? n : undefined
}

async function joinAll (dirs: string[], pid: number): Promise<void> {
  for (const d of dirs) await writeFile(join(d, 'cgroup.procs'), String(pid))
}

export interface CgroupBackend {
  readonly description: string
  create: (name: string, limits: SandboxLimits) => Promise<CgroupHandle>
}

/** The same budget as the process driver's RSS watchdog, so a job gets the same room under either driver. */
export function memoryBudgetBytes (memoryMB: number): number {
  return Math.floor((memoryMB * 1.2 + RSS_FLOOR_MB) * 1024 * 1024)
}

export function pidsBudget (limits: SandboxLimits): number {
  // +1 for unshare, which stays in the cgroup as the namespace's parent
  return 1 + NODE_TASKS * Math.max(1, Math.floor(limits.maxProcesses ?? 1))
}

interface Mount { point: string, fstype: string, options: string[] }

async function mounts (): Promise<Mount[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8')
  return text.split('\n').filter(Boolean).map((line) => {
    const [pre = '', post = ''] = line.split(' - ')
    const f = pre.split(' ')
    const g = post.split(' ')
    return { point: f[4] ?? '', fstype: g[0] ?? '', options: (g[2] ?? '').split(',') }
  })
}

/** Our own cgroup path per v1 controller, so sandboxes nest under the limits we already run under. */
async function ownV1Paths (): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const text = await readFile('/proc/self/cgroup', 'utf8').catch(() => '')
  for (const line of text.split('\n')) {
    const [, ctrls = '', path = ''] = line.split(':')
    for (const c of ctrls.split(',')) if (c !== '') out.set(c, path)
  }
  return out
}

const exists = async (p: string): Promise<boolean> => await access(p).then(() => true, () => false)

async function removeDir (dir: string): Promise<void> {
  // the kernel frees a cgroup a moment after its last task is reaped: EBUSY for a while
  await pRetry(async () => {
    try { await rmdir(dir) } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
    }
  }, { retries: 49, minTimeout: 20, factor: 1, randomize: false }).catch(() => {})
}

function v2Backend (root: string, parent: string): CgroupBackend {
  const base = join(root, parent)
  return {
    description: `cgroup v2 at ${base}`,
    async create (name, limits) {
      await mkdir(base, { recursive: true })
      await writeFile(join(base, 'cgroup.subtree_control'), CONTROLLERS.map(c => `+${c}`).join(' '))
      const dir = join(base, name)
      await mkdir(dir)
      const mem = limits.memoryMB === undefined ? undefined : memoryBudgetBytes(limits.memoryMB)
      if (mem !== undefined) {
        await writeFile(join(dir, 'memory.max'), String(mem))
        await writeFile(join(dir, 'memory.swap.max'), '0').catch(() => {})
      }
      await writeFile(join(dir, 'pids.max'), String(pidsBudget(limits)))
      await writeFile(join(dir, 'cpu.max'), '100000 100000')
      return {
        dirs: [dir],
        memoryBytes: mem,
        oomKilled: async () => /^oom_kill [1-9]/m.test(await readFile(join(dir, 'memory.events'), 'utf8').catch(() => '')),
        peakBytes: async () => await readNumber(join(dir, 'memory.peak')),
        join: async (pid) => { await joinAll([dir], pid) },
        remove: async () => { await removeDir(dir) }
      }
    }
  }
}

function v1Backend (points: Record<typeof CONTROLLERS[number], string>, parent: string): CgroupBackend {
  const base = (c: typeof CONTROLLERS[number]): string => join(points[c], parent)
  return {
    description: `cgroup v1 at ${CONTROLLERS.map(base).join(', ')}`,
    async create (name, limits) {
      const dirs = { memory: join(base('memory'), name), pids: join(base('pids'), name), cpu: join(base('cpu'), name) }
      for (const d of Object.values(dirs)) await mkdir(d, { recursive: true })
      const mem = limits.memoryMB === undefined ? undefined : memoryBudgetBytes(limits.memoryMB)
      if (mem !== undefined) {
        await writeFile(join(dirs.memory, 'memory.limit_in_bytes'), String(mem))
        await writeFile(join(dirs.memory, 'memory.memsw.limit_in_bytes'), String(mem)).catch(() => {})
      }
      await writeFile(join(dirs.pids, 'pids.max'), String(pidsBudget(limits)))
      await writeFile(join(dirs.cpu, 'cpu.cfs_period_us'), '100000')
      await writeFile(join(dirs.cpu, 'cpu.cfs_quota_us'), '100000')
      return {
        dirs: Object.values(dirs),
        memoryBytes: mem,
        oomKilled: async () => /^oom_kill [1-9]/m.test(await readFile(join(dirs.memory, 'memory.oom_control'), 'utf8').catch(() => '')),
        peakBytes: async () => await readNumber(join(dirs.memory, 'memory.max_usage_in_bytes')),
        join: async (pid) => { await joinAll(Object.values(dirs), pid) },
        remove: async () => { for (const d of Object.values(dirs)) await removeDir(d) }
      }
    }
  }
}

/** Creates and removes a probe cgroup: the only sure test that this machine lets us. */
async function probe (backend: CgroupBackend): Promise<string | undefined> {
  try {
    const h = await backend.create(`probe-${process.pid}-${Date.now()}`, { memoryMB: 64 })
    await h.remove()
    return undefined
  } catch (e) {
    return `${backend.description}: ${(e as Error).message}`
  }
}

/** Finds a cgroup hierarchy with memory, pids and cpu we can write, v2 first; otherwise says why not. */
export async function detectCgroups (parent = 'mvm'): Promise<{ backend?: CgroupBackend, problems: string[] }> {
  const problems: string[] = []
  const all = await mounts().catch(() => [])
  const v2 = all.find(m => m.fstype === 'cgroup2')
  if (v2 === undefined) problems.push('no cgroup2 filesystem mounted')
  else {
    const have = (await readFile(join(v2.point, 'cgroup.controllers'), 'utf8').catch(() => '')).trim().split(/\s+/)
    const missing = CONTROLLERS.filter(c => !have.includes(c))
    if (missing.length > 0) problems.push(`cgroup v2 at ${v2.point} lacks controllers ${missing.join(', ')} (has: ${have.join(' ') || 'none'})`)
    else {
      const b = v2Backend(v2.point, parent)
      const why = await probe(b)
      if (why === undefined) return { backend: b, problems }
      problems.push(why)
    }
  }
  const own = await ownV1Paths()
  const points: Partial<Record<typeof CONTROLLERS[number], string>> = {}
  for (const c of CONTROLLERS) {
    const m = all.find(x => x.fstype === 'cgroup' && x.options.includes(c))
    if (m === undefined) continue
    const nested = join(m.point, own.get(c) ?? '/')
    points[c] = await exists(nested) ? nested : m.point
  }
  const lacking = CONTROLLERS.filter(c => points[c] === undefined)
  if (lacking.length > 0) {
    problems.push(`no cgroup v1 hierarchy for ${lacking.join(', ')}`)
    return { problems }
  }
  const b = v1Backend(points as Record<typeof CONTROLLERS[number], string>, parent)
  const why = await probe(b)
  if (why === undefined) return { backend: b, problems }
  problems.push(why)
  return { problems }
}
