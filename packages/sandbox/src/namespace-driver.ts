import { execFile } from 'node:child_process'
import { access, constants } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { SandboxError } from '@mvm/core'
import { validateSpec, scrubbedEnv, nodeArgs } from './spec.js'
import { launch, execChain, ENV_BIN } from './launch.js'
import { createChildSandbox } from './child-sandbox.js'
import { childPids } from './proc-stats.js'
import { detectCgroups, type CgroupBackend } from './cgroup.js'
import type { Availability, Sandbox, SandboxDriver, SandboxSpec } from './types.js'

export interface NamespaceDriverInit {
  /** Name of the parent cgroup the sandboxes' cgroups go under (default `mvm`). */
  cgroupParent?: string
  /** The unshare binary (util-linux). */
  unshare?: string
}

const NAMESPACES = ['--pid', '--fork', '--kill-child', '--mount-proc', '--net', '--ipc', '--uts', '--mount']
const SH = '/bin/sh'
/** Joins the cgroups before exec, so nothing of the sandbox ever runs outside its limits. */
const JOIN = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1/cgroup.procs" || exit 125; shift; n=$((n-1)); done; exec "$@"'
const FIND_PID_MS = 3000
/** unshare reaps its child right away; if it has not after this, kill it (--kill-child ends the rest). */
const UNSHARE_GRACE_MS = 1000

async function run (file: string, args: string[]): Promise<string | undefined> {
  return await new Promise((resolve) => {
    execFile(file, args, { timeout: 5000, env: {} }, (err, _out, stderr) => {
      resolve(err === null ? undefined : (stderr.trim() || err.message))
    })
  })
}

/**
 * Linux namespaces and cgroups (root): the rank sees only its own processes, has only a
 * downed loopback interface, private IPC and hostname, and the kernel enforces memory,
 * task count and one CPU. Inside, the process is confined exactly as by the `process` driver.
 */
export function namespaceDriver (init: NamespaceDriverInit = {}): SandboxDriver {
  const unshare = init.unshare ?? '/usr/bin/unshare'
  let checked: Promise<{ availability: Availability, cgroups?: CgroupBackend }> | undefined

  const check = async (): Promise<{ availability: Availability, cgroups?: CgroupBackend }> => {
    const no = (reason: string): { availability: Availability } => ({ availability: { ok: false, reason } })
    if (process.platform !== 'linux') return no(`namespaces need Linux; this is ${process.platform}`)
    if (process.getuid?.() !== 0) return no(`namespaces and cgroups need root; running as uid ${String(process.getuid?.())}`)
    for (const bin of [unshare, SH, ENV_BIN]) {
      try { await access(bin, constants.X_OK) } catch { return no(`${bin} is missing`) }
    }
    const denied = await run(unshare, [...NAMESPACES, '/bin/true'])
    if (denied !== undefined) return no(`unshare ${NAMESPACES.join(' ')} is denied here: ${denied}`)
    const { backend, problems } = await detectCgroups(init.cgroupParent)
    if (backend === undefined) return no(`no usable cgroup hierarchy: ${problems.join('; ')}`)
    const note = problems.length > 0 ? `using ${backend.description} (${problems.join('; ')})` : `using ${backend.description}`
    return { availability: { ok: true, reason: note }, cgroups: backend }
  }

  const ready = async (): Promise<CgroupBackend> => {
    checked ??= check()
    const c = await checked
    if (c.cgroups === undefined) throw new SandboxError(`namespace driver unavailable: ${c.availability.reason ?? ''}`)
    return c.cgroups
  }

  const spawn = async (spec: SandboxSpec, options: { signal?: AbortSignal } = {}): Promise<Sandbox> => {
    validateSpec(spec)
    const cgroups = await ready()
    const limits = spec.limits ?? {}
    const cg = await cgroups.create(`${spec.id}-${randomBytes(4).toString('hex')}`, limits)
    let launched
    try {
      const argv = [SH, '-c', JOIN, 'mvm-sandbox', String(cg.dirs.length), ...cg.dirs,
        ...execChain([unshare, ...NAMESPACES], scrubbedEnv(spec), nodeArgs(spec))]
      launched = await launch(spec, argv, options.signal)
    } catch (e) {
      await cg.remove()
      throw e
    }
    const { child, logs } = launched
    // unshare forks the namespace's pid 1 (our Node process); find its host pid
    let inner: number | undefined
    for (let waited = 0; inner === undefined && waited < FIND_PID_MS && child.exitCode === null; waited += 10) {
      inner = (await childPids(child.pid ?? -1))[0]
      if (inner === undefined) await new Promise(resolve => setTimeout(resolve, 10))
    }
    return createChildSandbox({
      id: spec.id,
      child,
      workDir: spec.workDir,
      logs,
      limits,
      targetPid: () => inner,
      signal: (sig) => {
        // pid 1 of a namespace only gets signals it handles, SIGKILL always. unshare must stay
        // alive to reap it (killing unshare first leaves a zombie with the host's init)
        if (inner === undefined) { child.kill(sig); return }
        try { process.kill(inner, sig) } catch { /* already gone */ }
        if (sig === 'SIGKILL') setTimeout(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') }, UNSHARE_GRACE_MS).unref()
      },
      watchMemory: cg.memoryBytes === undefined,
      classify: async () => {
        if (await cg.oomKilled()) return { reason: 'memory', message: `killed by the kernel at the cgroup memory limit (${Math.round((cg.memoryBytes ?? 0) / 1048576)} MB)` }
        if (child.exitCode === 125) return { reason: 'error', message: `could not join cgroup ${cg.dirs.join(', ')}` }
        return undefined
      },
      cleanup: cg.remove
    })
  }

  return {
    name: 'namespace',
    available: async () => { checked ??= check(); return (await checked).availability },
    spawn
  }
}
