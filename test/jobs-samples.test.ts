// Every sample in profiles/ on a real lab: 4 ranks over 2 peers with 2 slots each, so jobs use
// both the local (IPC) and the remote (libp2p) queue paths. Results are checked against
// serial computations done here, not against the profiles' own `expect`.
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { ROOT, startLab, submit, waitJob, type TestLab } from './lib/lab.js'
import { dft, heatSerial, maxDiff, pipelineCounts, primeCount, tokenRingHashes, histogramSerial } from './lib/oracles.js'

const profile = (name: string): string => join(ROOT, 'profiles', name)

let lab: TestLab
t.before(async () => { lab = await startLab({ peers: 2, slots: 2 }) })
t.teardown(async () => { await lab?.stop() })

/** Runs a profile to the end and returns its parsed root result, asserting success and a two-peer placement. */
async function run (t: Test, file: string, params: Record<string, string> = {}, ms = 90_000): Promise<unknown> {
  const { jobId } = await submit(lab.broker, profile(file), params)
  const { info, result } = await waitJob(lab.broker, jobId, ms)
  t.equal(info.state, 'succeeded', `${file} ${JSON.stringify(params)}: ${info.reason ?? ''}`)
  t.equal(info.size, 4)
  const peers = new Set(info.placement.map((p) => p.peerId))
  t.same([...peers].sort(), lab.peers.map((p) => p.ready.peerId).sort(), 'placement used both peers')
  t.equal(result.ranks.length, 4, 'every rank reported')
  t.ok(result.ranks.every((r) => r.exitCode === 0), 'every rank exited 0')
  t.ok(result.resultJson !== undefined, 'a root result')
  return JSON.parse(result.resultJson ?? 'null')
}

t.test('primes: n=200000 matches a sieve', async (t) => {
  t.equal(await run(t, 'primes.yaml', { n: '200000' }), primeCount(200_000))
})

t.test('primes: n=10^7 matches a sieve', async (t) => {
  const want = primeCount(10_000_000)
  t.equal(want, 664579, 'the sieve here agrees with the known π(10^7)')
  t.equal(await run(t, 'primes.yaml'), want)
})

t.test('heat: the gathered grid equals a serial computation to 1e-9', async (t) => {
  const r = await run(t, 'heat.yaml', { cells: '1000', steps: '300' }) as { cells: number, steps: number, grid: number[], checksum: number }
  const want = heatSerial(1000, 300, 0.25)
  t.equal(r.cells, 1000)
  t.equal(r.steps, 300)
  t.ok(maxDiff(r.grid, want) < 1e-9, `max cell difference ${maxDiff(r.grid, want)}`)
})

t.test('fft: equals a direct DFT to 1e-9 (8 and 64 points)', async (t) => {
  for (const points of [8, 64]) {
    const r = await run(t, 'fft.yaml', { points: String(points) }) as { re: number[], im: number[] }
    const want = dft(points)
    t.ok(maxDiff(r.re, want.re) < 1e-9, `${points} points: re off by ${maxDiff(r.re, want.re)}`)
    t.ok(maxDiff(r.im, want.im) < 1e-9, `${points} points: im off by ${maxDiff(r.im, want.im)}`)
  }
})

t.test('pipeline: word counts equal the ones computed here', async (t) => {
  t.same(await run(t, 'pipeline.yaml', { items: '700' }), pipelineCounts(700))
})

t.test('ring: the token is laps * n(n-1)/2', async (t) => {
  t.same(await run(t, 'ring.yaml', { laps: '5' }), { token: 5 * 4 * 3 / 2, laps: 5, size: 4 })
})

t.test('tokens: coordinated checkpoints leave every rank\'s hash equal to a serial run\'s', async (t) => {
  t.same(await run(t, 'tokens.yaml', { n: '120' }), { steps: 120, inFlight: 3, hashes: tokenRingHashes(4, 120, 3) })
  t.same(tokenRingHashes(4, 200, 3), [1286650564, 1493194728, 1503732938, 52165043], 'the profile\'s expect is the serial answer')
})

t.test('histogram: ctx.shared compare-and-set counts equal a serial histogram', async (t) => {
  const r = await run(t, 'histogram.yaml', { n: '150', buckets: '6' }) as { counts: number[], total: number, retries: number }
  t.same(r.counts, histogramSerial(4, 150, 6), 'every bucket')
  t.equal(r.total, 600, 'no increment lost or doubled')
  t.ok(Number.isInteger(r.retries) && r.retries >= 0, `compare-and-set retries under contention: ${r.retries}`)
  t.same(histogramSerial(4, 200, 8), [101, 90, 109, 100, 113, 79, 99, 109], 'the profile\'s expect is the serial answer')
})

t.test('primes-sweep: one child per value set, each right', async (t) => {
  const { jobId, childJobIds } = await submit(lab.broker, profile('primes-sweep.yaml'))
  t.equal(childJobIds.length, 6, 'n × chunk = 3 × 2 children')
  const { info, result } = await waitJob(lab.broker, jobId, 240_000)
  t.equal(info.state, 'succeeded', info.reason ?? '')
  const values = JSON.parse(result.resultJson ?? '[]') as number[]
  t.equal(values.length, 6, 'the parent holds one value per child')
  for (const [i, id] of childJobIds.entries()) {
    const c = await waitJob(lab.broker, id, 10_000)
    t.equal(c.info.parentId, jobId)
    t.equal(c.info.state, 'succeeded', `${id}: ${c.info.reason ?? ''}`)
    t.equal(new Set(c.info.placement.map((p) => p.peerId)).size, 2, `${id} used both peers`)
    t.equal(JSON.parse(c.result.resultJson ?? 'null'), values[i], `child ${i}'s own result is the parent's value ${i}`)
  }
  // the matrix is n in [1e5, 1e6, 1e7] × chunk in [1e4, 1e5]: each n twice, whatever the order
  const pi = new Map([1e5, 1e6, 1e7].map((n) => [n, primeCount(n)]))
  const want = [1e5, 1e5, 1e6, 1e6, 1e7, 1e7].map((n) => pi.get(n) ?? -1)
  t.same([...values].sort((a, b) => a - b), [...want].sort((a, b) => a - b), 'every child counted its own n')
})
