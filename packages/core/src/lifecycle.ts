import { AbortError, TimeoutError } from './errors.js'

/** Long-lived parts implement this; one composition root starts and stops them. */
export interface Startable {
  start: () => Promise<void>
  stop: () => Promise<void>
  isStarted: () => boolean
}

export interface AbortOptions { signal?: AbortSignal }

/** Throws the typed error for an aborted signal (timeouts stay distinguishable). */
export function throwIfAborted (signal?: AbortSignal): void {
  if (signal?.aborted !== true) return
  const r = signal.reason as unknown
  if (r instanceof Error && r.name === 'TimeoutError') throw new TimeoutError(r.message, { cause: r })
  // AbortController.abort() with no reason gives a DOMException named AbortError: type it
  if (r instanceof Error && r.name === 'AbortError') throw new AbortError(r.message, { cause: r })
  if (r instanceof Error) throw r
  throw new AbortError()
}

/** Resolves after `ms`, or rejects early when the signal aborts. */
export async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal)
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(t); try { throwIfAborted(signal) } catch (e) { reject(e) } }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** A signal aborted by any of the given ones, or after `timeoutMs` if set. */
export function combineSignals (signals: Array<AbortSignal | undefined>, timeoutMs?: number): AbortSignal {
  const list = signals.filter((s): s is AbortSignal => s !== undefined)
  if (timeoutMs !== undefined) list.push(AbortSignal.timeout(timeoutMs))
  return list.length === 1 ? list[0]! : AbortSignal.any(list)
}

/**
 * A role around one agent: `attach` runs after the agent starts (SOAP operations, extra
 * handlers) and returns what to undo before it stops. Start and stop are idempotent.
 */
export function startableRole<A extends Startable> (agent: A, attach: () => (() => void) | undefined): Startable & { readonly agent: A } {
  let detach: (() => void) | undefined
  return {
    agent,
    isStarted: () => agent.isStarted(),
    async start () {
      if (agent.isStarted()) return
      await agent.start()
      detach = attach()
    },
    async stop () {
      detach?.()
      detach = undefined
      await agent.stop()
    }
  }
}
