// A plain idle Node process (the footprint baseline); with a count argument it also forks that
// many idle children, like a node holding a job's ranks. Prints one ready line when all are up.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const n = Number(process.argv[2] ?? '0')
const keep = setInterval(() => {}, 1 << 30)
if (process.argv[3] === 'leaf') {
  process.send?.('up')
} else {
  const kids = Array.from({ length: n }, () => fork(fileURLToPath(import.meta.url), ['0', 'leaf'], { stdio: 'ignore' }))
  Promise.all(kids.map(async (k) => await new Promise((resolve) => k.once('message', resolve)))).then(() => {
    process.stdout.write(JSON.stringify({ event: 'ready', pids: kids.map((k) => k.pid) }) + '\n')
  }, () => { process.exit(1) })
  const bye = (): void => { for (const k of kids) k.kill('SIGTERM'); clearInterval(keep); process.exit(0) }
  process.on('SIGTERM', bye)
  process.on('SIGINT', bye)
}
