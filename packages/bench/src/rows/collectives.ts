import { migrationPause } from '../toolkit/migrate.js'
import { rawTransport } from '../baselines/net.js'
import { jobFigure } from '../toolkit/contenders.js'
import type { BenchContext, Contender, RowGroup, RowSpec } from '../types.js'

const MiB = 1024 * 1024
const F64_MiB = MiB / 8

/** A contender whose every sample is multiplied by `k`: a floor of k hops built from one. */
function times (c: Contender, k: number): Contender {
  return { ...c, sample: async (s) => k * await c.sample(s) }
}

/** A MB/s contender as µs per MiB, times `k`. */
function usPerMiB (c: Contender, k: number): Contender {
  return { ...c, sample: async (s) => k * (MiB / 1e6) / (await c.sample(s)) * 1e6 }
}

/** `2·ceil(log2 p)`: the bound on an allReduce's cross-node hops. */
const hops = (p: number): number => 2 * Math.ceil(Math.log2(p))

function numberRow (p: number): RowSpec {
  const k = hops(p)
  return {
    id: p === 4 ? 'collectives.number' : `collectives.number-${p}`,
    figure: `SDK allReduce(sum) of one number, ${p} ranks on 2 nodes`,
    baseline: `${k} × raw libp2p stream one-way 16 B (2·ceil(log2 ${p}) = ${k} cross-node hops)`,
    unit: 'µs',
    better: 'lower',
    note: 'target: ratio <= 1',
    make: (c: BenchContext) => ({
      a: jobFigure(c, 'allreduce', { processes: p, elems: 1, times: c.profile.quick ? 50 : 500 }),
      b: times(rawTransport('libp2p', 'latency', c.profile.latencyMessages), k)
    })
  }
}

function mibRow (p: number): RowSpec {
  return {
    id: p === 4 ? 'collectives.1mib' : `collectives.1mib-${p}`,
    figure: `SDK allReduce(sum) of 1 MiB (Float64Array of 131,072), ${p} ranks on 2 nodes`,
    baseline: '3 × the time of 1 MiB over a raw libp2p stream (64 KiB chunks)',
    unit: 'µs',
    better: 'lower',
    note: 'target: ratio <= 1',
    make: (c: BenchContext) => ({
      a: jobFigure(c, 'allreduce', { processes: p, elems: F64_MiB, times: c.profile.quick ? 3 : 10 }),
      b: usPerMiB(rawTransport('libp2p', 'bandwidth', 16), 3)
    })
  }
}

const ckTimes = (c: BenchContext): number => c.profile.quick ? 20 : 100

/**
 * Checkpoints: a coordinated point (a marker sent and read on every port; about every 4th point
 * a cut ships the state and the channel state) against the same messages sent as plain values,
 * and a cut of a large state against each rank saving it alone (no coordination).
 */
export const checkpoints: RowGroup = {
  name: 'checkpoint',
  title: 'Checkpoints: coordinated cuts (state + messages in flight) on 4 ranks over 2 nodes',
  rows: [
    {
      id: 'checkpoint.point',
      figure: 'coordinated ctx.checkpoint, 1 KiB state (a cut every 4th point)',
      baseline: 'one plain value sent and received on every port (the messages of a point)',
      unit: 'µs',
      better: 'lower',
      make: (c: BenchContext) => ({
        a: jobFigure(c, 'checkpoint', { kib: 1, mode: 'coordinated', times: ckTimes(c) }),
        b: jobFigure(c, 'checkpoint', { kib: 1, mode: 'coordinated', times: ckTimes(c), exchange: 1 })
      })
    },
    {
      id: 'checkpoint.cut-256k',
      figure: 'coordinated ctx.checkpoint, 256 KiB state (a cut every 4th point)',
      baseline: 'ctx.checkpoint of the same state per rank (mode rank, no coordination)',
      unit: 'µs',
      better: 'lower',
      make: (c: BenchContext) => ({
        a: jobFigure(c, 'checkpoint', { kib: 256, mode: 'coordinated', times: ckTimes(c) }),
        b: jobFigure(c, 'checkpoint', { kib: 256, mode: 'rank', times: ckTimes(c) })
      })
    }
  ]
}

/**
 * Migration pause: the gap a running ring sees at the point where a rank was moved to another
 * node (a fresh cut, the ranks stopped and started again from it, the work since the cut redone),
 * against a plain checkpoint point of the same ring left alone.
 */
export const migration: RowGroup = {
  name: 'migrate',
  title: 'Migration: the pause a running 2-rank ring sees when rank 1 moves to the other node',
  rows: [{
    id: 'migrate.pause',
    figure: 'pause of a 2-rank ring (2 nodes) when MigrateRank moves rank 1',
    baseline: 'one coordinated checkpoint point of the same ring (median gap)',
    unit: 'ms',
    better: 'lower',
    rounds: (p) => Math.min(p.rounds, 5),
    make: (c: BenchContext) => ({ a: migrationPause(c, 'move'), b: migrationPause(c, 'point') })
  }]
}

const shTimes = (c: BenchContext): number => c.profile.quick ? 50 : 300
const QUEUE_RTT = 'one small queue message to the other rank and its echo back'

/** ctx.shared at a remote home (one request and its answer) against the same round trip through ports. */
export const shared: RowGroup = {
  name: 'shared',
  title: 'ctx.shared: a key whose home is the rank on the other node, against a queue round trip',
  rows: [
    ...(['get', 'put'] as const).map((op): RowSpec => ({
      id: `shared.${op}-remote`,
      figure: `ctx.shared.${op} at a remote home, 2 ranks on 2 nodes`,
      baseline: QUEUE_RTT,
      unit: 'µs',
      better: 'lower',
      make: (c: BenchContext) => ({
        a: jobFigure(c, 'shared', { mode: 'shared', op, times: shTimes(c) }),
        b: jobFigure(c, 'shared', { mode: 'queue', op, times: shTimes(c) })
      })
    })),
    {
      id: 'shared.replica-get',
      figure: 'ctx.shared.get(key, { replica: true }) of a key homed on the other node (after the first)',
      baseline: 'ctx.shared.get of the same key at its remote home (one round trip)',
      unit: 'µs',
      better: 'lower',
      make: (c: BenchContext) => ({
        a: jobFigure(c, 'shared', { mode: 'shared', op: 'replica', times: shTimes(c) }),
        b: jobFigure(c, 'shared', { mode: 'shared', op: 'get', times: shTimes(c) })
      })
    }
  ]
}

/** The lab has 2 peers of 4 slots: 8 ranks is the most it runs at once. */
export const collectives: RowGroup = {
  name: 'collectives',
  title: 'Collectives: allReduce on 2 nodes against raw libp2p hops',
  rows: [numberRow(4), numberRow(8), mibRow(4)]
}
