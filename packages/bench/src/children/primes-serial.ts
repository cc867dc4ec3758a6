// The science baseline: the bench's primes program's own counting code, run serially in one
// plain process. Answers {cmd:'primes', n} with the milliseconds it took.
import { fileURLToPath, pathToFileURL } from 'node:url'
import { dirname, join } from 'node:path'

const programs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'programs')
const { countPrimes } = await import(pathToFileURL(join(programs, 'primes.js')).href) as { countPrimes: (lo: number, hi: number) => number }

process.on('message', (m: { id: string, cmd: string, n: number }) => {
  if (m.cmd !== 'primes') return
  const t0 = performance.now()
  const count = countPrimes(0, m.n)
  process.send!({ id: m.id, value: { ms: performance.now() - t0, count } })
})
process.on('disconnect', () => { process.exit(0) })
process.send!({ ready: true })
