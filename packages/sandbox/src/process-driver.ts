import { access, constants } from 'node:fs/promises'
import { validateSpec, scrubbedEnv, nodeArgs } from './spec.js'
import { launch, execChain, ENV_BIN } from './launch.js'
import { createChildSandbox, signalGroup, type ManagedSandbox } from './child-sandbox.js'
import { rankIdentity, type IdentityOptions, type RunAs } from './identity.js'
import type { SandboxDriver, SandboxSpec } from './types.js'

export type ProcessDriverInit = IdentityOptions

/** Spawns a sandbox with this driver and returns the pool-managed handle. */
export async function spawnProcessSandbox (spec: SandboxSpec, signal?: AbortSignal, owner?: RunAs): Promise<ManagedSandbox> {
  validateSpec(spec)
  const { child, logs } = await launch(spec, execChain([], scrubbedEnv(spec), nodeArgs(spec)), { ...(signal === undefined ? {} : { signal }), ...(owner === undefined ? {} : { owner }) })
  return createChildSandbox({
    id: spec.id,
    child,
    workDir: spec.workDir,
    logs,
    limits: spec.limits ?? {},
    targetPid: () => child.pid,
    signal: (sig) => { signalGroup(child, sig) },
    watchMemory: true
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
    spawn: async (spec, options = {}) => await spawnProcessSandbox(spec, options.signal, owner)
  }
}
