import { chmod, mkdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { DataError, ErrorCode, type Logger } from '@mvm/core'
import type { DataService, DataStore, EnvironmentCache, EnvironmentTree, Holder } from '@mvm/data'
import type { InstanceFiles } from '@mvm/runtime'
import type { InstantiateSpec } from '@mvm/wire'

/** A node's data layer, as composed by @mvm/node: its store and the transfer service. */
export interface NodeData { store: DataStore, service: DataService, environments?: EnvironmentCache }

interface Copy { path: string, size: number, mtimeMs: number, ctimeMs: number, ino: number }

/** Outputs stay pinned here a while after their job, so the super-peer can fetch them even if it asks late. */
const OUTPUT_PIN_MS = 10 * 60_000

/**
 * A job's inputs and outputs on a peer: prefetched inputs are fetched into the node's store
 * (from the super-peer and any other holder), written out once as a read-only file that every
 * rank's work dir links to, and checked before each reuse; on-demand inputs are read range by
 * range; outputs go into the store for the super-peer to fetch.
 */
export class JobData {
  private readonly copies = new Map<string, Copy>()
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor (private readonly data: NodeData, private readonly dir: string, private readonly log: Logger) {}

  async prepare (inst: InstantiateSpec, signal: AbortSignal): Promise<InstanceFiles | undefined> {
    const inputs = inst.inputs ?? []
    const outputs = inst.outputs ?? []
    const envId = inst.environment?.id
    if (inputs.length === 0 && outputs.length === 0 && envId === undefined) return undefined
    const holders: Holder[] = inst.dataHolders ?? []
    let env: { dir: string, tree: EnvironmentTree } | undefined
    if (envId !== undefined) {
      if (this.data.environments === undefined) throw new DataError(ErrorCode.DATA_UNAVAILABLE, 'this node keeps no environments')
      env = await this.data.environments.ensure(envId, holders, { signal })
    }
    const pin = `job:${inst.jobId}`
    const local: InstanceFiles['local'] = []
    for (const f of inputs.filter((x) => x.mode === 'prefetch')) {
      const stats = await this.data.service.fetch(f.id, holders, { signal })
      await this.data.store.pin(f.id, pin)
      local.push({ name: f.name, path: await this.copyOf(f.id, signal), size: f.size })
      this.log.debug({ jobId: inst.jobId, input: f.name, bytes: stats.bytes, fromCache: stats.fromCache }, 'input ready')
    }
    const onDemand = inputs.filter((x) => x.mode === 'onDemand')
    const ids = new Map(onDemand.map((f) => [f.name, f.id]))
    for (const f of onDemand) await this.data.store.pin(f.id, pin).catch(() => {})
    return {
      local,
      onDemand: onDemand.map((f) => ({ name: f.name, size: f.size })),
      read: async (name, offset, length) => await this.data.service.fetchRange(ids.get(name)!, offset, length, holders, { signal }),
      outputs,
      collect: async (abs, name) => {
        const e = await this.data.store.importFile(abs, { name, pin: `out:${inst.jobId}` })
        return { id: e.id, size: e.size }
      },
      ...(env === undefined ? {} : { environment: async (workDir: string) => { await this.data.environments!.place(env, workDir) } })
    }
  }

  /** The job is over here: its inputs may be evicted again, its outputs after the super-peer had time to fetch them. */
  release (inst: InstantiateSpec): void {
    for (const f of inst.inputs ?? []) void this.data.store.unpin(f.id, `job:${inst.jobId}`).catch(() => {})
    if ((inst.outputs ?? []).length === 0) return
    const t = setTimeout(() => {
      this.timers.delete(t)
      for (const e of this.data.store.list()) if (e.pins.includes(`out:${inst.jobId}`)) void this.data.store.unpin(e.id, `out:${inst.jobId}`).catch(() => {})
    }, OUTPUT_PIN_MS)
    t.unref()
    this.timers.add(t)
  }

  /**
   * The one local file of an input that work dirs link to. A rank of a node that is not root
   * runs as the node's own user and could change it: one whose size, times or inode moved
   * since it was written is written again from the (verified) chunks.
   */
  private async copyOf (id: string, signal: AbortSignal): Promise<string> {
    const path = join(this.dir, id)
    const known = this.copies.get(id)
    if (known !== undefined) {
      const s = await stat(path).catch(() => undefined)
      if (s !== undefined && s.size === known.size && s.mtimeMs === known.mtimeMs && s.ctimeMs === known.ctimeMs && s.ino === known.ino) return path
      this.log.warn({ id }, 'the local copy of an input changed since it was written; writing it again')
    }
    await mkdir(this.dir, { recursive: true })
    const tmp = `${path}.${process.pid}.${Date.now()}.tmp`
    try {
      await this.data.store.materialize(id, tmp, { signal })
      await chmod(tmp, 0o444)
      await rename(tmp, path)
    } finally { await rm(tmp, { force: true }) }
    const s = await stat(path)
    this.copies.set(id, { path, size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs, ino: s.ino })
    return path
  }

  stop (): void {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }
}
