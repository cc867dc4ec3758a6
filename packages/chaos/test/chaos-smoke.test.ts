// A very short chaos run through the real `npm run chaos` entry (bin/chaos.js): a real lab
// of 4 `mvm node` processes, one hostile request, sample jobs. It checks the table's shape
// and that the lab answered; the losses themselves are the long run's business.
import t from 'tap'
import { spawn } from 'node:child_process'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseRows } from '@mvm/chaos'

const BIN = fileURLToPath(new URL('../bin/chaos.js', import.meta.url))

async function run (args: string[], ms: number): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    // SIGINT first: the driver then stops the lab it started
    const timer = setTimeout(() => { c.kill('SIGINT'); setTimeout(() => c.kill('SIGKILL'), 10_000).unref() }, ms)
    c.on('error', (err) => { clearTimeout(timer); reject(err) })
    c.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

t.test('a short chaos run prints a table that parses, and the lab answered', async (t) => {
  const r = await run(['--duration', '4s', '--seed', '7', '--only', 'soap-unknown-op', '--concurrency', '1', '--drain', '15s'], 100_000)
  // a run with findings keeps its data dir for diagnosis; a test run must not leave it behind
  const kept = /data=(\S+)/.exec(r.stdout)?.[1]
  if (kept !== undefined && kept.startsWith(join(tmpdir(), 'mvm-chaos-'))) t.teardown(async () => { await rm(kept, { recursive: true, force: true }) })
  t.not(r.code, 2, `the driver itself must not fail:\n${r.stderr}`)
  t.ok(r.code === 0 || r.code === 1, `exit 0 (pass) or 1 (findings), got ${String(r.code)}`)
  const rows = parseRows(r.stdout)
  t.same(rows.map((x) => x.fault), ['soap-unknown-op', 'none', 'TOTAL'], 'one row per chosen fault kind, then none and TOTAL')
  const total = rows.at(-1)!
  for (const row of rows) t.equal(row.correct + row.wrong + row.expected + row.lost, row.submitted, `${row.fault}: every item has one outcome`)
  const req = rows[0]!
  t.equal(req.injected, 1, 'the hostile request was sent once')
  t.equal(req.expected, 1, 'the broker rejected the unknown operation (it answered)')
  t.ok(total.submitted >= 2, 'at least one sample job was accepted besides the request')
  t.match(r.stdout, /^chaos: (PASS|FAIL) \(\d+ lost, \d+ wrong of \d+\) seed=7/m, 'the verdict line names the seed')
  t.equal(r.code === 0, total.lost === 0 && total.wrong === 0, 'exit code follows lost and wrong')
})
