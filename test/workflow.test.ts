// A Workflow (DAGMan-style DAG of profiles) run by `mvm submit`: results passed to later steps'
// params, retries, a failed step skipping its descendants, and a rescue run finishing the DAG.
import t from 'tap'
import { cp, readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, runCli, startLab, type TestLab } from './lib/lab.js'

interface Step { state: string, jobId?: string, attempts: number, resultJson?: string, reason?: string }
interface Run { workflow: string, ok: boolean, steps: Record<string, Step>, rescueFile?: string }

let lab: TestLab
t.before(async () => { lab = await startLab({ peers: 1, slots: 2 }) })
t.teardown(async () => { await lab?.stop() })

async function submit (file: string, ...args: string[]): Promise<{ code: number | null, run: Run | undefined, stderr: string }> {
  const r = await runCli(['submit', file, '--broker', lab.bootstrap, '--json', ...args], 120_000)
  let run: Run | undefined
  try { run = JSON.parse(r.stdout) as Run } catch {}
  return { code: r.code, run, stderr: r.stderr }
}

t.test('a diamond runs in order with results as params; a failure skips its descendants; --rescue finishes it', async (t) => {
  const dir = t.testdir()
  await cp(join(ROOT, 'test', 'fixtures', 'workflow'), dir, { recursive: true })
  const wf = join(dir, 'diamond.yaml')

  const good = await submit(wf)
  t.equal(good.code, 0, `every step succeeded: ${good.stderr}`)
  const s = good.run!.steps
  t.same(JSON.parse(s.split!.resultJson!), { sum: 7, product: 12 }, 'split')
  t.equal(s.left!.resultJson, '70', 'left = split.sum * 10')
  t.equal(s.right!.resultJson, '13', 'right = split.product + 1')
  t.equal(s.join!.resultJson, '83', 'join = left + right')
  t.ok(Object.values(s).every((x) => x.attempts === 1), 'one attempt each')
  const jobs = await Promise.all(Object.values(s).map(async (x) => await lab.broker.GetJob({ jobId: x.jobId! })))
  const at = (name: string): number => Date.parse(jobs[Object.keys(s).indexOf(name)]!.submittedAt)
  const ended = (name: string): number => Date.parse(jobs[Object.keys(s).indexOf(name)]!.finishedAt!)
  t.ok(at('left') >= ended('split') && at('right') >= ended('split'), 'left and right submitted after split ended')
  t.ok(at('join') >= Math.max(ended('left'), ended('right')), 'join submitted after both')
  t.notOk(existsSync(`${wf}.rescue.json`), 'no rescue file once every step succeeded')

  const bad = await submit(wf, '--param', 'fail=true')
  t.equal(bad.code, 2, 'a failed step: exit 2')
  const b = bad.run!.steps
  t.equal(b.right!.state, 'failed'); t.equal(b.right!.attempts, 2, 'right ran twice (retries: 1)')
  t.match(b.right!.reason ?? '', /failed.*step asked to fail/, 'with its job\'s reason')
  t.equal(b.left!.state, 'succeeded', 'the other branch still ran')
  t.equal(b.join!.state, 'skipped', 'the failed step\'s descendant is skipped'); t.equal(b.join!.attempts, 0)
  t.match(b.join!.reason ?? '', /after right/)
  const rescue = JSON.parse(await readFile(`${wf}.rescue.json`, 'utf8')) as { steps: Record<string, Step> }
  t.same(Object.fromEntries(Object.entries(rescue.steps).map(([k, v]) => [k, v.state])), { split: 'succeeded', left: 'succeeded', right: 'failed', join: 'skipped' }, 'the rescue file records where it stopped')

  const resumed = await submit(wf, '--rescue')
  t.equal(resumed.code, 0, `the rescue run finished the DAG: ${resumed.stderr}`)
  const r = resumed.run!.steps
  t.equal(r.split!.jobId, b.split!.jobId, 'split was not run again')
  t.equal(r.left!.jobId, b.left!.jobId, 'nor left')
  t.not(r.right!.jobId, b.right!.jobId, 'right ran again')
  t.equal(r.join!.resultJson, '83', 'and join got both results')
  t.notOk(existsSync(`${wf}.rescue.json`), 'the rescue file is gone once the DAG is done')

  const again = await submit(wf, '--rescue')
  t.equal(again.code, 1, 'a rescue with no rescue file is an error')
  t.match(again.stderr, /no rescue file/)
})

t.test('a broken workflow is refused before any step runs, naming the file, line and field', async (t) => {
  const r = await runCli(['submit', join(ROOT, 'test', 'fixtures', 'workflow', 'bad-cycle.yaml'), '--broker', lab.bootstrap], 30_000)
  t.equal(r.code, 1)
  t.match(r.stderr, /bad-cycle\.yaml:9:\d+: spec\.steps\.0\.after: the steps form a cycle: one → two → one/)
  t.match(r.stderr, /bad-cycle\.yaml:15:\d+: spec\.steps\.2\.after\.0: no step named 'onee' \(did you mean 'one'\?\)/)
  t.equal((await lab.broker.ListJobs({ limit: 100 })).jobs.filter((j) => j.name === 'calc' && j.state !== 'succeeded' && j.state !== 'failed').length, 0, 'nothing was submitted')
})
