import type { Team } from './layout.js'
import { conform, cut, join, segmentLength, type Segmentable } from './segments.js'

/**
 * One phase of one collective call: messages to and from ranks, told apart by `step`.
 * An algorithm sends at most one message per (sender, receiver, step).
 */
export interface Link {
  send: (to: number, step: number, value: unknown) => Promise<void>
  recv: (from: number, step: number) => Promise<unknown>
}

type Combine = (a: unknown, b: unknown) => unknown

/** Steps an algorithm may use within one phase (tags are reserved per phase). */
export const MAX_STEPS = 1 << 17

const lowBit = (v: number): number => v & -v

/** Binomial tree from team index 0: ceil(log2 n) rounds, n - 1 messages. */
export async function treeBroadcast (t: Team, link: Link, value: unknown): Promise<unknown> {
  const n = t.ranks.length
  const v = t.me
  if (n === 1) return value
  let span = n <= 1 ? 1 : 1 << Math.ceil(Math.log2(n))
  if (v !== 0) { span = lowBit(v); value = await link.recv(t.ranks[v - span]!, 0) }
  const sends: Array<Promise<void>> = []
  // biggest subtree first: it has the longest way to go
  for (let m = span >> 1; m >= 1; m >>= 1) if (v + m < n) sends.push(link.send(t.ranks[v + m]!, 0, value))
  await Promise.all(sends)
  return value
}

/**
 * Binomial tree towards team index 0. Each subtree covers a contiguous run of team indices
 * and a parent folds its own run first, then its children's in index order: the result is the
 * in-order fold over the team for any associative op. Undefined except at index 0.
 */
export async function treeReduce (t: Team, link: Link, value: unknown, combine: Combine): Promise<unknown> {
  const n = t.ranks.length
  const v = t.me
  const children: number[] = []
  let m = 1
  for (; m < n && (v & m) === 0; m <<= 1) if (v + m < n) children.push(v + m)
  const got = await Promise.all(children.map(async (c) => await link.recv(t.ranks[c]!, 0)))
  let acc = value
  for (const x of got) acc = combine(acc, conform(x, value))
  if (v === 0) return acc
  await link.send(t.ranks[v - lowBit(v)]!, 0, acc)
  return undefined
}

/**
 * Star to team index 0 in one round, folded in team order there. On one node a hop is cheap
 * and the node's router serialises messages anyway: one round beats log2 n for small teams.
 */
export async function starReduce (t: Team, link: Link, value: unknown, combine: Combine): Promise<unknown> {
  if (t.me !== 0) { await link.send(t.ranks[0]!, 0, value); return undefined }
  const got = await Promise.all(t.ranks.slice(1).map(async (r) => await link.recv(r, 0)))
  let acc = value
  for (const x of got) acc = combine(acc, conform(x, value))
  return acc
}

/** From team index 0 to every other member in one round. */
export async function starBroadcast (t: Team, link: Link, value: unknown): Promise<unknown> {
  if (t.me !== 0) return await link.recv(t.ranks[0]!, 0)
  await Promise.all(t.ranks.slice(1).map(async (r) => { await link.send(r, 0, value) }))
  return value
}

/** Every member's value in team order at index 0 (undefined elsewhere); same tree as treeReduce. */
export async function treeGather (t: Team, link: Link, value: unknown): Promise<unknown[] | undefined> {
  const out = await treeReduce(t, link, [value], (a, b) => (a as unknown[]).concat(b as unknown[]))
  return out as unknown[] | undefined
}

/** `values[i]` (team order, read at index 0) to member i; each parent passes on its children's runs. */
export async function treeScatter (t: Team, link: Link, values: readonly unknown[] | undefined): Promise<unknown> {
  const n = t.ranks.length
  const v = t.me
  let span = n <= 1 ? 1 : 1 << Math.ceil(Math.log2(n))
  // `run` holds the values for team indices v .. v + run.length - 1
  let run: readonly unknown[] = values ?? []
  if (v !== 0) { span = lowBit(v); run = await link.recv(t.ranks[v - span]!, 0) as unknown[] }
  const sends: Array<Promise<void>> = []
  for (let m = span >> 1; m >= 1; m >>= 1) if (v + m < n) sends.push(link.send(t.ranks[v + m]!, 0, run.slice(m, 2 * m)))
  await Promise.all(sends)
  return run[0]
}

/** Dissemination barrier: ceil(log2 n) rounds, one message per member per round. */
export async function dissemination (t: Team, link: Link): Promise<void> {
  const n = t.ranks.length
  for (let d = 1, step = 0; d < n; d <<= 1, step++) {
    await Promise.all([link.send(t.ranks[(t.me + d) % n]!, step, null), link.recv(t.ranks[(t.me - d + n) % n]!, step)])
  }
}

/**
 * The power-of-two core of a team: with n = 2^k + rem, the first 2·rem members pair up and the
 * even one of each pair hands its value to the odd one, which folds them (even first). The
 * members left, in team order, are the virtual ranks 0 .. 2^k - 1, each holding a contiguous
 * run of the team: order-preserving folds stay correct. `unfold` hands results back.
 */
class Core {
  readonly p2: number
  readonly rem: number
  /** This member's virtual rank, -1 while it sits out. */
  readonly vr: number

  constructor (private readonly t: Team, private readonly link: Link) {
    const n = t.ranks.length
    this.p2 = 1 << Math.floor(Math.log2(n))
    this.rem = n - this.p2
    const me = t.me
    this.vr = me < 2 * this.rem ? (me % 2 === 0 ? -1 : (me - 1) / 2) : me - this.rem
  }

  rank (vr: number): number { return this.t.ranks[vr < this.rem ? 2 * vr + 1 : vr + this.rem]! }

  async fold (value: unknown, combine: Combine, step: number): Promise<unknown> {
    const me = this.t.me
    if (me >= 2 * this.rem) return value
    if (me % 2 === 0) { await this.link.send(this.t.ranks[me + 1]!, step, value); return value }
    return combine(conform(await this.link.recv(this.t.ranks[me - 1]!, step), value), value)
  }

  async unfold (value: unknown, like: unknown, step: number): Promise<unknown> {
    const me = this.t.me
    if (me >= 2 * this.rem) return value
    if (me % 2 === 1) { await this.link.send(this.t.ranks[me - 1]!, step, value); return value }
    return conform(await this.link.recv(this.t.ranks[me + 1]!, step), like)
  }
}

/**
 * Recursive doubling: log2(2^k) exchange rounds (+2 when n is not a power of two). Partners
 * fold the lower block first, so both compute the same operands in the same order and every
 * member ends with the bitwise same value.
 */
export async function recursiveDoubling (t: Team, link: Link, value: unknown, combine: Combine): Promise<unknown> {
  if (t.ranks.length === 1) return value
  const core = new Core(t, link)
  let acc = await core.fold(value, combine, 0)
  if (core.vr >= 0) {
    for (let m = 1, step = 1; m < core.p2; m <<= 1, step++) {
      const peer = core.vr ^ m
      const [, got] = await Promise.all([link.send(core.rank(peer), step, acc), link.recv(core.rank(peer), step)])
      const theirs = conform(got, value)
      acc = core.vr < peer ? combine(acc, theirs) : combine(theirs, acc)
    }
  }
  return await core.unfold(acc, value, MAX_STEPS - 1)
}

/**
 * Rabenseifner: reduce-scatter by recursive halving (partner distance 1, 2, 4 …, so blocks stay
 * contiguous and folds keep team order), then allgather by recursive doubling in reverse.
 * Each element is folded on exactly one member and copied to the others: identical everywhere.
 * Moves 2·n·(p-1)/p elements per member in 2·log2(p) rounds, against n·log2(p) for doubling.
 */
export async function reduceScatterAllgather (t: Team, link: Link, value: Segmentable, combine: Combine): Promise<unknown> {
  if (t.ranks.length === 1) return value
  const core = new Core(t, link)
  let acc = await core.fold(value, combine, 0) as Segmentable
  if (core.vr >= 0) {
    const ranges: Array<[number, number]> = []
    let lo = 0
    let hi = segmentLength(acc)!
    let step = 1
    for (let m = 1; m < core.p2; m <<= 1, step++) {
      const peer = core.vr ^ m
      const mid = lo + Math.floor((hi - lo) / 2)
      const lower = (core.vr & m) === 0
      const [keepLo, keepHi, sendLo, sendHi] = lower ? [lo, mid, mid, hi] : [mid, hi, lo, mid]
      ranges.push([lo, hi])
      const [, got] = await Promise.all([link.send(core.rank(peer), step, cut(acc, sendLo - lo, sendHi - lo)), link.recv(core.rank(peer), step)])
      const mine = cut(acc, keepLo - lo, keepHi - lo)
      const theirs = conform(got, value)
      acc = (core.vr < peer ? combine(mine, theirs) : combine(theirs, mine)) as Segmentable
      lo = keepLo
      hi = keepHi
    }
    for (let m = core.p2 >> 1; m >= 1; m >>= 1, step++) {
      const peer = core.vr ^ m
      const [, got] = await Promise.all([link.send(core.rank(peer), step, acc), link.recv(core.rank(peer), step)])
      const theirs = conform(got, value) as Segmentable
      acc = (core.vr & m) === 0 ? join(acc, theirs) : join(theirs, acc)
      ;[lo, hi] = ranges.pop()!
    }
  }
  return await core.unfold(acc, value, MAX_STEPS - 1)
}
