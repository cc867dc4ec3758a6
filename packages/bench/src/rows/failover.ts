import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TimeoutError, sleep } from '@mvm/core'
import { createBootstrapClient, createBrokerClient } from '@mvm/soap'
import { readyLine, spawnTracked, stopProcess } from '../procs.js'
import type { BenchContext, Contender, RowGroup } from '../types.js'

interface Ready { event: 'ready', peerId: string, soapUrl: string }

const HEARTBEAT_MS = 250
const MISSED = 4
const MONITORING = ['--heartbeat-ms', String(HEARTBEAT_MS), '--missed-heartbeats', String(MISSED)]

/** `mvm node` processes of one contender, in one folder, all stopped by `stop`. */
function nodes (ctx: BenchContext): { dir: () => string, start: (name: string, args: string[], signal?: AbortSignal) => Promise<{ child: ChildProcess, ready: Ready }>, setup: () => Promise<void>, stop: () => Promise<void> } {
  const cli = join(ctx.root, 'packages', 'cli', 'bin', 'mvm.js')
  const children: ChildProcess[] = []
  let folder = ''
  return {
    dir: () => folder,
    setup: async () => { folder = await mkdtemp(join(tmpdir(), 'mvm-bench-failover-')) },
    start: async (name, args, signal) => {
      const child = spawnTracked(process.execPath, [cli, 'node', ...args, '--data-dir', join(folder, name), '--log-level', 'warn'], { group: true, cwd: folder })
      children.push(child)
      return { child, ready: await readyLine<Ready>(child, `failover node ${name}`, (v) => v?.event === 'ready', 60_000, signal) }
    },
    stop: async () => {
      await Promise.all(children.map(async (c) => { await stopProcess(c) }))
      if (folder !== '') await rm(folder, { recursive: true, force: true })
    }
  }
}

/**
 * Polls until the broker the bootstrap names for group `lab` is `peerId` (when given) and
 * lists `peer` as up: what a client and the group's members need to carry on.
 */
async function brokerServes (bootstrap: string, peer: string, signal: AbortSignal, peerId?: string): Promise<void> {
  const boot = createBootstrapClient(bootstrap)
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    try {
      const b = (await boot.GetBrokers({ group: 'lab' }, { timeoutMs: 2000, signal })).brokers[0]
      if (b !== undefined && (peerId === undefined || b.peerId === peerId)) {
        const { nodes } = await createBrokerClient(b.soapUrl).ListNodes({}, { timeoutMs: 2000, signal })
        if (nodes.some((n) => n.peerId === peer && n.state === 'up')) return
      }
    } catch (err) { if (signal.aborted) throw err }
    await sleep(25, signal)
  }
  throw new TimeoutError('failover: no broker served the group within 60 s')
}

/**
 * Kill -9 of the active super-peer until the group is served again by a standby that took
 * over: the standby waits out the monitoring bound (missedHeartbeats × heartbeat) first. After
 * each sample a fresh standby is started for the next one (not timed).
 */
function standbyTakeover (ctx: BenchContext): Contender {
  const n = nodes(ctx)
  let bootstrap = ''
  let peer = ''
  let active: ChildProcess | undefined
  let standby: { child: ChildProcess, ready: Ready } | undefined
  let round = 0
  const newStandby = async (signal?: AbortSignal): Promise<void> => {
    standby = await n.start(`standby-${round++}`, ['--roles', 'super-peer', '--standby', '--group', 'lab', '--bootstrap', bootstrap, '--soap-port', '0', ...MONITORING], signal)
    // followed: the active broker lists it, and it holds a copy of the store
    const id = standby.ready.peerId
    const deadline = Date.now() + 30_000
    const boot = createBootstrapClient(bootstrap)
    while (Date.now() < deadline) {
      try {
        const b = (await boot.GetBrokers({ group: 'lab' }, { timeoutMs: 2000 })).brokers[0]
        const { nodes } = await createBrokerClient(b!.soapUrl).ListNodes({}, { timeoutMs: 2000 })
        if (nodes.some((x) => x.peerId === id && x.state === 'up')) break
      } catch {}
      await sleep(50)
    }
    // one replication poll and a beat: the standby has its first copy
    await sleep(2 * HEARTBEAT_MS)
  }
  return {
    setup: async (signal) => {
      await n.setup()
      const boot = await n.start('boot', ['--roles', 'bootstrap', '--soap-port', '0'], signal)
      bootstrap = boot.ready.soapUrl
      active = (await n.start('active', ['--roles', 'super-peer', '--group', 'lab', '--bootstrap', bootstrap, '--soap-port', '0', ...MONITORING], signal)).child
      peer = (await n.start('peer', ['--roles', 'peer', '--group', 'lab', '--bootstrap', bootstrap, '--soap-port', '0', '--slots', '1', '--heartbeat-ms', String(HEARTBEAT_MS)], signal)).ready.peerId
      await brokerServes(bootstrap, peer, signal)
      await newStandby(signal)
    },
    sample: async (signal) => {
      const next = standby!
      const t0 = performance.now()
      active!.kill('SIGKILL')
      await brokerServes(bootstrap, peer, signal, next.ready.peerId)
      const ms = performance.now() - t0
      active = next.child
      await newStandby(signal)
      return ms
    },
    teardown: async () => { await n.stop() }
  }
}

/**
 * The same kill -9, with the super-peer started again at once on its own data dir and SOAP
 * port (a supervisor with no restart delay, on the same machine): no failure bound to wait out.
 */
function restartInPlace (ctx: BenchContext): Contender {
  const n = nodes(ctx)
  let bootstrap = ''
  let peer = ''
  let active: ChildProcess | undefined
  let port = ''
  const activeArgs = (): string[] => ['--roles', 'super-peer', '--group', 'lab', '--bootstrap', bootstrap, '--soap-port', port, ...MONITORING]
  return {
    setup: async (signal) => {
      await n.setup()
      const boot = await n.start('boot', ['--roles', 'bootstrap', '--soap-port', '0'], signal)
      bootstrap = boot.ready.soapUrl
      port = '0'
      const a = await n.start('active', activeArgs(), signal)
      active = a.child
      port = new URL(a.ready.soapUrl).port
      peer = (await n.start('peer', ['--roles', 'peer', '--group', 'lab', '--bootstrap', bootstrap, '--soap-port', '0', '--slots', '1', '--heartbeat-ms', String(HEARTBEAT_MS)], signal)).ready.peerId
      await brokerServes(bootstrap, peer, signal)
    },
    sample: async (signal) => {
      const t0 = performance.now()
      const dead = new Promise((resolve) => active!.once('exit', resolve))
      active!.kill('SIGKILL')
      await dead
      active = (await n.start('active', activeArgs(), signal)).child
      await brokerServes(bootstrap, peer, signal)
      return performance.now() - t0
    },
    teardown: async () => { await n.stop() }
  }
}

export const failover: RowGroup = {
  name: 'failover',
  title: 'Failover: kill -9 of the active super-peer until the group is served again',
  rows: [{
    id: 'failover.standby',
    figure: `standby super-peer takes over (waits ${MISSED} missed heartbeats of ${HEARTBEAT_MS} ms)`,
    baseline: 'the super-peer restarted at once in place (same data dir and port, no restart delay)',
    unit: 'ms',
    better: 'lower',
    rounds: (p) => Math.min(p.rounds, 3),
    warmup: () => 0,
    note: `served again = the bootstrap names the broker and it lists the group's peer up; the standby's floor is the failure bound, ${MISSED * HEARTBEAT_MS} ms`,
    make: (c) => ({ a: standbyTakeover(c), b: restartInPlace(c) })
  }]
}
