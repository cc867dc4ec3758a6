import type { BrokerClient } from '@mvm/soap/client'
import { ErrorCode, MvmError, sleep } from '@mvm/core'

/**
 * Calls that may be sent again without doing anything twice: reads, waits, and the state
 * changes that are idempotent by design (a second cancel or hold is what was asked for).
 * SubmitJob and SubmitJobs are not among them: a submission stored before its reply was lost
 * would run twice.
 */
const IDEMPOTENT = new Set<string>([
  'ListNodes', 'GetNode', 'GetJob', 'ListJobs', 'ListHistory', 'GetJobResult', 'GetPolicy', 'GetJobLogs',
  'WaitJob', 'WaitJobs', 'ListData', 'GetData', 'CancelJob', 'HoldJob', 'ReleaseJob'
])

/** How long a call keeps looking for the group's broker (a standby takes over within the monitoring bound). */
const FAILOVER_MS = 60_000
const RETRY_MIN_MS = 250
const RETRY_MAX_MS = 2000
/** Lookups in a row the bootstrap failed (unreachable, or no broker for the group) before giving up. */
const MAX_LOOKUPS_FAILED = 3

/**
 * A broker client found through the bootstrap that follows its group's broker: when an
 * idempotent call finds the broker unreachable (E_UNAVAILABLE: its super-peer died and a
 * standby is taking over), the bootstrap is asked again for the group's broker and the call
 * is sent there, with backoff, for up to a minute (less once the bootstrap itself fails to name a
 * broker three times in a row).
 */
export function followingBroker (first: BrokerClient, locate: () => Promise<BrokerClient>): BrokerClient {
  let current = first
  const retrying = (name: string) => async (...args: unknown[]): Promise<unknown> => {
    const deadline = Date.now() + FAILOVER_MS
    let wait = RETRY_MIN_MS
    let lookupsFailed = 0
    for (;;) {
      const used = current
      try {
        return await (used[name as keyof BrokerClient] as (...a: unknown[]) => Promise<unknown>)(...args)
      } catch (err) {
        const signal = (args[1] as { signal?: AbortSignal } | undefined)?.signal
        const retry = err instanceof MvmError && err.code === ErrorCode.UNAVAILABLE && Date.now() + wait <= deadline && signal?.aborted !== true
        // a bootstrap that cannot name any broker either: nothing is taking over
        if (!retry || lookupsFailed >= MAX_LOOKUPS_FAILED) throw err
        await sleep(wait)
        wait = Math.min(RETRY_MAX_MS, wait * 2)
        // another call may have found the new broker meanwhile
        if (current === used) {
          try { current = await locate(); lookupsFailed = 0 } catch { lookupsFailed++ }
        }
      }
    }
  }
  return new Proxy(first, {
    get (_target, prop) {
      if (typeof prop === 'string' && IDEMPOTENT.has(prop)) return retrying(prop)
      return Reflect.get(current, prop)
    }
  })
}
