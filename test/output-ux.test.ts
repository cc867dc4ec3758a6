// Readable output (issue 16 item 5): long results cut with a count and a way to see all, sweep
// results labelled by their params, progress that counts started and running ranks. The
// renderers on their own, then the real CLI on a real lab.
import t from 'tap'
import { formatResult, formatValue, formatTable, progressLine, inFlags } from '@mvm/cli'
import { runCli, startLab } from './lib/lab.js'

t.test('renderers: long arrays and strings cut with a count, --full keeps everything', async (t) => {
  const grid = Array.from({ length: 4000 }, (_, i) => i / 7)
  const json = JSON.stringify({ cells: 4000, grid })
  const cut = formatResult(json)
  t.match(cut, /^cells: 4000$/m)
  t.match(cut, /^grid: \[0, 0\.142857\d+, .*, …\] \(4,000 values; --full or --json for all\)$/m)
  t.ok(cut.length < 400, `cut output is short (${cut.length} chars)`)
  t.same(JSON.parse(formatResult(json, { full: true })), { cells: 4000, grid }, '--full is all of it, as JSON')
  t.equal(formatResult('664579'), '664579', 'a number as is')
  t.equal(formatResult(JSON.stringify([1, 2, 3])), '[1, 2, 3]', 'a short array whole')
  t.match(formatResult(JSON.stringify('x'.repeat(5000))), /^x{200}… \(5,000 characters; --full or --json for all\)$/)
  const cell = formatValue({ re: grid, im: grid }, { oneLine: true })
  t.ok(cell.length <= 60 && !cell.includes('\n'), `a table cell is one short line: ${cell}`)
  t.equal(formatResult(undefined), '(no result)')
})

t.test('progress counts ranks started and running, with elapsed time', async (t) => {
  const base = { jobId: 'j-1', name: 'x', priority: 0, owner: 'o', submittedAt: '', placement: [], size: 4 }
  t.equal(progressLine({ ...base, state: 'running', ranksStarted: 4, ranksFinished: 1 }, 12_400), 'running 3/4 ranks, 1 done · 12 s')
  t.equal(progressLine({ ...base, state: 'running', ranksStarted: 2, ranksFinished: 0 }, 900), 'running 2/4 ranks, 0 done · 0 s')
  t.equal(progressLine({ ...base, state: 'queued', ranksStarted: 0, ranksFinished: 0, reason: 'needs 4 slots' }, 3000), 'queued (needs 4 slots) · 3 s')
})

t.test('SOAP field prefixes become flags', async (t) => {
  t.equal(inFlags('Broker.ListJobs.limit: expected a finite number'), '--limit: expected a finite number')
  t.equal(inFlags('Broker.WaitJob.timeoutMs: expected a finite number'), '--timeout: expected a finite number')
  t.equal(inFlags('Broker.GetJobLogs: job j-1 has ranks 0..1'), 'job j-1 has ranks 0..1')
  t.equal(inFlags('no job "x"'), 'no job "x"', 'other messages unchanged')
})

t.test('tables: aligned by display width, borderless, uncoloured, no trailing blanks', async (t) => {
  const out = formatTable(['NAME', 'PEER', 'STATE'], [['peer-1', '12D3…hYRg', 'up'], ['super-peer', '12D3…ab', ''], ['p', 'x\ny', 'down']])
  t.equal(out, [
    'NAME        PEER       STATE',
    'peer-1      12D3…hYRg  up',
    'super-peer  12D3…ab',
    'p           x y        down',
    ''
  ].join('\n'), 'columns two spaces apart; … counts as one column; a newline in a cell stays on its row')
  t.notMatch(out, /\u001b\[/, 'no colour codes, so it reads the same piped')
  t.equal(formatTable(['A', 'B'], []), 'A  B\n', 'a table without rows is its header')
})

t.test('the CLI on a lab: heat is cut (all with --full), a sweep is a table labelled by params', async (t) => {
  const lab = await startLab({ peers: 2, slots: 2 })
  t.teardown(async () => { await lab.stop() })
  const url = lab.bootstrap
  const heat = await runCli(['submit', 'profiles/heat.yaml', '--wait', '--broker', url])
  t.equal(heat.code, 0, heat.stderr)
  t.match(heat.stdout, /^grid: \[.*, …\] \(4,000 values; --full or --json for all\)$/m, 'the grid is cut')
  t.ok(heat.stdout.length < 1000, `and the output short (${heat.stdout.length} chars)`)
  t.match(heat.stderr, /: (scheduled|running \d\/4 ranks, \d done|succeeded) · \d+ s/, 'progress lines carry rank counts or state, and elapsed time')
  const id = /submitted (j-\S+)/.exec(heat.stderr)![1]!
  const full = await runCli(['result', id, '--full', '--broker', url])
  t.equal(full.code, 0, full.stderr)
  t.equal((JSON.parse(full.stdout) as { grid: number[] }).grid.length, 4000, 'result --full prints all 4,000 values')
  const cut = await runCli(['result', id, '--broker', url])
  t.match(cut.stdout, /\(4,000 values; --full or --json for all\)/, 'result cuts it too')

  const sweep = await runCli(['submit', 'profiles/primes-sweep.yaml', '-p', 'processes=2', '--wait', '--broker', url], 300_000)
  t.equal(sweep.code, 0, sweep.stderr)
  const lines = sweep.stdout.trim().split('\n')
  t.match(lines[0], /^JOB\s+n\s+chunk\s+STATE\s+RESULT$/, 'a header naming the array params')
  const rows = lines.slice(1).map((l) => l.split(/\s+/))
  t.same(rows.map((r) => [r[1], r[2], r[3], r[4]]), [
    ['100000', '10000', 'succeeded', '9592'], ['100000', '100000', 'succeeded', '9592'],
    ['1000000', '10000', 'succeeded', '78498'], ['1000000', '100000', 'succeeded', '78498'],
    ['10000000', '10000', 'succeeded', '664579'], ['10000000', '100000', 'succeeded', '664579']
  ], 'each element labelled by its params, with its result')

  // later, from the parent's id alone: the broker kept each element's params
  const parentId = /submitted (j-\S+)/.exec(sweep.stderr)![1]!
  const parent = await lab.broker.GetJob({ jobId: parentId })
  t.equal(parent.childJobIds?.length, 6, 'GetJob lists an array\'s elements')
  t.same((await lab.broker.GetJob({ jobId: parent.childJobIds![5]! })).params, [{ name: 'n', value: '10000000' }, { name: 'chunk', value: '100000' }], 'GetJob: an element\'s params')
  t.same((await lab.broker.GetJobResult({ jobId: parent.childJobIds![0]! })).params, [{ name: 'n', value: '100000' }, { name: 'chunk', value: '10000' }], 'GetJobResult: an element\'s params')
  t.same(parent.params ?? [], [], 'a parent has no element params')
  const later = await runCli(['result', parentId, '--broker', url])
  t.equal(later.code, 0, later.stderr)
  t.equal(later.stdout, sweep.stdout, 'mvm result <array job> prints the same table as submit --wait')
})
