import t, { type Test } from 'tap'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expandTopology } from '@mvm/model'
import { compileProgram, createRuntime, sdkUrl, type RankOutcome, type Runtime } from '@mvm/runtime'
import { memoryNetwork } from './fixtures.js'

// Sandbox reuse (policy sandbox.reuseForSameOwner) with real rank processes: which pid served
// which job is the evidence, read from process.pid inside the program.

const PROBE = `import { job } from '@mvm/job'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
export default job(async (ctx) => {
  const seen = {
    pid: process.pid,
    files: readdirSync(process.cwd()).filter((f) => !f.startsWith('program-')),
    leftFile: existsSync('left-behind.txt'),
    envMark: process.env.MVM_TEST_MARK ?? null,
    globalMark: globalThis.__mark ?? null,
    cwd: process.cwd()
  }
  writeFileSync('left-behind.txt', ctx.params.owner)
  process.env.MVM_TEST_MARK = ctx.params.owner
  globalThis.__mark = ctx.params.owner
  if (ctx.params.sleepMs) await new Promise((resolve) => setTimeout(resolve, ctx.params.sleepMs))
  if (ctx.params.fail) throw new Error('asked to fail')
  return seen
})`

interface Seen { pid: number, files: string[], leftFile: boolean, envMark: string | null, globalMark: string | null, cwd: string }

let n = 0
function node (t: Test, init: { poolSize?: number, reuseForSameOwner?: boolean } = {}): Runtime {
  const dir = mkdtempSync(join(tmpdir(), 'mvm-reuse-'))
  const rt = createRuntime({ dataDir: dir, poolSize: init.poolSize ?? 1, ...(init.reuseForSameOwner === undefined ? {} : { reuseForSameOwner: init.reuseForSameOwner }) })
  t.teardown(async () => { await rt.stop(); rmSync(dir, { recursive: true, force: true }) })
  return rt
}

async function runOne (rt: Runtime, owner: string, params: Record<string, unknown> = {}, wallTimeSec = 60): Promise<RankOutcome> {
  const jobId = `reuse${++n}-${process.pid}`
  const inst = await rt.instantiate({
    jobId, owner, program: { source: PROBE, language: 'js', path: 'probe.js' },
    graph: expandTopology({ shape: 'line', size: 1 } as never), placement: ['A'], self: 'A',
    params: { owner, ...params }, resources: { memoryMB: 256, wallTimeSec },
    queue: { type: 'fifo', capacity: 4, encoding: 'json' }
  }, memoryNetwork(['A']).link('A'))
  await inst.start().catch(() => {})
  const [r] = await inst.done
  return r!
}

const seen = (r: RankOutcome): Seen => {
  if (r.error !== undefined) throw new Error(`rank failed: ${r.error.code} ${r.error.message}`)
  return r.result as Seen
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

t.test('the same owner\'s next job runs in the same process, with the work dir wiped', async (t) => {
  const rt = node(t)
  const a1 = seen(await runOne(rt, 'alice'))
  const a2 = seen(await runOne(rt, 'alice'))
  t.equal(a2.pid, a1.pid, 'one pid served both of alice\'s jobs')
  t.equal(a2.cwd, a1.cwd, 'same private dir (its write permission was fixed at spawn)')
  t.equal(a2.leftFile, false, 'the file the first job wrote is gone')
  t.same(a2.files, [], 'nothing but the program is in the work dir')
  // same owner: process-level state may persist (documented); env comes from the first job only
  t.equal(a2.envMark, 'alice')
  t.ok(alive(a1.pid), 'the process stays up, parked for alice')
})

t.test('another owner never gets that process, and sees nothing of the first owner', async (t) => {
  const rt = node(t)
  const a = seen(await runOne(rt, 'alice'))
  const b = seen(await runOne(rt, 'bob'))
  t.not(b.pid, a.pid, 'bob runs in a different process')
  t.not(b.cwd, a.cwd, 'and a different work dir')
  t.equal(b.leftFile, false, 'alice\'s file is not visible')
  t.same(b.files, [])
  t.equal(b.envMark, null, 'alice\'s env change is not visible')
  t.equal(b.globalMark, null, 'alice\'s globals are not visible')
  // alice's parked process is still hers
  const a2 = seen(await runOne(rt, 'alice'))
  t.equal(a2.pid, a.pid, 'alice gets her process back after bob ran')
  const b2 = seen(await runOne(rt, 'bob'))
  t.equal(b2.pid, b.pid, 'and bob his')
  t.equal(b2.envMark, 'bob')
  t.equal(b2.globalMark, 'bob', 'a reused process keeps its owner\'s own globals')
})

t.test('a rank that failed, was killed or exceeded a limit is never reused', async (t) => {
  const rt = node(t)
  const failed = await runOne(rt, 'carol', { fail: true })
  t.equal(failed.error?.code, 'E_PROGRAM', 'the failing job failed, as the program\'s own error')
  const after = seen(await runOne(rt, 'carol'))
  t.ok(after.pid > 0)

  // a wall-time kill of a process that had already served carol
  const first = seen(await runOne(rt, 'carol'))
  t.equal(first.pid, after.pid, 'reused while it succeeds')
  const slow = await runOne(rt, 'carol', { sleepMs: 5000 }, 1)
  t.equal(slow.reason, 'wall-time', 'limits still hold on a reused process')
  t.equal(slow.error?.code, 'E_SANDBOX')
  const next = seen(await runOne(rt, 'carol'))
  t.not(next.pid, first.pid, 'the killed process is not handed out again')
  t.notOk(alive(first.pid), 'and it is gone')
})

t.test('a terminated rank is never reused', async (t) => {
  const rt = node(t)
  const a = seen(await runOne(rt, 'dave'))
  const jobId = `reuse-term-${process.pid}`
  const inst = await rt.instantiate({
    jobId, owner: 'dave', program: { source: PROBE, language: 'js', path: 'probe.js' },
    graph: expandTopology({ shape: 'line', size: 1 } as never), placement: ['A'], self: 'A',
    params: { owner: 'dave', sleepMs: 20_000 }, resources: { memoryMB: 256, wallTimeSec: 60 },
    queue: { type: 'fifo', capacity: 4, encoding: 'json' }
  }, memoryNetwork(['A']).link('A'))
  await inst.start()
  t.same(Object.values(inst.pids()), [a.pid], 'the long job got dave\'s parked process')
  await inst.terminate('test')
  const [r] = await inst.done
  t.equal(r!.error?.code, 'E_ABORTED')
  const b = seen(await runOne(rt, 'dave'))
  t.not(b.pid, a.pid, 'a new process after the terminated one')
})

t.test('reuseForSameOwner: false gives every rank a process of its own', async (t) => {
  const rt = node(t, { reuseForSameOwner: false })
  const a1 = seen(await runOne(rt, 'erin'))
  const a2 = seen(await runOne(rt, 'erin'))
  t.not(a2.pid, a1.pid)
  // the process exits after its result: wait (bounded) for it
  for (let i = 0; i < 100 && alive(a1.pid); i++) await new Promise((resolve) => setTimeout(resolve, 50))
  t.notOk(alive(a1.pid), 'the first process exited')
})

t.test('a reused process\'s logs: each job keeps its own', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mvm-reuse-logs-'))
  const rt = createRuntime({ dataDir: dir, poolSize: 1 })
  t.teardown(async () => { await rt.stop(); rmSync(dir, { recursive: true, force: true }) })
  const say = `import { job } from '@mvm/job'\nexport default job(async (ctx) => { console.log('hello from ' + ctx.params.tag); return process.pid })`
  const pids: number[] = []
  const ids: string[] = []
  for (let i = 0; i < 2; i++) {
    const jobId = `reuselog${i}-${process.pid}`
    ids.push(jobId)
    const inst = await rt.instantiate({
      jobId, owner: 'fay', program: { source: say, language: 'js', path: 'say.js' },
      graph: expandTopology({ shape: 'line', size: 1 } as never), placement: ['A'], self: 'A',
      params: { tag: jobId }, resources: { memoryMB: 256, wallTimeSec: 60 }, queue: { type: 'fifo', capacity: 4, encoding: 'json' }
    }, memoryNetwork(['A']).link('A'))
    await inst.start()
    const [r] = await inst.done
    pids.push(r!.result as number)
  }
  t.equal(pids[1], pids[0], 'one process')
  const logDir = join(dir, 'logs')
  for (const id of ids) {
    const out = readFileSync(join(logDir, `${id}.r0.out`), 'utf8')
    t.equal(out, `hello from ${id}\n`, `${id} has exactly its own output`)
  }
  // the second job's process is parked just after its result: its files are renamed, copied
  // for the job, then emptied; wait (bounded) until that is over, or the assertion fails
  const parkedFiles = (): string[] => readdirSync(logDir).filter((f) => f.includes('parked'))
  const parkedText = (): string[] => parkedFiles().map((f) => readFileSync(join(logDir, f), 'utf8'))
  for (let i = 0; i < 100 && (parkedFiles().length < 2 || parkedText().some((x) => x !== '')); i++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.same(readdirSync(logDir).filter((f) => f.includes('parked')).map((f) => readFileSync(join(logDir, f), 'utf8')), ['', ''], 'the parked process\'s current files hold nothing of either job')
})

t.test('JavaScript is never given to the TypeScript compiler; its syntax errors fail the rank at load', async (t) => {
  const dir = t.testdir()
  const bad = { source: 'export default async () => {\n  const x = ;\n}\n', language: 'js' as const, path: 'bad.js' }
  // the compiler would reject this (E_VALIDATION, see runtime.test.ts): taken as it is instead
  const out = await compileProgram(bad, { cacheDir: dir, sdkUrl })
  t.equal(out.cached, false)
  t.equal(readFileSync(out.codePath, 'utf8'), bad.source, 'the source, untouched')
  const good = await compileProgram({ source: "import { job } from '@mvm/job'\nexport default job(async () => 1)\n", language: 'js' }, { cacheDir: dir, sdkUrl })
  t.match(readFileSync(good.codePath, 'utf8'), `from '${sdkUrl}'`, 'the SDK import is still rewritten')

  const rt = node(t)
  const inst = await rt.instantiate({
    jobId: `reuse-syntax-${process.pid}`, owner: 'gil', program: bad,
    graph: expandTopology({ shape: 'line', size: 1 } as never), placement: ['A'], self: 'A',
    params: {}, resources: { memoryMB: 256, wallTimeSec: 60 }, queue: { type: 'fifo', capacity: 4, encoding: 'json' }
  }, memoryNetwork(['A']).link('A'))
  await t.rejects(inst.start(), { code: 'E_JOB_FAILED' })
  const [r] = await inst.done
  t.match(r!.error?.message, /Unexpected token|SyntaxError/, 'the rank reports the syntax error')
})

t.test('a parked process says so in its command line; a warm one names the rank host', async (t) => {
  const rt = node(t)
  const a = seen(await runOne(rt, 'hal'))
  let cmd = ''
  for (let i = 0; i < 100; i++) {
    cmd = readFileSync(`/proc/${a.pid}/cmdline`, 'utf8')
    if (cmd.startsWith('mvm parked sandbox')) break
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.match(cmd, /^mvm parked sandbox/)
  t.notMatch(cmd, /rank-host/, 'not counted as a warm rank host')
})
