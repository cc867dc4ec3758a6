import { spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { trafficSvg, type ScalePoint } from './plot.js'
import type { SimReport } from './run.js'

/**
 * `npm run sim`: `mvm sim` at several sizes, each in its own process and bounded in time,
 * then a Markdown table and an SVG plot of the control traffic against the number of peers.
 * Env: SIM_SIZES (default 1000,2000,5000,10000), SIM_GROUPS_PER_1K (10), SIM_HEARTBEAT_MS (5000),
 * SIM_MISSED (missed heartbeats before a member is down, default 6), SIM_JOBS (jobs per run, default 0),
 * SIM_RUN_TIMEOUT_S (900 per size), SIM_OUT (docs/sim), SIM_WORKERS (processes per run, default 2:
 * one process cannot join 10,000 nodes on a 2-core machine; see `mvm sim --workers`).
 */
const MVM = fileURLToPath(new URL('../../cli/bin/mvm.js', import.meta.url))
const env = process.env
const sizes = (env.SIM_SIZES ?? '1000,2000,5000,10000').split(',').map(Number).filter((n) => n > 0)
const groupsPer1k = Number(env.SIM_GROUPS_PER_1K ?? 10)
const heartbeat = env.SIM_HEARTBEAT_MS ?? '5000'
// one process hosting thousands of nodes on a shared machine stalls for seconds at a time: a
// deadline of 6 intervals keeps a stall from being taken for thousands of crashes at once
const missed = env.SIM_MISSED ?? '6'
const jobs = env.SIM_JOBS ?? '0'
const timeoutS = Number(env.SIM_RUN_TIMEOUT_S ?? 900)
const outDir = resolve(env.SIM_OUT ?? 'docs/sim')
const workers = env.SIM_WORKERS ?? '2'

async function one (peers: number): Promise<SimReport | undefined> {
  const groups = Math.max(1, Math.round(peers / 1000 * groupsPer1k))
  const args = [MVM, 'sim', '--peers', String(peers), '--groups', String(groups), '--heartbeat-ms', heartbeat, '--missed', missed, '--jobs', jobs, '--timeout', String(timeoutS), '--workers', workers, '--json']
  process.stderr.write(`mvm sim --peers ${peers} --groups ${groups} --heartbeat-ms ${heartbeat} --missed ${missed} --jobs ${jobs} --workers ${workers}\n`)
  const child = spawn(process.execPath, ['--max-old-space-size=16384', '--max-semi-space-size=64', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  const timer = setTimeout(() => { process.stderr.write(`  ${peers} peers: over ${timeoutS} s, stopped\n`); child.kill('SIGKILL') }, timeoutS * 1000)
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  clearTimeout(timer)
  try { return JSON.parse(out) as SimReport } catch { process.stderr.write(`  ${peers} peers: no report (exit ${String(code)})\n`); return undefined }
}

const rows: SimReport[] = []
for (const n of sizes) {
  const r = await one(n)
  if (r === undefined) break
  rows.push(r)
  process.stderr.write(`  converged in ${r.convergenceMs} ms; ${r.steady.totalMsgsPerSec.toFixed(0)} msgs/s in all; RSS ${r.memory.rssMB} MB\n`)
}
const f0 = (x: number): string => Math.round(x).toLocaleString('en-US')
const f2 = (x: number): string => x.toFixed(2)
const table = [
  `${rows.length > 0 ? `Each size in ${workers} process(es); heartbeat ${heartbeat} ms.` : ''}`,
  '',
  '| peers | groups | depth | convergence | total msgs/s | per peer msgs/s (max) | per peer B/s | per super-peer msgs/s (max) | root msgs/s | root B/s | bootstrap calls/s | RSS |',
  '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${f0(r.peers)} | ${r.groups} | ${r.depth} | ${(r.convergenceMs / 1000).toFixed(1)} s | ${f0(r.steady.totalMsgsPerSec)} | ${f2(r.steady.perPeer.msgsPerSec.mean)} (${f2(r.steady.perPeer.msgsPerSec.max)}) | ${f0(r.steady.perPeer.bytesPerSec.mean)} | ${f2(r.steady.perSuperPeer.msgsPerSec.mean)} (${f2(r.steady.perSuperPeer.msgsPerSec.max)}) | ${f2(r.steady.root.msgsPerSec)} | ${f0(r.steady.root.bytesPerSec)} | ${f2(r.steady.bootstrapCallsPerSec)} | ${f0(r.memory.rssMB)} MB |`)
].join('\n')
const points: ScalePoint[] = rows.map((r) => ({ peers: r.peers, totalMsgsPerSec: r.steady.totalMsgsPerSec, perPeerMsgsPerSec: r.steady.perPeer.msgsPerSec.mean, perSuperPeerMsgsPerSec: r.steady.perSuperPeer.msgsPerSec.mean }))
await mkdir(outDir, { recursive: true })
await writeFile(resolve(outDir, 'scale.json'), JSON.stringify(rows, null, 2) + '\n')
await writeFile(resolve(outDir, 'traffic.svg'), trafficSvg(points, `mvm sim: control traffic at rest (heartbeat ${heartbeat} ms)`))
await writeFile(resolve(outDir, 'scale.md'), table + '\n')
process.stdout.write(table + '\n')
process.stderr.write(`wrote ${dirname(resolve(outDir, 'x'))}/scale.json, traffic.svg, scale.md\n`)
