import { BadRequestError } from '@mvm/core'
import { MAX_STEPS, dissemination, recursiveDoubling, reduceScatterAllgather, starBroadcast, starReduce, treeBroadcast, treeGather, treeReduce, treeScatter, type Link } from './algorithms.js'
import { Layout, type Tiers } from './layout.js'
import { isBuiltinOp, resolveOp } from './ops.js'
import { segmentLength, type Segmentable } from './segments.js'
import type { ReduceOp, Transport } from './types.js'

/** Tags per call: 8 phases of MAX_STEPS steps, so no two calls' messages can ever meet. */
const PHASES = 8
const CALL_TAGS = PHASES * MAX_STEPS
/** Calls before the counter wraps, keeping tags safe integers; no message lives that long. */
const CALL_WRAP = Math.floor(Number.MAX_SAFE_INTEGER / CALL_TAGS)

/**
 * From this many elements an allReduce moves segments (reduce-scatter + allgather) instead of
 * whole values: below it the extra rounds cost more than the bytes they save.
 */
export const LARGE_ELEMENTS = 4096

/**
 * Up to this many ranks on a node, small allReduce and barrier gather to the node's leader and
 * back in one round each (a star) instead of a binomial tree's log2 rounds each way.
 */
export const STAR_MAX = 8

/**
 * Collectives over the rank-addressed channel. Every rank calls collectives in the same order,
 * so a per-rank call counter gives matching tags without any negotiation; each call owns a
 * block of tags, one run per phase, and each algorithm numbers its rounds inside its run.
 *
 * Trees and recursive doubling, placement-aware: with `locality`, ranks combine on their node
 * first, one leader per node crosses, and results spread back on the node. Built-in ops use a
 * fixed combination tree (deterministic, the same bits on every rank); a function is folded
 * in rank order at one rank, as its caller may rely on that order.
 */
export class Collectives {
  private call = 0
  private readonly layout: Layout
  private readonly tierCache = new Map<number, Tiers>()

  constructor (private readonly rank: number, private readonly size: number, private readonly t: Transport, private readonly signal: AbortSignal, locality?: readonly number[]) {
    this.layout = new Layout(size, locality)
  }

  private checkRoot (root: number, what: string): void {
    if (!Number.isInteger(root) || root < 0 || root >= this.size) throw new BadRequestError(`${what}: root ${String(root)} is not a rank of this job (0..${this.size - 1})`)
  }

  private tiers (root = 0): Tiers {
    let x = this.tierCache.get(root)
    if (x === undefined) { x = this.layout.tiers(this.rank, root); this.tierCache.set(root, x) }
    return x
  }

  /** Reserves this call's tag block; returns a Link per phase. */
  private begin (): (phase: number) => Link {
    const base = this.call * CALL_TAGS
    this.call = (this.call + 1) % CALL_WRAP
    const { t, signal } = this
    return (phase) => {
      const at = base + phase * MAX_STEPS
      return {
        send: async (to, step, value) => { await t.sendRank(to, at + step, value, signal) },
        recv: async (from, step) => await t.recvRank(from, at + step, signal)
      }
    }
  }

  async gather<T>(value: T, root = 0): Promise<T[] | undefined> {
    this.checkRoot(root, 'gather')
    return await this.gatherIn(this.begin(), value, root) as T[] | undefined
  }

  async broadcast<T>(value: T, root = 0): Promise<T> {
    this.checkRoot(root, 'broadcast')
    return await this.broadcastIn(this.begin(), value, root, 0) as T
  }

  async scatter<T>(values: T[] | undefined, root = 0): Promise<T> {
    this.checkRoot(root, 'scatter')
    const link = this.begin()
    const { local, leaders, nodes } = this.tiers(root)
    let perNode: unknown[] | undefined
    if (this.rank === root) {
      if (!Array.isArray(values) || values.length !== this.size) {
        throw new BadRequestError(`scatter: the root needs an array of ${this.size} values (one per rank), got ${Array.isArray(values) ? values.length : typeof values}`)
      }
      perNode = nodes.map((g) => g.map((r) => values[r]))
    }
    const mine = leaders.me >= 0 ? await treeScatter(leaders, link(0), perNode) as unknown[] : undefined
    return await treeScatter(local, link(1), mine) as T
  }

  async reduce<T>(value: T, op: ReduceOp, root = 0): Promise<T | undefined> {
    this.checkRoot(root, 'reduce')
    const f = resolveOp(op)
    const link = this.begin()
    if (!isBuiltinOp(op)) return foldAll(await this.gatherIn(link, value, root), f) as T | undefined
    const { local, leaders } = this.tiers(root)
    const onNode = await treeReduce(local, link(0), value, f)
    if (leaders.me < 0) return undefined
    return await treeReduce(leaders, link(1), onNode, f) as T | undefined
  }

  async allReduce<T>(value: T, op: ReduceOp): Promise<T> {
    const f = resolveOp(op)
    const link = this.begin()
    if (!isBuiltinOp(op)) {
      const all = foldAll(await this.gatherIn(link, value, 0), f)
      return await this.broadcastIn(link, all, 0, 2) as T
    }
    const n = segmentLength(value)
    if (n !== undefined && n >= LARGE_ELEMENTS && this.size >= 4) {
      return await reduceScatterAllgather(this.layout.byNode(this.rank), link(0), value as Segmentable, f) as T
    }
    const { local, leaders } = this.tiers()
    const star = local.ranks.length <= STAR_MAX
    let acc = await (star ? starReduce : treeReduce)(local, link(0), value, f)
    if (leaders.me >= 0) acc = await recursiveDoubling(leaders, link(1), acc, f)
    return await (star ? starBroadcast : treeBroadcast)(local, link(2), acc) as T
  }

  async barrier (): Promise<void> {
    const link = this.begin()
    const { local, leaders } = this.tiers()
    const star = local.ranks.length <= STAR_MAX
    await (star ? starReduce : treeReduce)(local, link(0), null, () => null)
    if (leaders.me >= 0) await dissemination(leaders, link(1))
    await (star ? starBroadcast : treeBroadcast)(local, link(2), null)
  }

  /** Node by node to the root; the result is in rank order whatever the placement. */
  private async gatherIn (link: (phase: number) => Link, value: unknown, root: number): Promise<unknown[] | undefined> {
    const { local, leaders, nodes } = this.tiers(root)
    const onNode = await treeGather(local, link(0), value)
    if (leaders.me < 0) return undefined
    const byNode = await treeGather(leaders, link(1), onNode) as unknown[][] | undefined
    if (byNode === undefined) return undefined
    const out = new Array<unknown>(this.size)
    byNode.forEach((vals, j) => { nodes[j]!.forEach((r, i) => { out[r] = vals[i] }) })
    return out
  }

  private async broadcastIn (link: (phase: number) => Link, value: unknown, root: number, phase: number): Promise<unknown> {
    const { local, leaders } = this.tiers(root)
    if (leaders.me >= 0) value = await treeBroadcast(leaders, link(phase), value)
    return await treeBroadcast(local, link(phase + 1), value)
  }
}

/** Left fold in rank order: ((v0 · v1) · v2) …, as a function op was always applied. */
function foldAll (all: unknown[] | undefined, f: (a: unknown, b: unknown) => unknown): unknown {
  return all?.reduce((a, b) => f(a, b))
}
