import type { Profile } from './types.js'

/**
 * `--quick`: a few minutes; full: the sizes (10^8 primes, 1,000 array elements) and more
 * rounds, bounded to ~45 s per row (slow rows get fewer rounds) so the whole run stays under ~20 min.
 */
export function benchProfile (quick: boolean): Profile {
  return quick
    ? { quick, rounds: 3, warmup: 1, rowBudgetMs: 25_000, sampleTimeoutMs: 60_000, latencyMessages: 200, bandwidthMessages: 128, primesN: 1e7, seqJobs: 5, inflightJobs: 32, arrayElements: 100, queuedJobs: 10_000 }
    : { quick, rounds: 7, warmup: 1, rowBudgetMs: 45_000, sampleTimeoutMs: 300_000, latencyMessages: 2000, bandwidthMessages: 1024, primesN: 1e8, seqJobs: 20, inflightJobs: 64, arrayElements: 1000, queuedJobs: 10_000 }
}
