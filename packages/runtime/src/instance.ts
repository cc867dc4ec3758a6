import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BadRequestError, InvalidStateError, JobFailedError, toMvmError, type Logger } from '@mvm/core'
import type { ExitInfo, Sandbox, SandboxPool } from '@mvm/sandbox'
import type { Compiled, ProgramSource } from './compile.js'
import type { FromHost, RankUsage, ToHost } from './protocol.js'
import type { ReusableInit } from './reuse.js'
import { SELF_SIGNAL_FILE } from './signal-guard.js'
import { DirectWiring, localityOf, uplinkSink } from './direct-wiring.js'
import { Router } from './router.js'
import { PortCounters } from './port-stats.js'
import type { InstanceFiles, InstanceSpec, RunningJob, RankOutcome, RemoteLink } from './types.js'
import { collectOutputs, placeInputs } from './work-files.js'

export interface InstanceDeps {
  dataDir: string
  pool: () => Promise<SandboxPool>
  compile: (p: ProgramSource) => Promise<Compiled>
  log: Logger
  onDone: () => void
  /** Whether this sandbox process already imported the program with this hash (and records that it now has). */
  loaded?: (sb: Sandbox, hash: string) => boolean
  /** Policy `sandbox.reuseForSameOwner`: a rank that returned a result gives its process back for the owner's next rank. */
  reuse: boolean
  /** The job's inputs and outputs, when its profile has any. */
  files?: InstanceFiles
}

/**
 * A rank ended by a signal from outside its job (the OOM killer, `kill -9` of its pid): the
 * slot was lost, not the job's fault, so the broker retries it like a lost node. The broker
 * side matches this code at the start of the reported error (`<code>: <message>`).
 */
export const RANK_LOST_CODE = 'E_RANK_LOST'

const KILL_GRACE_MS = 300
/** After a rank exits, how long its uplink may take to deliver what it still holds. */
const UPLINK_DRAIN_MS = 2000

/** What the rank host recorded before the rank signalled itself (see signal-guard), if it did. */
async function selfSignalled (workDir: string): Promise<string | undefined> {
  try { return (await readFile(join(workDir, SELF_SIGNAL_FILE), 'utf8')).slice(0, 200) } catch { return undefined }
}

async function settledWithin (p: Promise<void> | undefined, ms: number): Promise<void> {
  if (p === undefined) return
  let timer: NodeJS.Timeout | undefined
  await Promise.race([p, new Promise<void>((resolve) => { timer = setTimeout(resolve, ms) })])
  clearTimeout(timer)
}

/** One job's local ranks on this node: spawn, wire, watch, clean up. */
export function createInstance (deps: InstanceDeps, spec: InstanceSpec, link: RemoteLink): RunningJob {
  const log = deps.log.child({ job: spec.jobId })
  // no owner named: nobody to keep a process for. Nor for a job with an environment: a reused
  // process keeps Node's module cache, keyed by paths in its work dir, so the owner's next job
  // with another environment (the same package, another version) would get the modules of this one
  const reuse = deps.reuse && typeof spec.owner === 'string' && spec.owner !== '' && deps.files?.environment === undefined
  const workDir = join(deps.dataDir, 'jobs', spec.jobId)
  const localRanks = spec.placement.flatMap((n, r) => n === spec.self ? [r] : [])
  const wiring = new DirectWiring(spec.graph, localRanks, log)
  const locality = localityOf(spec.placement)
  const counters = new PortCounters(spec.jobId, (r) => (spec.graph.ranks[r]?.ports ?? []).map((p) => p.port))
  const router = new Router(spec.jobId, spec.graph, spec.placement, spec.self, link, log, wiring.isDirect, counters)
  const unsubscribe = link.onFrame((from, f) => router.fromLink(from, f))
  const logs: Record<number, { out: string, err: string }> = {}
  const results: RankOutcome[] = []
  const listeners: Array<(r: RankOutcome) => void> = []
  const checkpointListeners: Array<(rank: number, json: string) => void> = []
  // one chain per rank: saves land (and are reported) in the order the rank made them
  const saving = new Map<number, Promise<void>>()
  let started = false
  let terminated: string | undefined
  let resolveDone!: (r: RankOutcome[]) => void
  const done = new Promise<RankOutcome[]>((resolve) => { resolveDone = resolve })

  const record = (r: RankOutcome): void => {
    results.push(r)
    for (const cb of listeners) { try { cb(r) } catch (err) { log.warn({ err }, 'onRank listener threw') } }
    if (results.length < router.locals.size) return
    const ok = results.every((x) => x.error === undefined)
    const finish = async (): Promise<void> => {
      // frames to other nodes (last items, eof) may still be queued behind the link
      if (terminated === undefined) await router.drain()
      router.close()
      wiring.close()
      if (typeof unsubscribe === 'function') unsubscribe()
      if (ok) await rm(workDir, { recursive: true, force: true })
    }
    void finish().catch(() => {}).finally(() => { deps.onDone(); resolveDone(results.sort((a, b) => a.rank - b.rank)) })
  }
  if (router.locals.size === 0) queueMicrotask(() => { deps.onDone(); resolveDone([]) })

  const onMessage = (rank: number, m: FromHost, reused?: () => void): void => {
    const lr = router.locals.get(rank)!
    if ('ready' in m) lr.readyResolve()
    else if ('result' in m && reused !== undefined && terminated === undefined && !lr.finished) { lr.outcome = m; reused() }
    // once the job is terminated, a rank's own error is the echo of it (a peer it was talking to
    // was killed first): the rank ends as aborted, as the others do
    else if ('error' in m && terminated !== undefined) return
    else if ('result' in m || 'error' in m) lr.outcome = m
    else if ('checkpoint' in m) {
      const json = m.checkpoint.json
      saving.set(rank, (saving.get(rank) ?? Promise.resolve()).then(async () => { await saveCheckpoint(rank, json) }))
    }
    else if ('stats' in m) counters.reported(rank, m.stats)
    else if ('readInput' in m) void answerRead(lr, m.readInput)
    else router.fromHost(rank, m)
  }

  const onDemand = new Set(deps.files?.onDemand.map((f) => f.name) ?? [])
  const answerRead = async (lr: { deliver: (m: ToHost) => void }, q: { req: number, name: string, offset: number, length: number }): Promise<void> => {
    try {
      if (!onDemand.has(q.name) || deps.files?.read === undefined) throw new BadRequestError(`no on-demand input "${String(q.name)}"`)
      lr.deliver({ inputData: { req: q.req, bytes: await deps.files.read(q.name, q.offset, q.length) } })
    } catch (err) {
      lr.deliver({ inputData: { req: q.req, error: toMvmError(err).toJSON() } })
    }
  }

  /** Outputs are stored before the rank counts as done: its work dir goes right after. */
  const withOutputs = async (rank: number, dir: string, done: (outputs: RankOutcome['outputs']) => void, failed: (e: { code: string, message: string }) => void): Promise<void> => {
    let outputs: Awaited<ReturnType<typeof collectOutputs>>
    try { outputs = await collectOutputs(rank, dir, deps.files) } catch (err) {
      const e = toMvmError(err)
      failed({ code: e.code, message: e.message })
      return
    }
    done(outputs.length === 0 ? undefined : outputs)
  }

  const saveCheckpoint = async (rank: number, json: string): Promise<void> => {
    try {
      const file = join(workDir, `rank-${rank}.checkpoint.json`)
      await writeFile(`${file}.tmp`, json)
      await rename(`${file}.tmp`, file)
    } catch (err) { log.warn({ err, rank }, 'checkpoint not saved') }
    for (const cb of checkpointListeners) { try { cb(rank, json) } catch (err) { log.warn({ err }, 'onCheckpoint listener threw') } }
  }

  const onExit = (rank: number, info: ExitInfo, sbDir: string): void => {
    const lr = router.locals.get(rank)!
    if (lr.finished) return
    lr.exited(info)
    wiring.drop(rank)
    router.rankExited(rank)
    const out = lr.outcome
    const used = out !== undefined && ('result' in out || 'error' in out) ? out.usage : undefined
    const base = {
      rank, exitCode: info.code, startedAtMs: lr.startedAtMs, finishedAtMs: Date.now(), reason: info.reason,
      maxRssMB: Math.max(info.maxRssMB, used?.maxRssMB ?? 0), ...(used === undefined ? {} : { cpuSec: used.cpuSec })
    }
    if (out !== undefined && 'result' in out && info.code === 0 && info.reason === 'exit') {
      void withOutputs(rank, sbDir, (outputs) => {
        void rm(sbDir, { recursive: true, force: true }).catch(() => {})
        record({ ...base, result: out.result, ...(outputs === undefined ? {} : { outputs }) })
      }, (error) => { record({ ...base, exitCode: 1, error }) })
      return
    }
    let error: RankOutcome['error']
    if (out !== undefined && 'error' in out) error = { code: out.error.code, message: out.error.message, ...(out.error.stack === undefined ? {} : { stack: out.error.stack }) }
    else if (terminated !== undefined) error = { code: 'E_ABORTED', message: `terminated: ${terminated}` }
    else if (info.reason === 'signal') error = { code: RANK_LOST_CODE, message: `rank ${rank} ${info.message}` }
    else error = { code: info.reason === 'exit' ? 'E_JOB_FAILED' : 'E_SANDBOX', message: `rank ${rank}: ${info.message}` }
    record({ ...base, error })
  }

  const neverStarted = (rank: number, err: unknown): void => {
    const lr = router.locals.get(rank)!
    if (lr.finished) return
    lr.finished = true
    lr.readyReject(toMvmError(err))
    wiring.drop(rank)
    router.rankExited(rank)
    const e = toMvmError(err)
    record({ rank, exitCode: null, error: { code: e.code, message: e.message }, startedAtMs: Date.now(), finishedAtMs: Date.now(), reason: 'error' })
  }

  /**
   * The rank returned its result and its host stays up: the rank is over (its peers get eof),
   * and the process goes back to the pool for this owner; it never hears of this job again.
   */
  const handBack = async (rank: number, sb: Sandbox, pool: SandboxPool, off: () => void): Promise<void> => {
    const lr = router.locals.get(rank)!
    const out = lr.outcome as { result: unknown, usage?: RankUsage }
    off()
    lr.finished = true
    // the result came by IPC; what the rank sent before it on its uplink may still be arriving
    await settledWithin(lr.uplink?.done, UPLINK_DRAIN_MS)
    wiring.drop(rank)
    router.rankExited(rank)
    const base = { rank, startedAtMs: lr.startedAtMs, finishedAtMs: Date.now(), reason: 'exit' as const, ...(out.usage === undefined ? {} : { cpuSec: out.usage.cpuSec, maxRssMB: out.usage.maxRssMB }) }
    // the release wipes the work dir: the outputs leave it first
    await withOutputs(rank, sb.workDir, (outputs) => {
      record({ ...base, exitCode: 0, result: out.result, ...(outputs === undefined ? {} : { outputs }) })
    }, (error) => { record({ ...base, exitCode: 1, error }) })
    void pool.release(sb, spec.owner).catch((err: unknown) => { log.warn({ err, rank }, 'sandbox release failed') })
  }

  const startRank = async (rank: number, code: string, hash: string, pool: SandboxPool, signal?: AbortSignal): Promise<void> => {
    const lr = router.locals.get(rank)!
    const limits = { memoryMB: spec.resources.memoryMB, wallTimeSec: spec.resources.wallTimeSec, ...(spec.resources.cpuTimeSec === undefined ? {} : { cpuTimeSec: spec.resources.cpuTimeSec }) }
    let sb: Sandbox
    try {
      sb = await pool.acquire({ id: `${spec.jobId}.r${rank}`, limits, ...(reuse ? { owner: spec.owner } : {}), ...(signal === undefined ? {} : { signal }) })
    } catch (err) { neverStarted(rank, err); throw err }
    if (lr.finished) { await sb.kill('killed', { graceMs: 0 }); return }
    // past this point the rank holds sockets and a process: a failure (an input that cannot be
    // placed, a write that fails) must end it as never started, or its uplink waits forever
    try {
      logs[rank] = sb.logs
      lr.startedAtMs = Date.now()
      const sbDir = sb.workDir
      const box = sb
      const off = sb.onMessage((m) => onMessage(rank, m as FromHost, reuse ? () => { void handBack(rank, box, pool, off) } : undefined))
      lr.uplink = wiring.uplink(rank, uplinkSink(lr.ports, (m) => { router.fromHost(rank, m) }))
      // what the rank sent on its uplink must reach the router before its peers get eof
      void sb.exited.then(async (info) => {
        const own = info.reason === 'signal' ? await selfSignalled(sbDir) : undefined
        await settledWithin(lr.uplink?.done, UPLINK_DRAIN_MS)
        onExit(rank, own === undefined ? info : { ...info, reason: 'exit', message: `killed itself with ${own}` }, sbDir)
      })
      // named by content: a reused process that imported this program before gets it from its
      // module cache (by URL), so the file need not be there again after the work dir was wiped
      const codePath = join(sb.workDir, `program-${hash.slice(0, 16)}.mjs`)
      if (deps.loaded?.(sb, hash) !== true) await writeFile(codePath, code)
      await placeInputs(sb.workDir, deps.files)
      const node = spec.graph.ranks[rank]!
      const init: ReusableInit = {
        jobId: spec.jobId,
        rank,
        size: spec.graph.size,
        ports: node.ports.map((p) => p.port),
        groups: spec.graph.groups[rank] ?? {},
        params: spec.params ?? {},
        codePath,
        programPath: spec.program.path ?? (spec.program.language === 'js' ? 'program.js' : 'program.ts'),
        queue: spec.queue,
        locality,
        uplink: lr.uplink !== undefined,
        direct: wiring.peersOf(rank),
        ...(deps.files === undefined ? {} : { files: inputList(deps.files) }),
        ...(spec.restored?.[rank] === undefined ? {} : { restored: spec.restored[rank] }),
        ...(spec.checkpoint === undefined ? {} : { checkpoint: spec.checkpoint }),
        ...(reuse ? { reuse: true } : {})
      }
      lr.open(sb, { init })
      wiring.handOver(rank, sb)
    } catch (err) {
      neverStarted(rank, err)
      await sb.kill('killed', { graceMs: 0 }).catch(() => {})
      throw err
    }
  }

  return {
    jobId: spec.jobId,
    workDir,
    logs,
    done,
    onRank: (cb) => { listeners.push(cb) },
    onCheckpoint: (cb) => { checkpointListeners.push(cb) },
    requestCut: () => {
      const lr = router.locals.get(0)
      if (lr === undefined || lr.finished) return false
      lr.deliver({ cut: true })
      return true
    },
    portStats: () => counters.list(),
    // a finished rank's process may already serve another job
    pids: () => Object.fromEntries([...router.locals].flatMap(([r, lr]) => lr.sandbox === undefined || lr.finished ? [] : [[r, lr.sandbox.pid]])),
    async start (options = {}) {
      if (started) throw new InvalidStateError(`job ${spec.jobId}: start() was already called`)
      started = true
      let compiled: Compiled
      try {
        compiled = await deps.compile(spec.program)
      } catch (err) {
        for (const r of router.locals.keys()) neverStarted(r, err)
        throw err
      }
      await mkdir(workDir, { recursive: true })
      try {
        await wiring.open(options.signal)
      } catch (err) {
        for (const r of router.locals.keys()) neverStarted(r, err)
        throw err
      }
      const code = compiled.code ?? await readFile(compiled.codePath, 'utf8')
      const pool = await deps.pool()
      const ranks = [...router.locals.keys()]
      const spawned = await Promise.allSettled(ranks.map(async (r) => await startRank(r, code, compiled.hash, pool, options.signal)))
      const failed = spawned.find((s): s is PromiseRejectedResult => s.status === 'rejected')
      if (failed !== undefined) throw toMvmError(failed.reason)
      try {
        await Promise.all([...router.locals.values()].map(async (lr) => await lr.ready))
      } catch (err) {
        const e = results.find((r) => r.error !== undefined)?.error
        throw new JobFailedError(`job ${spec.jobId}: a rank failed while starting: ${e?.message ?? (err as Error).message}`, { cause: err, data: { jobId: spec.jobId } })
      }
    },
    async terminate (reason = 'terminated') {
      terminated ??= reason
      await Promise.all([...router.locals.values()].map(async (lr) => {
        if (lr.finished) return
        if (lr.sandbox === undefined) { neverStarted(lr.rank, new InvalidStateError(`terminated before start: ${reason}`)); return }
        lr.deliver({ cancel: { reason } })
        await lr.sandbox.kill('killed', { graceMs: KILL_GRACE_MS })
      }))
      await done
    }
  }
}

function inputList (f: InstanceFiles): Array<{ name: string, size: number, mode: 'prefetch' | 'onDemand' }> {
  return [
    ...f.local.map((x) => ({ name: x.name, size: x.size, mode: 'prefetch' as const })),
    ...f.onDemand.map((x) => ({ name: x.name, size: x.size, mode: 'onDemand' as const }))
  ]
}
