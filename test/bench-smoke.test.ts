// The root smoke test the issue asks for: `node packages/bench/bin/bench.js --quick --only launch.warm`
// runs and prints a table with a ratio column. One row keeps `npm test` fast (the cold-launch row
// starts a lab per sample). No timing assertion.
import t from 'tap'
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..')

t.test('npm run bench -- --quick --only launch.warm prints a table with a ratio column', { timeout: 150_000 }, async (t) => {
  const out = t.testdir()
  const child = spawn(process.execPath, ['packages/bench/bin/bench.js', '--quick', '--only', 'launch.warm', '--out', out], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  // SIGINT is the bench's own clean stop: it still stops every process it started
  const timer = setTimeout(() => { child.kill('SIGINT') }, 140_000)
  t.teardown(() => { clearTimeout(timer); if (child.exitCode === null) child.kill('SIGKILL') })
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => { r(c) }))
  t.equal(code, 0, `exit code (stderr: ${stderr.slice(-500)})`)
  const lines = stdout.split('\n')
  t.match(lines[0] ?? '', /\bbaseline\b.*\bratio\b/, 'header with baseline and ratio columns')
  t.match(stdout, /^launch\.warm\s.*×\s*$/m, 'launch.warm row with a ratio')
  t.match(stdout, /results\.json/, 'names the JSON report')
})
