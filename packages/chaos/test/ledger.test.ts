// The chaos report's bookkeeping: fault plans fixed by the seed, exposure of jobs to faults,
// the table and its parser.
import t from 'tap'
import { FAULT_KINDS, Ledger, createRng, formatRows, parseRows, planFaults } from '@mvm/chaos'

t.test('the same seed gives the same plan; every chosen kind appears; times stay inside the run', async (t) => {
  const a = planFaults(createRng(42), FAULT_KINDS, 240_000, 12_000)
  const b = planFaults(createRng(42), FAULT_KINDS, 240_000, 12_000)
  const c = planFaults(createRng(43), FAULT_KINDS, 240_000, 12_000)
  t.same(a, b)
  t.not(JSON.stringify(a), JSON.stringify(c), 'another seed, another plan')
  t.equal(a.length, 20)
  for (const k of FAULT_KINDS) t.ok(a.some((s) => s.kind === k), `${k} planned`)
  t.ok(a.every((s, i) => s.at >= 3000 && s.at <= 235_000 && (i === 0 || s.at >= a[i - 1]!.at)), 'sorted, inside the run')
  t.equal(planFaults(createRng(1), ['kill-rank'], 4000, 12_000).length, 1, 'a short run still injects each kind once')
})

t.test('rows: a job counts under each fault it overlapped, once in TOTAL', async (t) => {
  const l = new Ledger()
  const j1 = l.add({ id: 'j1', kind: 'sample', name: 'ring', submittedAt: 100 })
  const j2 = l.add({ id: 'j2', kind: 'sample', name: 'fft', submittedAt: 100 })
  const j3 = l.add({ id: 'j3', kind: 'sample', name: 'heat', submittedAt: 1000 })
  const h = l.add({ id: 'h1', kind: 'hostile-throw', name: 'hostile-throw', submittedAt: 150 })
  l.fault({ kind: 'hostile-throw', at: 150, until: 400 })
  l.fault({ kind: 'kill-peer', at: 200, until: 300 })
  l.fault({ kind: 'kill-rank', at: 600, until: 600 })
  l.finish(j1, 'correct'); j1.finishedAt = 500
  l.finish(j2, 'lost', 'rank killed'); j2.finishedAt = 700
  l.finish(h, 'expected'); h.finishedAt = 400
  j3.finishedAt = 2000 // no outcome: lost at the end
  t.same(l.exposure(j1), ['hostile-throw', 'kill-peer'])
  t.same(l.exposure(j2), ['hostile-throw', 'kill-peer', 'kill-rank'], 'j2 was still running at the rank kill, j1 was done')
  t.same(l.exposure(h), ['kill-peer'], 'a hostile job is not exposed to itself')
  const rows = l.rows(['hostile-throw', 'kill-peer', 'kill-rank'], 3000)
  const by = Object.fromEntries(rows.map((r) => [r.fault, r]))
  t.match(by['hostile-throw'], { injected: 1, submitted: 3, correct: 1, lost: 1, expected: 1 })
  t.match(by['kill-rank'], { injected: 1, submitted: 1, lost: 1 })
  t.match(by.none, { submitted: 1, lost: 1 }, 'j3 saw no fault and never finished')
  t.match(by.TOTAL, { injected: 3, submitted: 4, correct: 1, wrong: 0, expected: 1, lost: 2 })
  t.same(parseRows('progress line\n' + formatRows(rows) + 'LOST j2 ...\n'), rows, 'the printed table parses back')
})

t.test('parseRows refuses output without a table or with a broken row', async (t) => {
  t.throws(() => parseRows('nothing here\n'), /no chaos table/)
  const text = formatRows([{ fault: 'kill-peer', injected: 1, submitted: 2, correct: 2, wrong: 0, expected: 0, lost: 0 }])
  t.throws(() => parseRows(text), /no TOTAL row/)
  const header = text.split('\n')[0]!
  t.throws(() => parseRows(`${header}\nkill-peer  -1  2  2  0  0  0\nTOTAL  1  2  2  0  0  0\n`), /bad row/)
})
