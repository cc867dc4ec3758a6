import { BadRequestError } from '@mvm/core'
import { resolveOp } from './ops.js'
import type { ReduceOp, Transport } from './types.js'

/**
 * Collectives over the rank-addressed channel. Every rank calls collectives in the same order,
 * so a per-rank counter gives matching tags without any negotiation. Root-centred (linear)
 * algorithms: jobs here are small, and the root folds in rank order so float results are the
 * same on every run.
 */
export class Collectives {
  private tag = 0

  constructor (private readonly rank: number, private readonly size: number, private readonly t: Transport, private readonly signal: AbortSignal) {}

  private checkRoot (root: number, what: string): void {
    if (!Number.isInteger(root) || root < 0 || root >= this.size) throw new BadRequestError(`${what}: root ${String(root)} is not a rank of this job (0..${this.size - 1})`)
  }

  async gather<T>(value: T, root = 0): Promise<T[] | undefined> {
    this.checkRoot(root, 'gather')
    const tag = this.tag++
    if (this.rank !== root) { await this.t.sendRank(root, tag, value, this.signal); return undefined }
    const out = new Array<T>(this.size)
    out[root] = value
    await Promise.all(Array.from({ length: this.size }, async (_, r) => {
      if (r !== root) out[r] = await this.t.recvRank(r, tag, this.signal) as T
    }))
    return out
  }

  async broadcast<T>(value: T, root = 0): Promise<T> {
    this.checkRoot(root, 'broadcast')
    const tag = this.tag++
    if (this.rank !== root) return await this.t.recvRank(root, tag, this.signal) as T
    await Promise.all(Array.from({ length: this.size }, async (_, r) => {
      if (r !== root) await this.t.sendRank(r, tag, value, this.signal)
    }))
    return value
  }

  async scatter<T>(values: T[] | undefined, root = 0): Promise<T> {
    this.checkRoot(root, 'scatter')
    const tag = this.tag++
    if (this.rank !== root) return await this.t.recvRank(root, tag, this.signal) as T
    if (!Array.isArray(values) || values.length !== this.size) {
      throw new BadRequestError(`scatter: the root needs an array of ${this.size} values (one per rank), got ${Array.isArray(values) ? values.length : typeof values}`)
    }
    await Promise.all(values.map(async (v, r) => { if (r !== root) await this.t.sendRank(r, tag, v, this.signal) }))
    return values[root] as T
  }

  async reduce<T>(value: T, op: ReduceOp, root = 0): Promise<T | undefined> {
    const f = resolveOp(op)
    const all = await this.gather(value, root)
    if (all === undefined) return undefined
    return all.reduce((a, b) => f(a, b)) as T
  }

  async allReduce<T>(value: T, op: ReduceOp): Promise<T> {
    const r = await this.reduce(value, op, 0)
    return await this.broadcast(r as T, 0)
  }

  async barrier (): Promise<void> {
    await this.gather(null, 0)
    await this.broadcast(null, 0)
  }
}
