// Smoke test only: runs the real CLI the way `npm run bench -- --quick --only …` does (from the
// repository root) on rows whose baselines always work, and checks the table and the reports are
// produced. No timing assertion: the figures are not checked, only their shape. One launch row keeps
// the suite fast (the cold-launch row starts a lab per sample).
import t from 'tap'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const pkg = resolve(fileURLToPath(new URL('.', import.meta.url)), '..')
const bin = join(pkg, 'bin', 'bench.js')
/** The root package's `bench` script runs the bin from here. */
const repoRoot = resolve(pkg, '..', '..')

async function run (args: string[], timeoutMs: number): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  // SIGINT is the bench's own clean stop: it still stops every process it started
  const timer = setTimeout(() => { child.kill('SIGINT') }, timeoutMs)
  t.teardown(() => { clearTimeout(timer); if (child.exitCode === null) child.kill('SIGKILL') })
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => { r(c) }))
  clearTimeout(timer)
  return { code, stdout, stderr }
}

t.test('--quick --only launch.warm,footprint.broker-queued prints a table with a ratio column and writes the reports', { timeout: 150_000 }, async (t) => {
  const out = t.testdir()
  const r = await run(['--quick', '--only', 'launch.warm,footprint.broker-queued', '--out', out], 140_000)
  t.equal(r.code, 0, `exit code (stderr: ${r.stderr.slice(-500)})`)
  const header = r.stdout.split('\n')[0] ?? ''
  t.match(header, /\bbaseline\b.*\bratio\b/, 'the table has a baseline and a ratio column')
  t.match(r.stdout, /^launch\.warm\s.*×\s*$/m, 'the launch row is printed with a ratio')
  // the broker row needs no job path: its ratio is a number whatever the toolkit's state
  t.match(r.stdout, /^footprint\.broker-queued .*\d×\s*$/m, 'a row with a measured ratio')
  t.match(r.stdout, /results\.json/, 'names the JSON report')
  const json = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as { rows: Array<{ id: string, b: { ok: boolean }, ratio: number | null }> }
  t.same(json.rows.map((x) => x.id), ['launch.warm', 'footprint.broker-queued'])
  t.ok(json.rows.every((x) => x.b.ok), 'every baseline was measured')
  t.match(await readFile(join(out, 'results.md'), 'utf8'), /\| row \| figure \|/)
  t.match(await readFile(join(out, 'results.svg'), 'utf8'), /^<svg /)
})

t.test('an unknown row is refused with the list of known ones', { timeout: 30_000 }, async (t) => {
  const r = await run(['--quick', '--only', 'nope', '--out', t.testdir()], 25_000)
  t.equal(r.code, 1)
  t.match(r.stderr, /unknown row "nope".*launch/)
})
