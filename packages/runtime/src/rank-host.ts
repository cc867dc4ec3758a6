/**
 * The entry module of every rank's sandboxed process. It waits for `{ init }` on IPC, loads
 * the compiled program, runs it with a context bound to IPC, reports `{ result }` or
 * `{ error }` and exits 0 or 1. It holds no job logic of its own.
 *
 * With `init.reuse` a result does not end the process: it goes idle and waits for the next
 * init (the runtime hands it to another rank of the same owner). An error always exits.
 */
import { pathToFileURL } from 'node:url'
import { BadRequestError } from '@mvm/core'
import { createContext, toJobFunction } from '@mvm/job'
import { HostChannels } from './host-channels.js'
import type { FromHost, RankUsage, ToHost } from './protocol.js'
import type { ReusableInit } from './reuse.js'
import { describeThrown, rememberProgramMap, type ProgramFiles } from './program-error.js'
import { guardSignals } from './signal-guard.js'

guardSignals()

const post = (m: FromHost): void => { process.send?.(m) }
let cancel = new AbortController()
let channels: HostChannels | undefined
const early: Array<[ToHost, unknown]> = []
/** Bumped per job: what an earlier job's leftovers (timers, stray promises) post is dropped. */
let generation = 0
/** Between a reused job's result and the next init: what arrives belongs to the finished job. */
let idle = false
/** The running job's program, for naming the program's file:line when it throws. */
let files: ProgramFiles | undefined
/** CPU time at the running job's start: its usage is the difference. */
let cpuAtStart = process.cpuUsage()

function usage (): RankUsage {
  const d = process.cpuUsage(cpuAtStart)
  return { cpuSec: (d.user + d.system) / 1e6, maxRssMB: process.resourceUsage().maxRSS / 1024 }
}

function finish (m: FromHost, code: number): void {
  // exit only once the message is handed over, so the runtime always gets the outcome
  if (process.send === undefined) process.exit(code)
  process.send(m, () => { process.exit(code) })
}

/** A failing rank still delivers what it sent before (bounded: a broken socket must not hold it). */
const FLUSH_ON_FAIL_MS = 2000

function fail (err: unknown): void {
  // described now: the program's files are those of the job that threw, not of a later one
  const error = describeThrown(err, files)
  let timer: NodeJS.Timeout | undefined
  const flushed = Promise.race([channels?.flush(), new Promise<void>((resolve) => { timer = setTimeout(resolve, FLUSH_ON_FAIL_MS) })])
  void flushed.catch(() => {}).finally(() => { clearTimeout(timer); finish({ error, usage: usage() }, 1) })
}

async function run (init: ReusableInit): Promise<void> {
  const gen = ++generation
  cpuAtStart = process.cpuUsage()
  if (idle) process.title = 'mvm rank-host (reused)'
  idle = false
  cancel = new AbortController()
  files = { codePath: init.codePath, programPath: init.programPath ?? 'program', workDir: process.cwd() }
  channels = new HostChannels(init, (m) => { if (gen === generation && !idle) post(m) })
  for (const [m, h] of early.splice(0)) channels.handle(m, h)
  const mod = await import(pathToFileURL(init.codePath).href) as { default?: unknown }
  rememberProgramMap(init.codePath)
  const fn = toJobFunction(mod.default)
  if (fn === undefined) throw new BadRequestError(`the program's default export must be job(async (ctx) => ...), got ${typeof mod.default}`)
  post({ ready: true })
  const ctx = createContext({ ...init, signal: cancel.signal }, channels.transport())
  const result = await fn(ctx)
  // what went to local peers must leave before the result does (their eof is our socket's end)
  await channels.flush()
  const out = { result: result === undefined ? null : result, usage: usage() }
  if (init.reuse !== true) { finish(out, 0); return }
  idle = true
  channels = undefined
  // `ps` (and /proc/<pid>/cmdline) tells a parked process from a warm one that never ran a job
  process.title = 'mvm parked sandbox'
  // its channels are cut (posts dropped); its cancel signal is left alone: aborting it would
  // reject whatever the program left pending, and such a late failure could land in the next job
  post(out)
}

process.on('message', (raw, handle) => {
  const m = raw as ToHost
  if ('init' in m) { run(m.init).catch(fail); return }
  if (idle) return
  if ('cancel' in m) { cancel.abort(Object.assign(new Error(`job cancelled: ${m.cancel.reason}`), { name: 'AbortError' })); return }
  if (channels === undefined) early.push([m, handle]); else channels.handle(m, handle)
})
process.on('uncaughtException', fail)
process.on('unhandledRejection', fail)
// the runtime gone means nobody will read a result: leave
process.on('disconnect', () => process.exit(2))
