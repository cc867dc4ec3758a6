/**
 * The entry module of every rank's sandboxed process. It waits for `{ init }` on IPC, loads
 * the compiled program, runs it with a context bound to IPC, reports `{ result }` or
 * `{ error }` and exits 0 or 1. It holds no job logic of its own.
 */
import { pathToFileURL } from 'node:url'
import { BadRequestError, toMvmError } from '@mvm/core'
import { createContext, toJobFunction } from '@mvm/job'
import { HostChannels } from './host-channels.js'
import type { FromHost, HostInit, ToHost } from './protocol.js'

const post = (m: FromHost): void => { process.send?.(m) }
const cancel = new AbortController()
let channels: HostChannels | undefined
const early: Array<[ToHost, unknown]> = []

function finish (m: FromHost, code: number): void {
  // exit only once the message is handed over, so the runtime always gets the outcome
  if (process.send === undefined) process.exit(code)
  process.send(m, () => { process.exit(code) })
}

/** A failing rank still delivers what it sent before (bounded: a broken socket must not hold it). */
const FLUSH_ON_FAIL_MS = 2000

function fail (err: unknown): void {
  const e = toMvmError(err)
  const stack = err instanceof Error ? err.stack : undefined
  let timer: NodeJS.Timeout | undefined
  const flushed = Promise.race([channels?.flush(), new Promise<void>((resolve) => { timer = setTimeout(resolve, FLUSH_ON_FAIL_MS) })])
  void flushed.catch(() => {}).finally(() => { clearTimeout(timer); report(e, err, stack) })
}

function report (e: ReturnType<typeof toMvmError>, err: unknown, stack: string | undefined): void {
  finish({ error: { ...e.toJSON(), message: nodeReason(err, e.message), ...(stack === undefined ? {} : { stack }) } }, 1)
}

/**
 * Node's own errors keep their code (ERR_ACCESS_DENIED from the permission model, ...) and the
 * denied resource in the message: toMvmError makes them E_INTERNAL, which would hide why.
 */
function nodeReason (err: unknown, message: string): string {
  const x = err as { code?: unknown, permission?: unknown, resource?: unknown } | null
  if (typeof x?.code !== 'string' || !x.code.startsWith('ERR_')) return message
  const what = [x.permission, x.resource].filter((v) => typeof v === 'string' && v !== '').join(' ')
  return `${x.code}: ${message}${what === '' ? '' : ` (${what})`}`
}

async function run (init: HostInit): Promise<void> {
  channels = new HostChannels(init, post)
  for (const [m, h] of early.splice(0)) channels.handle(m, h)
  const mod = await import(pathToFileURL(init.codePath).href) as { default?: unknown }
  const fn = toJobFunction(mod.default)
  if (fn === undefined) throw new BadRequestError(`the program's default export must be job(async (ctx) => ...), got ${typeof mod.default}`)
  post({ ready: true })
  const ctx = createContext({ ...init, signal: cancel.signal }, channels.transport())
  const result = await fn(ctx)
  // what went to local peers must leave before we do (their eof is our socket's end)
  await channels.flush()
  finish({ result: result === undefined ? null : result }, 0)
}

process.on('message', (raw, handle) => {
  const m = raw as ToHost
  if ('init' in m) { run(m.init).catch(fail); return }
  if ('cancel' in m) { cancel.abort(Object.assign(new Error(`job cancelled: ${m.cancel.reason}`), { name: 'AbortError' })); return }
  if (channels === undefined) early.push([m, handle]); else channels.handle(m, handle)
})
process.on('uncaughtException', fail)
process.on('unhandledRejection', fail)
// the runtime gone means nobody will read a result: leave
process.on('disconnect', () => process.exit(2))
