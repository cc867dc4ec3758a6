import { access, constants } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { SandboxError } from '@mvm/core'
import { detectCgroups, type CgroupBackend, type CgroupHandle } from './cgroup.js'
import { validateSpec, scrubbedEnv, nodeArgs } from './spec.js'
import { launch, execChain, ENV_BIN } from './launch.js'
import { createChildSandbox, signalGroup, type ManagedSandbox } from './child-sandbox.js'
import { rankIdentity, type IdentityOptions, type RunAs } from './identity.js'
import type { SandboxDriver, SandboxSpec } from './types.js'

export interface ProcessDriverInit extends IdentityOptions {
  /**
   * Root only: each rank with a memory limit also gets a cgroup (v2, else v1), so the kernel
   * stops it at the budget instead of the RSS watchdog noticing a sample later. Default true;
   * without root or a writable hierarchy the watchdog alone enforces the limit.
   */
  memoryCgroup?: boolean
  /** Name of the parent cgroup (default `mvm`). */
  cgroupParent?: string
}

/** Spawns a sandbox with this driver and returns the pool-managed handle. */
export async function spawnProcessSandbox (spec: SandboxSpec, signal?: AbortSignal, owner?: RunAs, cgroups?: CgroupBackend): Promise<ManagedSandbox> {
  validateSpec(spec)
  const memoryMB = spec.limits?.memoryMB
  const cg: CgroupHandle | undefined = cgroups === undefined || memoryMB === undefined
    ? undefined
    : await cgroups.create(`${spec.id}-${randomBytes(4).toString('hex')}`, { memoryMB, ...(spec.limits.maxProcesses === undefined ? {} : { maxProcesses: spec.limits.maxProcesses }) })
  let launched
  try {
    launched = await launch(spec, execChain([], scrubbedEnv(spec), nodeArgs(spec)), { ...(signal === undefined ? {} : { signal }), ...(owner === undefined ? {} : { owner }) })
  } catch (e) { await cg?.remove(); throw e }
  const { child, logs } = launched
  if (cg !== undefined) {
    // joined right after exec: the process is still booting Node and runs no job code until its
    // first IPC message, so everything the job allocates is charged to the cgroup
    try { await cg.join(child.pid ?? -1) } catch (e) {
      signalGroup(child, 'SIGKILL')
      await new Promise((resolve) => { if (child.exitCode !== null || child.signalCode !== null) resolve(undefined); else child.once('exit', resolve) })
      await cg.remove()
      throw new SandboxError(`sandbox ${spec.id}: could not join its memory cgroup ${cg.dirs.join(', ')}: ${(e as Error).message}`, { cause: e, data: { id: spec.id } })
    }
  }
  return createChildSandbox({
    id: spec.id,
    child,
    workDir: spec.workDir,
    logs,
    limits: spec.limits ?? {},
    targetPid: () => child.pid,
    signal: (sig) => { signalGroup(child, sig) },
    watchMemory: true,
    ...(cg === undefined
      ? {}
      : {
          classify: async () => await cg.oomKilled() ? { reason: 'memory' as const, message: `killed by the kernel at the cgroup memory limit (${Math.round((cg.memoryBytes ?? 0) / 1048576)} MB)` } : undefined,
          peakMB: async () => { const b = await cg.peakBytes(); return b === undefined ? undefined : b / 1048576 },
          cleanup: cg.remove
        })
  })
}

/**
 * The default driver: a plain child Node process confined by Node's permission model
 * (read: workDir, entry dir, readPaths; write: workDir; no child processes or workers),
 * with memory, CPU and wall limits enforced by V8 flags and a /proc watchdog. No root needed;
 * a root node runs its ranks as `runAsUser` (default 65534), so they cannot signal it.
 */
export function processDriver (init: ProcessDriverInit = {}): SandboxDriver {
  const owner = rankIdentity(init)
  let cgroups: Promise<CgroupBackend | undefined> | undefined
  const memoryCgroups = async (): Promise<CgroupBackend | undefined> => {
    if (init.memoryCgroup === false || process.getuid?.() !== 0 || process.platform !== 'linux') return undefined
    cgroups ??= detectCgroups(init.cgroupParent).then((r) => r.backend, () => undefined)
    return await cgroups
  }
  return {
    name: 'process',
    async available () {
      if (process.platform !== 'linux') return { ok: false, reason: `the process driver reads /proc for its limits; this is ${process.platform}` }
      if (!process.allowedNodeEnvironmentFlags.has('--experimental-permission')) {
        return { ok: false, reason: `Node ${process.version} has no --experimental-permission flag` }
      }
      try { await access(ENV_BIN, constants.X_OK) } catch { return { ok: false, reason: `${ENV_BIN} is missing (it sets the sandbox environment at exec time)` } }
      return { ok: true }
    },
    spawn: async (spec, options = {}) => await spawnProcessSandbox(spec, options.signal, owner, await memoryCgroups())
  }
}
