import { createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BadRequestError, sleep, toMvmError } from '@mvm/core'
import { createNodeClient, type JobInfo } from '@mvm/soap'
import { sendHostileRequest, REQUEST_KINDS, type RequestKind } from './hostile-requests.js'
import { ChaosLab } from './lab.js'
import { Ledger, formatRows, type Item, type Row } from './ledger.js'
import { rankPids } from './ranks.js'
import { createRng, type Rng } from './rng.js'
import { HOSTILE_MODES, loadHostile, loadSamples, meetsExpectation, type HostileMode, type Workload } from './samples.js'

export const FAULT_KINDS: readonly string[] = [...HOSTILE_MODES.map((m) => `hostile-${m}`), ...REQUEST_KINDS, 'kill-broker', 'kill-peer', 'kill-rank']

export interface ChaosOptions {
  durationMs: number
  seed: number
  /** Fault kinds to inject (default: all of FAULT_KINDS). */
  kinds?: readonly string[]
  /** Sample jobs kept in flight at once. */
  concurrency?: number
  /** Mean gap between faults; every chosen kind is injected at least once regardless. */
  faultEveryMs?: number
  /** Bound on the final wait for the jobs still in flight. */
  drainMs?: number
  peers?: number
  slots?: number
  heartbeatMs?: number
  /** Keep the data dir (logs, job stores) even when the run passes. */
  keep?: boolean
  signal: AbortSignal
  /** Progress lines (stderr in the CLI). */
  log: (line: string) => void
}

export interface ChaosReport {
  rows: Row[]
  table: string
  /** Lost and wrong items, each with its cause as far as the broker tells it. */
  findings: string[]
  unplannedExits: string[]
  pass: boolean
  dir: string
  seed: number
}

const FINAL = new Set(['succeeded', 'failed', 'cancelled'])
/** The broker's reason when a job failed because a node it ran on went away. */
const NODE_DEATH = /went down|node .* (left|lost|terminated)/i
/**
 * A hostile request must be refused cheaply: a refusal slower than this means the broker was
 * busy with it long enough to miss peers' heartbeats (500 ms × 3 in this lab).
 */
const SLOW_REJECTION_MS = 5000

/**
 * The fault plan, fixed by the seed before the lab starts: each chosen kind once, then random
 * kinds up to one per `everyMs`, at random times inside the run (not in its first or last seconds).
 */
export function planFaults (rng: Rng, kinds: readonly string[], durationMs: number, everyMs: number): Array<{ at: number, kind: string }> {
  const n = Math.max(kinds.length, Math.floor(durationMs / everyMs))
  const list = [...kinds]
  for (let i = list.length - 1; i > 0; i--) { const j = rng.int(0, i + 1); [list[i], list[j]] = [list[j]!, list[i]!] }
  while (list.length < n) list.push(rng.pick(kinds))
  const lo = Math.min(3000, durationMs / 4)
  const hi = Math.max(lo + 1, durationMs - Math.min(5000, durationMs / 4))
  const times = list.map(() => lo + rng.next() * (hi - lo)).sort((a, b) => a - b)
  return list.map((kind, i) => ({ at: Math.round(times[i]!), kind }))
}

interface RunningRank { peer: string, pid: number, jobId: string, rank: number }

/**
 * Ranks running now: what each peer's ListProcesses reports, kept where /proc agrees that
 * the pid is a rank host under that peer (warm, idle sandboxes also run the rank host, and
 * killing one of those hits no job). If the two never agree (a wrapper process between
 * node and rank), the reported pids are used as they are.
 */
async function runningRanks (lab: ChaosLab): Promise<RunningRank[]> {
  const out: RunningRank[] = []
  for (const peer of lab.peerNames) {
    const root = lab.pidOf(peer)
    const url = lab.nodes.get(peer)?.ready.soapUrl
    if (root === undefined || url === undefined) continue
    let listed: RunningRank[] = []
    try {
      const { processes } = await createNodeClient(url).ListProcesses({ timeoutMs: 5000 })
      listed = processes.filter((p) => p.state === 'running' && p.pid > 0).map((p) => ({ peer, pid: p.pid, jobId: p.jobId, rank: p.rank }))
    } catch { continue }
    const hosts = new Set(await rankPids(root))
    const confirmed = listed.filter((r) => hosts.has(r.pid))
    out.push(...(confirmed.length > 0 ? confirmed : listed))
  }
  return out
}

export async function runChaos (o: ChaosOptions): Promise<ChaosReport> {
  const kinds = o.kinds ?? FAULT_KINDS
  for (const k of kinds) if (!FAULT_KINDS.includes(k)) throw new BadRequestError(`unknown fault kind "${k}"; known: ${FAULT_KINDS.join(', ')}`)
  const plan = planFaults(createRng(o.seed), kinds, o.durationMs, o.faultEveryMs ?? 12_000)
  const pickRng = createRng(o.seed ^ 0x5eed)
  const dir = await mkdtemp(join(tmpdir(), 'mvm-chaos-'))
  const t0 = Date.now()
  const events = createWriteStream(join(dir, 'events.log'))
  const ev = (line: string): void => {
    const l = `[+${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`
    events.write(l + '\n')
    o.log(l)
  }
  const ledger = new Ledger()
  const unplannedExits: string[] = []
  const lab = new ChaosLab(dir, { peers: o.peers ?? 3, slots: o.slots ?? 4, heartbeatMs: o.heartbeatMs ?? 500, signal: o.signal }, {
    log: ev,
    onUnplannedExit: (name, how) => { unplannedExits.push(`${name} ${how} at +${((Date.now() - t0) / 1000).toFixed(1)}s`); ev(`UNPLANNED: ${name} died (${how}); restarting it`) }
  })
  ev(`seed ${o.seed}, ${Math.round(o.durationMs / 1000)} s, data in ${dir}; plan: ${plan.map((p) => `${p.kind}@${(p.at / 1000).toFixed(0)}s`).join(' ')}`)
  const [samples, hostile] = await Promise.all([loadSamples(), loadHostile()])
  const pending = new Map<string, { item: Item, expect?: Workload['expect'], onDone?: () => void }>()
  let report: ChaosReport | undefined
  try {
    await lab.start()
    // the duration and the fault plan count from here: a slow start must not eat the run
    const tUp = Date.now()
    ev(`lab up: broker ${lab.bootstrap}, ${lab.peerNames.length} peers; fault times count from now`)
    const runEnd = tUp + o.durationMs
    // a job is tracked once SubmitJob answered with its id: only then can it be lost
    const submit = async (w: Workload, kind: string, onDone?: () => void): Promise<Item | undefined> => {
      try {
        const res = await lab.broker.SubmitJob(w.request, { timeoutMs: 30_000, signal: o.signal })
        const ids = res.childJobIds.length > 0 ? res.childJobIds : [res.jobId]
        let first: Item | undefined
        for (const id of ids) {
          const item = ledger.add({ id, kind, name: w.name, submittedAt: Date.now() })
          first ??= item
          pending.set(id, { item, ...(w.expect !== undefined ? { expect: w.expect } : {}), ...(onDone !== undefined ? { onDone } : {}) })
        }
        return first
      } catch (err) {
        if (o.signal.aborted) throw err
        ev(`submit ${w.name} not accepted: ${toMvmError(err).message.split('\n')[0]}`)
        return undefined
      }
    }
    const settle = async (id: string, info: JobInfo): Promise<void> => {
      const p = pending.get(id)!
      const isSample = p.item.kind === 'sample'
      // the result is fetched before the job leaves `pending`: a broker down meanwhile means "try again"
      if (info.state === 'succeeded') {
        const res = await lab.broker.GetJobResult({ jobId: id }, { timeoutMs: 10_000 })
        pending.delete(id)
        if (!isSample) ledger.finish(p.item, 'wrong', `hostile job succeeded: ${res.resultJson ?? ''}`)
        else if (meetsExpectation(res.resultJson, p.expect)) ledger.finish(p.item, 'correct')
        else ledger.finish(p.item, 'wrong', `result ${res.resultJson ?? '(none)'}`)
      } else {
        const why = await failureCause(id, info)
        pending.delete(id)
        // a hostile job must fail by its own error: a signalling one failing because its node died
        // took the node down (the others only die with a node another job killed)
        if (isSample) ledger.finish(p.item, 'lost', why)
        else if (NODE_DEATH.test(info.reason ?? '') && p.item.kind.startsWith('hostile-kill-')) ledger.finish(p.item, 'wrong', `took its node down: ${why}`)
        else ledger.finish(p.item, 'expected', why)
      }
      ev(`${id} ${p.item.name} ${info.state} -> ${p.item.outcome ?? ''}${p.item.note !== undefined ? `: ${p.item.note}` : ''}`)
      p.onDone?.()
    }
    const failureCause = async (id: string, info: JobInfo): Promise<string> => {
      let rankErr = ''
      try {
        const r = await lab.broker.GetJobResult({ jobId: id }, { timeoutMs: 10_000 })
        const e = r.ranks.find((x) => x.error !== undefined && x.error !== '')
        if (e !== undefined) rankErr = `; rank ${e.rank} on ${e.peerId.slice(-8)}: ${(e.error ?? '').split('\n')[0]}`
      } catch { /* the reason alone then */ }
      return `${info.state}: ${info.reason ?? '(no reason)'}${rankErr}`.slice(0, 400)
    }
    const pollOnce = async (): Promise<void> => {
      for (const id of [...pending.keys()]) {
        try {
          const info = await lab.broker.GetJob({ jobId: id }, { timeoutMs: 5000, signal: o.signal })
          if (FINAL.has(info.state)) await settle(id, info)
        } catch (err) {
          if (o.signal.aborted) throw err
          const e = toMvmError(err)
          if (e.code === 'E_NOT_FOUND') {
            const p = pending.get(id)!
            pending.delete(id)
            ledger.finish(p.item, 'lost', `vanished: the broker no longer knows job ${id} (${e.message})`)
            ev(`${id} ${p.item.name} VANISHED`)
            p.onDone?.()
          }
          // unavailable (broker being restarted): try again on the next round
        }
      }
    }
    const inject = async (kind: string): Promise<void> => {
      const at = Date.now()
      if (kind.startsWith('hostile-')) {
        const mode = kind.slice('hostile-'.length) as HostileMode
        const fault = ledger.fault({ kind, at, until: Number.POSITIVE_INFINITY })
        const item = await submit(hostile.get(mode)!, kind, () => { fault.until = Date.now() })
        if (item === undefined) { fault.until = Date.now(); fault.note = 'not accepted' } else item.submittedAt = at
        ev(`FAULT ${kind}: job ${item?.id ?? '(not accepted)'}`)
        return
      }
      if ((REQUEST_KINDS as readonly string[]).includes(kind)) {
        ev(`FAULT ${kind}: sending`)
        const out = await sendHostileRequest(kind as RequestKind, lab.broker, o.signal)
        let note = out.note
        const tookMs = Date.now() - at
        if (out.rejected && tookMs > SLOW_REJECTION_MS) { out.rejected = false; note += `; refused only after ${(tookMs / 1000).toFixed(1)} s (over ${SLOW_REJECTION_MS / 1000} s: the broker was blocked)` }
        // the request must not have stopped the broker from answering others
        try { await lab.broker.ListNodes({}, { timeoutMs: 10_000, signal: o.signal }) } catch (err) { if (o.signal.aborted) throw err; note += '; broker did not answer ListNodes within 10 s afterwards' ; out.rejected = false }
        ledger.fault({ kind, at, until: Date.now(), note })
        const item = ledger.add({ id: `${kind}#${ledger.faults.length}`, kind, name: kind, submittedAt: at })
        ledger.finish(item, out.rejected ? 'expected' : 'wrong', note)
        ev(`FAULT ${kind}: ${out.rejected ? 'rejected' : 'NOT REJECTED'}: ${note}`)
        return
      }
      if (kind === 'kill-broker' || kind === 'kill-peer') {
        const name = kind === 'kill-broker' ? 'super-peer' : pickRng.pick(lab.peerNames)
        const pid = lab.pidOf(name)
        ev(`FAULT ${kind}: kill -9 ${name} (pid ${pid ?? '-'})`)
        await lab.kill9(name)
        await sleep(500 + pickRng.int(0, 1500), o.signal)
        try { await lab.restart(name) } catch (err) { if (o.signal.aborted) throw err; ev(`${name} did not restart: ${toMvmError(err).message}`) }
        ledger.fault({ kind, at, until: Date.now(), note: `${name} pid ${pid ?? '-'}` })
        return
      }
      // kill-rank: wait (bounded) for some peer to be running ranks
      for (let tries = 0; tries < 20; tries++) {
        const listed = await runningRanks(lab)
        // the peer's table can keep rows of finished jobs (seen: a pid reused by the next job's rank)
        const candidates = listed.filter((r) => pending.has(r.jobId))
        if (listed.length > candidates.length) ev(`kill-rank: ${listed.length - candidates.length} ListProcesses row(s) name a job that already ended: ${listed.filter((r) => !pending.has(r.jobId)).map((r) => `${r.jobId}/${r.rank} pid ${r.pid} on ${r.peer}`).join(', ')}`)
        if (candidates.length > 0) {
          const c = pickRng.pick(candidates)
          try { process.kill(c.pid, 'SIGKILL') } catch { continue }
          const now = Date.now()
          // charged to every job in flight, not only the listed one: the pid may run another job's rank by now
          ledger.fault({ kind, at: now, until: now, note: `rank ${c.rank} of ${c.jobId} (pid ${c.pid}) on ${c.peer}` })
          ev(`FAULT kill-rank: kill -9 rank ${c.rank} of ${c.jobId || '(job unknown)'}, pid ${c.pid} on ${c.peer} (of ${candidates.length} running)`)
          return
        }
        await sleep(500, o.signal)
      }
      ev('FAULT kill-rank skipped: no rank was running within 10 s')
    }
    const feeder = (async () => {
      const order = [...samples]
      for (let i = order.length - 1; i > 0; i--) { const j = pickRng.int(0, i + 1); [order[i], order[j]] = [order[j]!, order[i]!] }
      let next = 0
      while (Date.now() < runEnd && !o.signal.aborted) {
        const inFlight = [...pending.values()].filter((p) => p.item.kind === 'sample').length
        if (inFlight >= (o.concurrency ?? 3)) { await sleep(250, o.signal); continue }
        if (await submit(order[next % order.length]!, 'sample') !== undefined) next++
        else await sleep(500, o.signal)
      }
    })()
    const poller = (async () => {
      while (Date.now() < runEnd && !o.signal.aborted) { await pollOnce(); await sleep(500, o.signal) }
    })()
    const injector = (async () => {
      for (const step of plan) {
        const wait = tUp + step.at - Date.now()
        if (wait > 0) await sleep(wait, o.signal)
        await inject(step.kind)
      }
    })()
    await Promise.all([feeder, poller, injector])
    ev('faults done; healing the lab and waiting for the jobs in flight')
    try { await lab.heal(60_000) } catch (err) { if (o.signal.aborted) throw err; ev(`heal: ${toMvmError(err).message}`) }
    const drainEnd = Date.now() + (o.drainMs ?? 180_000)
    while (pending.size > 0 && Date.now() < drainEnd) { await pollOnce(); if (pending.size > 0) await sleep(500, o.signal) }
    for (const [id, p] of pending) {
      let state = 'unknown (broker not answering)'
      try { const i = await lab.broker.GetJob({ jobId: id }, { timeoutMs: 5000 }); state = `${i.state}${i.reason !== undefined ? ` (${i.reason})` : ''}, ${i.ranksStarted} ranks started, ${i.ranksFinished} finished` } catch { /* as is */ }
      ledger.finish(p.item, 'lost', `never finished: still ${state} after the final wait`)
      p.onDone?.()
    }
    const rows = ledger.rows(kinds)
    const total = rows[rows.length - 1]!
    const findings = ledger.items.filter((i) => i.outcome === 'lost' || i.outcome === 'wrong').map((i) =>
      `${i.outcome!.toUpperCase()} ${i.id} ${i.name} (submitted +${((i.submittedAt - t0) / 1000).toFixed(1)}s; in flight during: ${ledger.exposure(i).join(', ') || 'no fault'}): ${i.note ?? ''}`)
    const unsafe = ledger.items.filter((i) => i.note?.includes('CHAOS-UNSAFE') === true)
    if (unsafe.length > 0) findings.push(`NOTE hostile-kill-all was not attempted ${unsafe.length}x: ranks run as real root, so kill(-1) would signal every process on the machine`)
    report = { rows, table: formatRows(rows), findings, unplannedExits, pass: total.lost === 0 && total.wrong === 0, dir, seed: o.seed }
    return report
  } finally {
    await lab.stop().catch(() => {})
    await new Promise<void>((resolve) => events.end(resolve))
    if (report?.pass === true && o.keep !== true) await rm(dir, { recursive: true, force: true })
  }
}
