import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, chmod, open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { SandboxError, throwIfAborted } from '@mvm/core'
import { prepareForIdentity, type RunAs } from './identity.js'
import type { SandboxSpec } from './types.js'

export interface Launched {
  child: ChildProcess
  logs: { out: string, err: string }
}

/** Creates the private workDir (0700) and the log directory. */
export async function prepareDirs (spec: SandboxSpec): Promise<void> {
  await mkdir(spec.workDir, { recursive: true, mode: 0o700 })
  await chmod(spec.workDir, 0o700)
  await mkdir(spec.logDir, { recursive: true })
}

export function logPaths (logDir: string, id: string): { out: string, err: string } {
  return { out: join(logDir, `${id}.out`), err: join(logDir, `${id}.err`) }
}

export const ENV_BIN = '/usr/bin/env'

/**
 * `env -i VAR=… command…`: the environment is set at exec time, after any spawn hook of
 * the parent (APM agents, coverage tools such as tap's processinfo) has added NODE_OPTIONS
 * and its own variables, so nothing of the parent leaks in. The IPC channel is stdio
 * index 3, which Node's spawn normally announces through these two variables; it uses
 * `advanced` (structured clone) serialization so bytes and typed arrays cross without base64.
 */
export function execChain (prefix: string[], env: Record<string, string>, nodeArgs: string[]): string[] {
  const vars = Object.entries({ ...env, NODE_CHANNEL_FD: '3', NODE_CHANNEL_SERIALIZATION_MODE: 'advanced' }).map(([k, v]) => `${k}=${v}`)
  return [...prefix, ENV_BIN, '-i', ...vars, process.execPath, ...nodeArgs]
}

export interface LaunchOptions {
  signal?: AbortSignal
  /** The rank's identity: its work dir is chowned to it. */
  owner?: RunAs
  /** Whether the spawned command itself gets `owner`'s uid/gid (false when it drops privileges later, after joining cgroups). */
  setIds?: boolean
}

/**
 * Spawns `argv` with stdout/stderr appended to the log files and an IPC channel
 * on fd 3, and waits until the OS has started it (or failed to). The child leads a new
 * session and process group: kill(0) from a rank reaches only its own group, never the
 * node's, and the node kills a rank's whole tree with one kill(-pid).
 */
export async function launch (spec: SandboxSpec, argv: string[], options: LaunchOptions = {}): Promise<Launched> {
  const { signal, owner } = options
  const [command, ...args] = argv as [string, ...string[]]
  throwIfAborted(signal)
  await prepareDirs(spec)
  if (owner !== undefined) {
    try {
      await prepareForIdentity(spec.workDir, owner)
    } catch (e) {
      throw new SandboxError(`sandbox ${spec.id}: could not give work dir ${spec.workDir} to uid ${owner.uid}: ${(e as Error).message}`, { cause: e, data: { id: spec.id } })
    }
  }
  const logs = logPaths(spec.logDir, spec.id)
  let out: FileHandle | undefined
  let err: FileHandle | undefined
  try {
    out = await open(logs.out, 'a', 0o600)
    err = await open(logs.err, 'a', 0o600)
    throwIfAborted(signal)
    const child = spawn(command, args, {
      cwd: spec.workDir,
      env: {},
      stdio: ['ignore', out.fd, err.fd, 'ipc'],
      serialization: 'advanced',
      detached: true,
      ...(owner !== undefined && options.setIds !== false ? { uid: owner.uid, gid: owner.gid } : {})
    })
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve)
      child.once('error', (e) => reject(new SandboxError(`sandbox ${spec.id}: could not start ${command}: ${e.message}`, { cause: e, data: { id: spec.id } })))
    })
    return { child, logs }
  } finally {
    // the child holds its own copies of the descriptors
    await out?.close()
    await err?.close()
  }
}
