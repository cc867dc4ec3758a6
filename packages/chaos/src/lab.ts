import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { sleep, TimeoutError } from '@mvm/core'
import { createBrokerClient, type BrokerClient } from '@mvm/soap'
import { killGroup, startChaosNode, type ChaosNode } from './node-process.js'

export interface LabEvents {
  /** A node died without the driver killing it (a hostile rank got through, or a crash). */
  onUnplannedExit: (name: string, how: string) => void
  log: (line: string) => void
}

/**
 * The chaos lab: a bootstrap+super-peer and N peers, each an `mvm node` process on
 * 127.0.0.1 as `mvm lab` starts them, with fixed data dirs so a killed node restarts as the
 * same node (same key, same job store). A node that dies unplanned is restarted too, the
 * way a supervisor would, so the run goes on and counts what that death cost.
 */
export class ChaosLab {
  readonly nodes = new Map<string, ChaosNode>()
  readonly peerNames: string[]
  broker!: BrokerClient
  bootstrap = ''
  private port = '0'
  private readonly planned = new Set<string>()
  private readonly restarting = new Map<string, Promise<void>>()
  private stopping = false

  constructor (readonly dir: string, private readonly o: { peers: number, slots: number, heartbeatMs: number, signal: AbortSignal }, private readonly ev: LabEvents) {
    this.peerNames = Array.from({ length: o.peers }, (_, i) => `peer-${i + 1}`)
  }

  async start (): Promise<void> {
    await mkdir(join(this.dir, 'logs'), { recursive: true })
    await this.startNode('super-peer')
    this.bootstrap = this.nodes.get('super-peer')!.ready.soapUrl
    this.port = new URL(this.bootstrap).port
    this.broker = createBrokerClient(this.bootstrap)
    await Promise.all(this.peerNames.map(async (n) => await this.startNode(n)))
    await this.waitForPeers(60_000)
  }

  private args (name: string): string[] {
    const hb = String(this.o.heartbeatMs)
    if (name === 'super-peer') {
      return ['--roles', 'bootstrap,super-peer', '--group', 'lab', '--soap-port', this.port, '--data-dir', join(this.dir, name), '--heartbeat-ms', hb]
    }
    return ['--roles', 'peer', '--group', 'lab', '--bootstrap', this.bootstrap, '--soap-port', '0', '--data-dir', join(this.dir, name), '--slots', String(this.o.slots), '--heartbeat-ms', hb]
  }

  private async startNode (name: string): Promise<void> {
    // a restarted super-peer may find its port still in TIME_WAIT or held a moment: retry, bounded
    let last: unknown
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const n = await startChaosNode(name, this.args(name), { logFile: join(this.dir, 'logs', `${name}.log`), signal: this.o.signal })
        this.nodes.set(name, n)
        void n.exited.then((how) => { this.exitedNode(name, n, how) })
        return
      } catch (err) {
        last = err
        if (this.o.signal.aborted) throw err
        await sleep(500 * (attempt + 1), this.o.signal)
      }
    }
    throw last
  }

  private exitedNode (name: string, n: ChaosNode, how: string): void {
    if (this.stopping || this.nodes.get(name) !== n) return
    if (this.planned.delete(name)) return
    this.ev.onUnplannedExit(name, how)
    // leftovers of its group (ranks) would hold slots and files: clear them, then restart
    killGroup(n)
    void this.restart(name, 1000).catch((err: unknown) => { this.ev.log(`restart of ${name} failed: ${(err as Error).message}`) })
  }

  /** SIGKILL the node's own process (not its group: its ranks see their host vanish, as on a crash). */
  async kill9 (name: string): Promise<void> {
    const n = this.nodes.get(name)
    if (n === undefined || !n.alive()) return
    this.planned.add(name)
    n.child.kill('SIGKILL')
    await n.exited
  }

  /** Starts the node again with the same data dir (and, for the super-peer, the same port). */
  async restart (name: string, delayMs = 0): Promise<void> {
    const pending = this.restarting.get(name)
    if (pending !== undefined) return await pending
    const p = (async () => {
      if (delayMs > 0) await sleep(delayMs, this.o.signal)
      const old = this.nodes.get(name)
      if (old !== undefined && old.alive()) return
      if (old !== undefined) killGroup(old)
      await this.startNode(name)
      this.ev.log(`${name} restarted`)
    })()
    this.restarting.set(name, p)
    try { await p } finally { this.restarting.delete(name) }
  }

  /** Every node running again and every peer seen up by the broker (after faults, before the final wait). */
  async heal (timeoutMs: number): Promise<void> {
    await Promise.all([...this.restarting.values()].map(async (p) => await p.catch(() => {})))
    for (const name of ['super-peer', ...this.peerNames]) {
      if (this.nodes.get(name)?.alive() !== true) await this.restart(name)
    }
    await this.waitForPeers(timeoutMs)
  }

  async waitForPeers (timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    let seen = 0
    while (Date.now() < deadline) {
      try {
        const { nodes } = await this.broker.ListNodes({}, { timeoutMs: 5000, signal: this.o.signal })
        seen = nodes.filter((x) => x.state === 'up' && x.roles.includes('peer')).length
        if (seen >= this.o.peers) return
      } catch (err) { if (this.o.signal.aborted) throw err }
      await sleep(200, this.o.signal)
    }
    throw new TimeoutError(`only ${seen} of ${this.o.peers} peers were up within ${Math.round(timeoutMs / 1000)} s`)
  }

  pidOf (name: string): number | undefined {
    const n = this.nodes.get(name)
    return n?.alive() === true ? n.child.pid : undefined
  }

  /** Stops every node: SIGKILL of each node's process group (ranks included), then waits. */
  async stop (): Promise<void> {
    this.stopping = true
    await Promise.all([...this.restarting.values()].map(async (p) => await p.catch(() => {})))
    const all = [...this.nodes.values()]
    for (const n of all) if (n.alive()) n.child.kill('SIGTERM')
    await Promise.all(all.map(async (n) => await Promise.race([n.exited, sleep(5000)])))
    for (const n of all) killGroup(n)
    await Promise.all(all.map(async (n) => await n.exited))
  }
}
