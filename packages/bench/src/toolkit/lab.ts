import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TimeoutError, sleep } from '@mvm/core'
import { createBrokerClient, type BrokerClient } from '@mvm/soap'
import { readyLine, spawnTracked, stopProcess } from '../procs.js'

interface Ready { event: 'ready', peerId: string, soapUrl: string, multiaddrs: string[] }

/** A lab on 127.0.0.1: one bootstrap + super-peer node and `peers` peer nodes, real processes. */
export interface Lab {
  soapUrl: string
  broker: BrokerClient
  superPeer: { pid: number, peerId: string }
  peers: Array<{ pid: number, peerId: string }>
  stop: () => Promise<void>
}

export interface LabInit {
  root: string
  peers: number
  slots?: number
  /** Warm rank processes per peer (node policy `sandbox.poolSize`); default 2, 0 = every rank cold. */
  poolSize?: number
  signal?: AbortSignal
}

/**
 * The peers' node policy. Without one a peer keeps no warm sandboxes at all, so the lab states
 * the pool it measures; the memory class is the runtime's default (256 MB), which every
 * bench profile asks for.
 */
const nodePolicy = (poolSize: number): string => `apiVersion: mvm/v1
kind: Policy
metadata: { name: bench-node, description: bench peers - sandbox pool }
spec:
  level: node
  scope: { group: lab }
  sandbox: { driver: process, poolSize: ${poolSize} }
`

/** Starts the nodes with `mvm node` and waits until the broker lists every peer as up. */
export async function startLab (init: LabInit): Promise<Lab> {
  const dir = await mkdtemp(join(tmpdir(), 'mvm-bench-lab-'))
  const cli = join(init.root, 'packages', 'cli', 'bin', 'mvm.js')
  const children: ChildProcess[] = []
  const start = async (name: string, args: string[]): Promise<{ child: ChildProcess, ready: Ready }> => {
    const child = spawnTracked(process.execPath, [cli, 'node', ...args, '--data-dir', join(dir, name), '--log-level', 'warn'], { group: true, cwd: dir })
    children.push(child)
    const ready = await readyLine<Ready>(child, `lab node ${name}`, (v) => v?.event === 'ready', 60_000, init.signal)
    return { child, ready }
  }
  const stop = async (): Promise<void> => {
    await Promise.all(children.map(async (c) => { await stopProcess(c) }))
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const policy = join(dir, 'node-policy.yaml')
    await writeFile(policy, nodePolicy(init.poolSize ?? 2))
    const sp = await start('super-peer', ['--roles', 'bootstrap,super-peer', '--group', 'lab', '--soap-port', '0', '--heartbeat-ms', '250'])
    const soapUrl = sp.ready.soapUrl
    const peers = await Promise.all(Array.from({ length: init.peers }, async (_, i) =>
      await start(`peer-${i}`, ['--roles', 'peer', '--bootstrap', soapUrl, '--group', 'lab', '--slots', String(init.slots ?? 4), '--soap-port', '0', '--policy', policy])))
    const broker = createBrokerClient(soapUrl)
    await waitForPeers(broker, peers.map((p) => p.ready.peerId), init.signal)
    return {
      soapUrl,
      broker,
      superPeer: { pid: sp.child.pid!, peerId: sp.ready.peerId },
      peers: peers.map((p) => ({ pid: p.child.pid!, peerId: p.ready.peerId })),
      stop
    }
  } catch (err) {
    await stop()
    throw err
  }
}

async function waitForPeers (broker: BrokerClient, ids: string[], signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + 30_000
  let seen: string[] = []
  for (let i = 0; i < 300 && Date.now() < deadline; i++) {
    try {
      const { nodes } = await broker.ListNodes({ group: 'lab' }, { timeoutMs: 5000, ...(signal !== undefined ? { signal } : {}) })
      seen = nodes.filter((n) => n.state === 'up').map((n) => n.peerId)
      if (ids.every((id) => seen.includes(id))) return
    } catch (err) {
      if (signal?.aborted === true) throw err
    }
    await sleep(100, signal)
  }
  throw new TimeoutError(`lab: the broker listed ${seen.length} of ${ids.length} peers as up after 30 s`)
}
