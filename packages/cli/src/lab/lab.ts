import { join } from 'node:path'
import { sleep, TimeoutError, toMvmError } from '@mvm/core'
import { profileRequest } from '../profile-request.js'
import { uploadInputs } from '../data-transfer.js'
import { formatTable } from '../output.js'
import type { BrokerClient, Credentials } from '@mvm/soap/client'
import { secureLab } from './secure.js'
import { startNodeProcess, type NodeProcess } from './processes.js'
import { waitForJob, formatResult } from '../wait.js'
import { verify, type Verdict } from './verify.js'
import { DEFAULT_BOOTSTRAP } from '../remote.js'

export interface LabOptions {
  peers: number
  slots: number
  port: number
  dataDir: string
  /** The data dir is removed on exit: say so, so nobody expects yesterday's jobs tomorrow. */
  temporary?: boolean
  /** Profiles to run; none = keep the lab up until the signal aborts. */
  profiles: string[]
  verbose: boolean
  signal: AbortSignal
  brokerClient: (url: string, options?: { credentials?: Credentials }) => BrokerClient
  /** Authentication required: a policy and a users file with one user, `lab`, whose credentials the lab uses. */
  secure?: boolean
}

const HEARTBEAT_MS = 500

/** Starts the lab, runs the profiles (if any), prints a summary; true when every job met its expectation. */
export async function runLab (o: LabOptions): Promise<boolean> {
  const nodes: NodeProcess[] = []
  const log = o.verbose ? (l: string) => { process.stderr.write(l + '\n') } : undefined
  const started = Date.now()
  try {
    const superDir = join(o.dataDir, 'super-peer')
    const secure = o.secure === true ? secureLab(o.dataDir, superDir) : undefined
    const superPeer = await startNodeProcess('super-peer', [
      '--name', 'super-peer', '--roles', 'bootstrap,super-peer', '--group', 'lab', '--soap-port', String(o.port),
      '--data-dir', superDir, '--heartbeat-ms', String(HEARTBEAT_MS), ...(secure !== undefined ? ['--policy', secure.policyFile] : [])
    ], { onLog: log, signal: o.signal })
    nodes.push(superPeer)
    const bootstrap = superPeer.ready.soapUrl
    const peers = await Promise.all(Array.from({ length: o.peers }, async (_, i) => await startNodeProcess(`peer-${i + 1}`, [
      '--name', `peer-${i + 1}`, '--roles', 'peer', '--group', 'lab', '--bootstrap', bootstrap, '--soap-port', '0',
      '--data-dir', join(o.dataDir, `peer-${i + 1}`), '--slots', String(o.slots), '--heartbeat-ms', String(HEARTBEAT_MS)
    ], { onLog: log, signal: o.signal })))
    nodes.push(...peers)
    const broker = o.brokerClient(bootstrap, secure !== undefined ? { credentials: secure.credentials } : {})
    await waitForPeers(broker, o.peers, o.signal)
    if (secure !== undefined) {
      process.stderr.write(`authentication required: every call signs in as user "lab" (role admin); other commands: export MVM_CREDENTIALS=${secure.credentialsFile}\n` +
        `  add users with: mvm user add <name> --data-dir ${superDir}, and give them roles in ${secure.policyFile}\n`)
    }
    process.stderr.write(`lab up in ${((Date.now() - started) / 1000).toFixed(1)} s: bootstrap and broker ${bootstrap}, ${o.peers} peers × ${o.slots} slots, data in ${o.dataDir}${o.temporary === true ? ' (temporary: removed on exit; --data DIR keeps jobs across restarts)' : ''}\n`)
    // before any job is submitted, so the page can be open while the samples run
    process.stderr.write(`web view: ${webViewUrl(bootstrap)}   (nodes, jobs, a job's topology, traffic and live logs)\n`)
    if (o.profiles.length === 0) {
      process.stderr.write(`${submitHint(bootstrap)}   (Ctrl-C stops the lab)\n`)
      await new Promise<void>((resolve) => { if (o.signal.aborted) resolve(); else o.signal.addEventListener('abort', () => resolve(), { once: true }) })
      return true
    }
    return await runProfiles(broker, o)
  } finally {
    await Promise.all(nodes.map(async (n) => await n.stop()))
  }
}

/** The super-peer serves the web view at /ui on its SOAP port (see @mvm/web). */
export function webViewUrl (soapUrl: string): string {
  return new URL('/ui', soapUrl).href
}

/**
 * The hint must work when pasted as is: other commands look for the lab at DEFAULT_BOOTSTRAP,
 * so any other port (or --port 0) needs an explicit --bootstrap.
 */
export function submitHint (bootstrap: string): string {
  const where = bootstrap.replace(/\/+$/, '') === DEFAULT_BOOTSTRAP ? '' : ` --bootstrap ${bootstrap}`
  return `submit with: mvm submit <profile.yaml>${where} --wait`
}

async function waitForPeers (broker: BrokerClient, n: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const { nodes } = await broker.ListNodes({}, { timeoutMs: 5000, signal })
    if (nodes.filter((x) => x.state === 'up' && x.roles.includes('peer')).length >= n) return
    if (Date.now() > deadline) throw new TimeoutError(`only ${nodes.length} of ${n} peers joined the lab within 30 s`)
    await sleep(100, signal)
  }
}

interface Row { name: string, jobId: string, state: string, seconds: number, result: string, verdict: Verdict }

async function runProfiles (broker: BrokerClient, o: LabOptions): Promise<boolean> {
  const submitted: Array<{ file: string, name: string, ids: string[], expect: unknown, t0: number }> = []
  for (const file of o.profiles) {
    try {
      const { request, profile } = await profileRequest(file, { owner: 'lab' })
      const inputs = await uploadInputs(profile, broker.url, { quiet: true, authorization: broker.httpAuthorization, ...(o.signal !== undefined ? { signal: o.signal } : {}) })
      if (inputs.length > 0) request.inputs = inputs
      const res = await broker.SubmitJob(request, { timeoutMs: 60_000, signal: o.signal })
      const ids = res.childJobIds.length > 0 ? res.childJobIds : [res.jobId]
      submitted.push({ file, name: profile.metadata.name, ids, expect: (profile.spec as { expect?: unknown }).expect, t0: Date.now() })
      process.stderr.write(`submitted ${profile.metadata.name}: ${ids.join(' ')}\n`)
    } catch (err) {
      process.stderr.write(`${file}: ${toMvmError(err).message}\n`)
      submitted.push({ file, name: file, ids: [], expect: undefined, t0: Date.now() })
    }
  }
  const rows: Row[] = []
  for (const s of submitted) {
    if (s.ids.length === 0) { rows.push({ name: s.name, jobId: '-', state: 'rejected', seconds: 0, result: '', verdict: { ok: false, note: 'not submitted' } }); continue }
    for (const id of s.ids) {
      const out = await waitForJob(broker, id, { timeoutMs: 600_000, progress: false, signal: o.signal })
      const resultJson = out.result?.resultJson
      const verdict = out.info.state === 'succeeded' ? verify(resultJson, s.expect) : { ok: false, note: out.info.reason ?? out.info.state }
      rows.push({ name: s.name, jobId: id, state: out.info.state, seconds: (Date.parse(out.info.finishedAt ?? new Date().toISOString()) - Date.parse(out.info.submittedAt)) / 1000, result: formatResult(resultJson).replace(/\s+/g, ' ').slice(0, 60), verdict })
    }
  }
  printSummary(rows)
  return rows.every((r) => r.verdict.ok)
}

function printSummary (rows: Row[]): void {
  process.stdout.write(formatTable(['JOB', 'PROFILE', 'STATE', 'SECONDS', 'RESULT', 'CHECK'], rows.map((r) => [
    r.jobId, r.name, r.state, r.seconds.toFixed(2), r.result, (r.verdict.ok ? 'ok' : 'FAIL') + (r.verdict.note !== undefined ? ` (${r.verdict.note})` : '')
  ])))
  const ok = rows.filter((r) => r.verdict.ok).length
  process.stdout.write(`${ok} of ${rows.length} jobs verified\n`)
}
