// Writes profiles/data/corpus.txt, the input of the wordcount sample: 3 MiB of words drawn
// from a small vocabulary by a fixed linear congruential generator, so it is the same on every
// machine and compresses well in git. Run again only to change the sample.
import { writeFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const vocab = ('lab node peer group rank port queue job broker policy sandbox topology ring star mesh tree ' +
  'chunk store cache data input output heat fft primes pipeline grid cluster virtual machine layer ' +
  'message token barrier reduce gather scatter broadcast checkpoint restart migrate resize shared memory').split(' ')
const target = 3 * 1024 * 1024
let x = 20261204
const next = () => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x }
const parts = []
let size = 0
let line = 0
while (size < target) {
  // Zipf-like: low indexes much more often, so the counts have a clear top
  const r = next() / 2 ** 32
  const w = vocab[Math.min(vocab.length - 1, Math.floor(vocab.length * r * r * r))]
  const sep = ++line % 12 === 0 ? '\n' : ' '
  parts.push(w + sep)
  size += w.length + 1
}
const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'profiles', 'data', 'corpus.txt')
mkdirSync(dirname(out), { recursive: true })
writeFileSync(out, parts.join(''))
console.log(`${out}: ${size} bytes`)
