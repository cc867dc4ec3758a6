// Independent answers for the sample programs, computed serially in the test process, so a
// result from the lab is checked against arithmetic that never went through the toolkit.

import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** π(n): the number of primes below n, by a plain sieve. */
export function primeCount (n: number): number {
  const composite = new Uint8Array(n)
  let count = 0
  for (let i = 2; i < n; i++) {
    if (composite[i] === 1) continue
    count++
    for (let j = i * i; j < n; j += i) composite[j] = 1
  }
  return count
}

/** Serial explicit 1-D heat diffusion, zero boundaries, same start as profiles/heat.ts documents. */
export function heatSerial (cells: number, steps: number, alpha: number): number[] {
  let u = Array.from({ length: cells }, (_, i) => Math.sin(Math.PI * (i + 1) / (cells + 1)) + (i === Math.floor(cells / 2) ? 1 : 0))
  for (let s = 0; s < steps; s++) {
    u = u.map((x, i) => x + alpha * ((u[i - 1] ?? 0) - 2 * x + (u[i + 1] ?? 0)))
  }
  return u
}

/** Direct O(N²) DFT of x[k] = (cos k + k) + i·sin 2k, the signal profiles/fft.ts uses by default. */
export function dft (points: number): { re: number[], im: number[] } {
  const xr = Array.from({ length: points }, (_, k) => Math.cos(k) + k)
  const xi = Array.from({ length: points }, (_, k) => Math.sin(2 * k))
  const re: number[] = []
  const im: number[] = []
  for (let f = 0; f < points; f++) {
    let sr = 0; let si = 0
    for (let k = 0; k < points; k++) {
      const a = -2 * Math.PI * f * k / points
      sr += xr[k]! * Math.cos(a) - xi[k]! * Math.sin(a)
      si += xr[k]! * Math.sin(a) + xi[k]! * Math.cos(a)
    }
    re.push(sr); im.push(si)
  }
  return { re, im }
}

/** Word counts the pipeline sample must produce for `items` generated lines (its documented input). */
export function pipelineCounts (items: number): { words: number, distinct: number, counts: Record<string, number> } {
  const words = ['The', 'queue', 'of', 'a', 'Virtual', 'machine', 'is', 'bounded', 'and', 'the', 'Ranks', 'talk', 'on', 'ports']
  const stop = new Set(['a', 'an', 'and', 'the', 'of', 'to', 'in', 'is', 'on', 'for', 'with', 'at', 'by', 'it'])
  const counts: Record<string, number> = {}
  let total = 0
  for (let i = 0; i < items; i++) {
    for (let k = 0; k < 5; k++) {
      const w = words[(i * 7 + k * 3) % words.length]!.toLowerCase()
      if (stop.has(w)) continue
      counts[w] = (counts[w] ?? 0) + 1
      total++
    }
  }
  return { words: total, distinct: Object.keys(counts).length, counts }
}

/** The largest absolute difference between two equal-length number arrays (Infinity if lengths differ). */
export function maxDiff (a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) return Infinity
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}

/**
 * The token ring of profiles/tokens.ts run serially: each rank starts with `w` tokens from its
 * predecessor, takes `n`, folds each into `acc = (acc * 31 + v) mod 2^31-1` and passes it on plus
 * one (except its last `w`). Each rank's hash depends on the exact order of what it received.
 */
export function tokenRingHashes (size: number, n: number, w: number): number[] {
  const inbox = Array.from({ length: size }, (_, r) => Array.from({ length: w }, (_, k) => ((r + size - 1) % size) * 1000 + k))
  const acc = new Array<number>(size).fill(0)
  const taken = new Array<number>(size).fill(0)
  for (let moved = true; moved;) {
    moved = false
    for (let r = 0; r < size; r++) {
      if (taken[r]! >= n || inbox[r]!.length === 0) continue
      const v = inbox[r]!.shift()!
      acc[r] = (acc[r]! * 31 + v) % 2147483647
      taken[r]!++
      if (taken[r]! <= n - w) inbox[(r + 1) % size]!.push(v + 1)
      moved = true
    }
  }
  return acc
}

/** The histogram of profiles/histogram.ts computed serially: the same LCG per rank, bucket = high 16 bits mod `buckets`. */
export function histogramSerial (size: number, n: number, buckets: number): number[] {
  const counts = new Array<number>(buckets).fill(0)
  for (let r = 0; r < size; r++) {
    let x = (r + 1) * 2654435761 >>> 0
    for (let i = 0; i < n; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0
      counts[(x >>> 16) % buckets]!++
    }
  }
  return counts
}

/** The token ring of test/fixtures/cut (tokens.yaml): what each rank ends with when nothing moves or fails, run serially. */
export function tokenRingSerial (size: number, n: number, w: number): Array<{ acc: number, count: number }> {
  const inbox = Array.from({ length: size }, (_, r) => Array.from({ length: w }, (_, k) => ((r + size - 1) % size) * 1000 + k))
  const out = Array.from({ length: size }, () => ({ acc: 0, count: 0 }))
  for (let moved = true; moved;) {
    moved = false
    for (let r = 0; r < size; r++) {
      const o = out[r]!
      if (o.count >= n || inbox[r]!.length === 0) continue
      const v = inbox[r]!.shift()!
      o.acc = (o.acc * 31 + v) % 2147483647
      o.count++
      if (o.count <= n - w) inbox[(r + 1) % size]!.push(v + 1)
      moved = true
    }
  }
  return out
}

/**
 * The highest step any run of rank `rank` of job `tag` reached under `dir`: the `.step` files the
 * checkpoint and token-ring fixtures write in their work dirs, in every sandbox and every restart.
 */
export async function highestStep (dir: string, tag: string, rank: number): Promise<number> {
  let best = 0
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || e.name !== `${tag}-rank-${rank}.step`) continue
    best = Math.max(best, Number(await readFile(join(e.parentPath, e.name), 'utf8').catch(() => '0')) || 0)
  }
  return best
}
