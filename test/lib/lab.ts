import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { spawn } from 'node:child_process'
import { MVM_BIN, profileRequest, startNodeProcess, type NodeProcess } from '@mvm/cli'
import { createBrokerClient, type BrokerClient, type Credentials, type GetJobResultResponse, type JobInfo } from '@mvm/soap'

export const ROOT = resolve(import.meta.dirname, '..', '..')

export interface TestLab {
  dir: string
  superPeer: NodeProcess
  peers: NodeProcess[]
  broker: BrokerClient
  bootstrap: string
  addPeer: (extra?: string[]) => Promise<NodeProcess>
  restartSuperPeer: (signal?: NodeJS.Signals) => Promise<void>
  stop: () => Promise<void>
}

export interface LabInit {
  peers?: number
  slots?: number
  heartbeatMs?: number
  superArgs?: string[]
  peerArgs?: string[]
  /** Runs on the lab's folder before any node starts (e.g. writes the super-peer's users file). */
  prepare?: (dir: string) => Promise<void> | void
  /** What `lab.broker` signs its calls with, for a lab that requires authentication. */
  credentials?: Credentials
}

/** A real lab: a bootstrap+super-peer and peers, each an `mvm node` process on 127.0.0.1. */
export async function startLab (o: LabInit = {}): Promise<TestLab> {
  const dir = await mkdtemp(join(tmpdir(), 'mvm-test-lab-'))
  const hb = String(o.heartbeatMs ?? 300)
  const onLog = process.env.MVM_TEST_LOGS !== undefined ? (l: string) => { process.stderr.write(l + '\n') } : undefined
  await o.prepare?.(dir)
  // 8 silent intervals (2.4 s at 300 ms) before a peer is down: a peer starved of CPU for a
  // second on a busy test machine is not a dead one (a killed peer's connection closes at once)
  const missed = (o.superArgs ?? []).includes('--missed-heartbeats') ? [] : ['--missed-heartbeats', '8']
  const superArgs = (port: string): string[] => ['--roles', 'bootstrap,super-peer', '--group', 'lab', '--soap-port', port, '--data-dir', join(dir, 'super'), '--heartbeat-ms', hb, ...missed, ...(o.superArgs ?? [])]
  let superPeer = await startNodeProcess('super', superArgs('0'), { onLog })
  const bootstrap = superPeer.ready.soapUrl
  const early: NodeProcess[] = [superPeer]
  const port = new URL(bootstrap).port
  const peers: NodeProcess[] = []
  let n = 0
  const addPeer = async (extra: string[] = []): Promise<NodeProcess> => {
    const i = ++n
    const p = await startNodeProcess(`peer${i}`, ['--roles', 'peer', '--group', 'lab', '--bootstrap', bootstrap, '--soap-port', '0', '--data-dir', join(dir, `peer${i}`), '--slots', String(o.slots ?? 2), '--heartbeat-ms', hb, ...(o.peerArgs ?? []), ...extra], { onLog })
    peers.push(p)
    early.push(p)
    return p
  }
  const lab: TestLab = {
    dir, superPeer, peers, bootstrap, addPeer,
    broker: createBrokerClient(bootstrap, { credentials: o.credentials }),
    async restartSuperPeer (signal: NodeJS.Signals = 'SIGKILL') {
      superPeer.child.kill(signal)
      await new Promise((r) => superPeer.child.once('exit', r))
      superPeer = await startNodeProcess('super', superArgs(port), { onLog })
      lab.superPeer = superPeer
    },
    async stop () {
      await Promise.all([lab.superPeer, ...peers].map(async (p) => await p.stop(3000)))
      await rm(dir, { recursive: true, force: true })
    }
  }
  try {
    await Promise.all(Array.from({ length: o.peers ?? 2 }, async () => await addPeer()))
    await waitFor(async () => (await lab.broker.ListNodes({})).nodes.filter((x) => x.state === 'up' && x.roles.includes('peer')).length >= (o.peers ?? 2), 30_000, 'peers to join')
  } catch (err) {
    // a lab that never came up must not leave its nodes running
    await Promise.all(early.map(async (p) => await p.stop(3000).catch(() => {})))
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  return lab
}

/** Polls `cond` every 100 ms until it holds, bounded by `ms`. */
export async function waitFor (cond: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  let last: unknown
  while (Date.now() < deadline) {
    try { if (await cond()) return } catch (err) { last = err }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last !== undefined ? `: ${(last as Error).message}` : ''}`)
}

/** Submits a profile file the way `mvm submit` does. */
export async function submit (broker: BrokerClient, file: string, params: Record<string, string> = {}, owner = 'test'): Promise<{ jobId: string, childJobIds: string[] }> {
  const { request } = await profileRequest(file, { params, owner })
  return await broker.SubmitJob(request)
}

const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'held'])

export async function waitJob (broker: BrokerClient, jobId: string, ms = 60_000): Promise<{ info: JobInfo, result: GetJobResultResponse }> {
  let info: JobInfo | undefined
  await waitFor(async () => { info = await broker.GetJob({ jobId }); return FINAL.has(info.state) }, ms, `job ${jobId} to finish`)
  return { info: info!, result: await broker.GetJobResult({ jobId }) }
}

export interface CliRun { code: number | null, stdout: string, stderr: string }

/** Runs the real `mvm` CLI (bin/mvm.js) from the repo root; killed after `ms`. */
export async function runCli (args: string[], ms = 120_000): Promise<CliRun> {
  return await new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [MVM_BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } })
    let stdout = ''
    let stderr = ''
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => c.kill('SIGKILL'), ms)
    c.on('error', (err) => { clearTimeout(timer); reject(err) })
    c.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}
