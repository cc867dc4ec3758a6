// The launch baseline: a plain Node process that forks a second one; they exchange one
// message each way and both exit. The bench times spawn → exit of the first.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

if (process.argv[2] === 'child') {
  process.once('message', (m: { v: number }) => { process.send!({ v: m.v + 1 }, () => { process.disconnect() }) })
} else {
  const child = fork(fileURLToPath(import.meta.url), ['child'], { stdio: 'ignore' })
  child.once('message', (m: { v: number }) => {
    if (m.v !== 2) process.exitCode = 1
    child.disconnect()
  })
  child.send({ v: 1 })
  const guard = setTimeout(() => { child.kill('SIGKILL'); process.exit(2) }, 30_000)
  child.once('exit', () => { clearTimeout(guard) })
}
