import { execFile } from 'node:child_process'
import { access, constants } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { SandboxError } from '@mvm/core'
import { validateSpec, scrubbedEnv, nodeArgs } from './spec.js'
import { launch, execChain, ENV_BIN } from './launch.js'
import { createChildSandbox } from './child-sandbox.js'
import { childPids } from './proc-stats.js'
import { detectCgroups, type CgroupBackend } from './cgroup.js'
import { rankIdentity, type IdentityOptions, type RunAs } from './identity.js'
import type { Availability, Sandbox, SandboxDriver, SandboxSpec } from './types.js'

export interface NamespaceDriverInit extends IdentityOptions {
  /** Name of the parent cgroup the sandboxes' cgroups go under (default `mvm`). */
  cgroupParent?: string
  /** The unshare binary (util-linux). */
  unshare?: string
  /** The setpriv binary (util-linux) that drops to `runAsUser` after the cgroups are joined. */
  setpriv?: string
}

const NAMESPACES = ['--pid', '--fork', '--kill-child', '--mount-proc', '--net', '--ipc', '--uts', '--mount']
const SH = '/bin/sh'
/** Joins the cgroups before exec, so nothing of the sandbox ever runs outside its limits. */
const JOIN = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1/cgroup.procs" || exit 125; shift; n=$((n-1)); done; exec "$@"'
const FIND_PID_MS = 3000
/** unshare reaps its child right away; if it has not after this, kill it (--kill-child ends the rest). */
const UNSHARE_GRACE_MS = 1000
/** What unshare (util-linux 2.38) prints when its child was killed by a signal it cannot re-raise. */
const UNSHARE_SIGNALLED = 'unshare: sigprocmask unblock failed'

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
  const setpriv = init.setpriv ?? '/usr/bin/setpriv'
  const owner = rankIdentity(init)
  /**
   * Root joins the cgroups, setpriv drops to the rank's uid/gid (no groups, no new privileges),
   * and unshare makes a user namespace in which that uid is root: the rank keeps what it needs
   * to set up its namespaces but holds no capability over the host's processes, and as uid
   * `owner.uid` outside it may signal nothing of the node's.
   */
  const prefix = (as: RunAs | undefined): string[] => as === undefined
    ? [unshare, ...NAMESPACES]
    : [setpriv, `--reuid=${as.uid}`, `--regid=${as.gid}`, '--clear-groups', '--no-new-privs', unshare, '--user', '--map-root-user', ...NAMESPACES]
  let checked: Promise<{ availability: Availability, cgroups?: CgroupBackend }> | undefined

  const check = async (): Promise<{ availability: Availability, cgroups?: CgroupBackend }> => {
    const no = (reason: string): { availability: Availability } => ({ availability: { ok: false, reason } })
    if (process.platform !== 'linux') return no(`namespaces need Linux; this is ${process.platform}`)
    if (process.getuid?.() !== 0) return no(`namespaces and cgroups need root; running as uid ${String(process.getuid?.())}`)
    for (const bin of [unshare, SH, ENV_BIN, ...(owner === undefined ? [] : [setpriv])]) {
      try { await access(bin, constants.X_OK) } catch { return no(`${bin} is missing`) }
    }
    const [file, ...args] = prefix(owner) as [string, ...string[]]
    const denied = await run(file, [...args, '/bin/true'])
    if (denied !== undefined) return no(`${[file, ...args].join(' ')} is denied here: ${denied}${owner === undefined ? '' : ' (unprivileged user namespaces may be off; runAsUser: false runs ranks as root without one)'}`)
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
        ...execChain(prefix(owner), scrubbedEnv(spec), nodeArgs(spec))]
      // the shell must stay root to join the cgroups; setpriv drops the ids after that
      launched = await launch(spec, argv, { ...(options.signal === undefined ? {} : { signal: options.signal }), ...(owner === undefined ? {} : { owner }), setIds: false })
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
      // pid 1 of a namespace dies only of SIGKILL from outside; unshare 2.38 then fails to
      // re-raise it and exits 1 with this line instead of dying of the same signal
      deathSignal: async (code, sig, tail) => sig ?? (code === 1 && (await tail()).includes(UNSHARE_SIGNALLED) ? 'SIGKILL' : null),
      cleanup: cg.remove
    })
  }

  return {
    name: 'namespace',
    available: async () => { checked ??= check(); return (await checked).availability },
    spawn
  }
}
