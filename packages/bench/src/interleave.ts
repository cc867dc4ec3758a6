import { setMaxListeners } from 'node:events'
import { AbortError, TimeoutError, throwIfAborted, toMvmError } from '@mvm/core'
import type { Contender } from './types.js'

export interface InterleaveOptions {
  rounds: number
  warmup: number
  /** No new round starts after this many ms. */
  budgetMs: number
  sampleTimeoutMs: number
  signal?: AbortSignal
}

export interface SideOutcome { samples: number[], failure?: string }

/**
 * Runs A B A B …: both sides see the same machine state (other engineers' load, thermal
 * state, page cache) in turn, so a ratio is fairer than two figures measured minutes apart.
 * A side that fails stops sampling and keeps its reason; the other side carries on alone.
 */
export async function interleave (a: Contender, b: Contender, options: InterleaveOptions): Promise<{ a: SideOutcome, b: SideOutcome }> {
  const sides = [
    { c: a, out: { samples: [] as number[] } as SideOutcome, live: false },
    { c: b, out: { samples: [] as number[] } as SideOutcome, live: false }
  ]
  const started = Date.now()
  try {
    for (const s of sides) {
      try {
        await s.c.setup?.(bounded(options.signal, options.sampleTimeoutMs * 4))
        s.live = true
      } catch (err) {
        throwIfAborted(options.signal)
        s.out.failure = reasonOf(err)
      }
    }
    const total = options.warmup + options.rounds
    for (let round = 0; round < total && sides.some((s) => s.live); round++) {
      if (round > options.warmup && Date.now() - started > options.budgetMs) break
      for (const s of sides) {
        if (!s.live) continue
        try {
          const v = await s.c.sample(bounded(options.signal, options.sampleTimeoutMs))
          if (!Number.isFinite(v)) throw new Error(`sample was ${String(v)}`)
          if (round >= options.warmup) s.out.samples.push(v)
        } catch (err) {
          throwIfAborted(options.signal)
          s.out.failure = reasonOf(err)
          s.live = false
        }
      }
    }
  } finally {
    for (const s of sides) {
      try { await s.c.teardown?.() } catch { /* a teardown failure must not hide the figures */ }
    }
  }
  return { a: sides[0]!.out, b: sides[1]!.out }
}

function bounded (signal: AbortSignal | undefined, ms: number): AbortSignal {
  const t = AbortSignal.timeout(ms)
  const s = signal === undefined ? t : AbortSignal.any([signal, t])
  // a sample with 32 operations in flight legitimately listens 32 times
  setMaxListeners(0, s)
  return s
}

function reasonOf (err: unknown): string {
  const e = toMvmError(err)
  if (e instanceof TimeoutError || (err instanceof Error && err.name === 'TimeoutError')) return `timed out (${e.message})`
  if (e instanceof AbortError) return `aborted (${e.message})`
  return e.message.split('\n')[0] ?? e.message
}
