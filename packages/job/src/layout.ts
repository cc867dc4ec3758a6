import { BadRequestError } from '@mvm/core'

/** An ordered set of ranks an algorithm runs over; index 0 is the root of rooted algorithms. */
export interface Team {
  readonly ranks: readonly number[]
  /** This rank's index in `ranks`, -1 when it is not a member. */
  readonly me: number
}

export interface Tiers {
  /** The ranks on this rank's node, its leader first. */
  local: Team
  /** One leader per node (the root's node first when rooted); `me` is -1 on non-leaders. */
  leaders: Team
  /** Per leader index, that node's local team order (what a leader gathers or scatters). */
  nodes: ReadonlyArray<readonly number[]>
}

const team = (ranks: readonly number[], rank: number): Team => ({ ranks, me: ranks.indexOf(rank) })

/**
 * Which ranks share a node. Algorithms combine on a node before crossing, so each phase that
 * leaves a node carries one message per node instead of one per rank. Without locality every
 * rank is its own node (all remote).
 */
export class Layout {
  /** Members of each node in ascending rank order; nodes ordered by their lowest rank. */
  private readonly groups: number[][]
  private readonly nodeOf: number[]

  constructor (readonly size: number, locality?: readonly number[]) {
    if (locality !== undefined && (locality.length !== size || !locality.every((n) => Number.isInteger(n)))) {
      throw new BadRequestError(`locality: expected ${size} integers (one node id per rank), got ${JSON.stringify(locality).slice(0, 80)}`)
    }
    const byId = new Map<number, number[]>()
    for (let r = 0; r < size; r++) {
      const id = locality === undefined ? r : locality[r]!
      let g = byId.get(id)
      if (g === undefined) { g = []; byId.set(id, g) }
      g.push(r)
    }
    // Map keeps insertion order, and ranks are visited ascending: nodes come out by lowest rank
    this.groups = [...byId.values()]
    this.nodeOf = new Array<number>(size)
    this.groups.forEach((g, i) => { for (const r of g) this.nodeOf[r] = i })
  }

  get nodeCount (): number { return this.groups.length }

  /** Every rank, grouped by node: in a halving/doubling algorithm the first, largest exchanges stay on a node. */
  byNode (rank: number): Team { return team(this.groups.flat(), rank) }

  /** Teams for `rank`; with a root, the root leads its node and the leaders' team starts with it. */
  tiers (rank: number, root?: number): Tiers {
    const rootNode = root === undefined ? -1 : this.nodeOf[root]!
    const order = (g: number[], i: number): number[] => i === rootNode ? [root!, ...g.filter((r) => r !== root)] : g
    const nodeIdx = rootNode <= 0 ? this.groups.map((_, i) => i) : [rootNode, ...this.groups.map((_, i) => i).filter((i) => i !== rootNode)]
    const nodes = nodeIdx.map((i) => order(this.groups[i]!, i))
    const mine = this.nodeOf[rank]!
    return {
      local: team(order(this.groups[mine]!, mine), rank),
      leaders: team(nodes.map((g) => g[0]!), rank),
      nodes
    }
  }
}
