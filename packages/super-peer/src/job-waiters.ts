import type { Broker } from '@mvm/broker'
import { WAIT_DEFAULT_MS, WAIT_MAX_MS } from '@mvm/soap'
import { BadRequestError, type JobState } from '@mvm/core'

// held is not final, but nothing happens to a held job until someone releases it: a waiter gets it back
const terminalStates: ReadonlySet<JobState> = new Set<JobState>(['succeeded', 'failed', 'cancelled', 'held'])

interface Waiter { pending: Set<string>, done: () => void }

/**
 * Long polls over the broker's job events: one broker listener however many callers wait,
 * and each event wakes only the waiters of that job.
 */
export class JobWaiters {
  private readonly byJob = new Map<string, Set<Waiter>>()
  private unsubscribe: (() => void) | undefined

  constructor (private readonly broker: Broker) {}

  /** Resolves once every job of `ids` is terminal, or after `timeoutMs` (clamped to the WSDL's bound). Unknown ids throw E_NOT_FOUND. */
  async wait (ids: readonly string[], timeoutMs: number | undefined, signal?: AbortSignal): Promise<void> {
    const ms = clampWait(timeoutMs)
    const pending = new Set<string>()
    for (const id of ids) if (!terminalStates.has(this.broker.get(id).state)) pending.add(id)
    if (pending.size === 0 || ms === 0) return
    this.listen()
    await new Promise<void>((resolve) => {
      const w: Waiter = { pending, done: () => {} }
      const timer = setTimeout(() => { w.done() }, ms)
      // a pending long poll must not keep a stopping process alive
      timer.unref()
      const onAbort = (): void => { w.done() }
      signal?.addEventListener('abort', onAbort, { once: true })
      w.done = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        for (const id of w.pending) this.drop(id, w)
        resolve()
      }
      for (const id of pending) {
        let s = this.byJob.get(id)
        if (s === undefined) { s = new Set(); this.byJob.set(id, s) }
        s.add(w)
      }
    })
  }

  /** Answers every pending wait now (with the jobs as they are) and stops listening. */
  close (): void {
    this.unsubscribe?.()
    this.unsubscribe = undefined
    const all = new Set([...this.byJob.values()].flatMap((s) => [...s]))
    for (const w of all) w.done()
    this.byJob.clear()
  }

  private listen (): void {
    this.unsubscribe ??= this.broker.on('job', (e) => {
      if (e.kind !== 'state' || !terminalStates.has(e.state)) return
      const ws = this.byJob.get(e.jobId)
      if (ws === undefined) return
      this.byJob.delete(e.jobId)
      for (const w of ws) {
        w.pending.delete(e.jobId)
        if (w.pending.size === 0) w.done()
      }
    })
  }

  private drop (id: string, w: Waiter): void {
    const s = this.byJob.get(id)
    if (s === undefined) return
    s.delete(w)
    if (s.size === 0) this.byJob.delete(id)
  }
}

export function clampWait (timeoutMs: number | undefined): number {
  if (timeoutMs === undefined) return WAIT_DEFAULT_MS
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0) throw new BadRequestError(`timeoutMs: must be an integer >= 0 (got ${String(timeoutMs)})`)
  return Math.min(timeoutMs, WAIT_MAX_MS)
}
