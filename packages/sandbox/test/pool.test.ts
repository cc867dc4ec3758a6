import t, { type Test } from 'tap'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createSandboxPool, processDriver, type SandboxPool } from '@mvm/sandbox'
import { alive, ask, worker, within } from './fixtures.js'

function makePool (t: Test, size: number, memoryMB?: number): { pool: SandboxPool, dir: string } {
  const dir = t.testdir()
  const pool = createSandboxPool({
    driver: processDriver(), entry: worker, size, baseDir: join(dir, 'sbx'), logDir: join(dir, 'logs'),
    ...(memoryMB === undefined ? {} : { limits: { memoryMB } })
  })
  t.teardown(async () => { await pool.stop() })
  return { pool, dir }
}

t.test('warm acquire hands out a process that was already running, then refills', async (t) => {
  const { pool, dir } = makePool(t, 2, 128)
  await within(pool.ready(), 20_000, 'pool ready')
  t.match(pool.stats(), { idle: 2, active: 0 })
  const sb = await pool.acquire({ id: 'job1-r0', limits: { memoryMB: 128, wallTimeSec: 30 } })
  t.ok(alive(sb.pid), 'pid existed at acquire time')
  t.equal(sb.id, 'job1-r0')
  t.match(sb.workDir, /\/sbx\/sbx-[0-9a-f]{16}$/, 'fresh private workDir')
  t.equal(pool.stats().warmHits, 1)
  // the caller writes the job files, then starts the rank with the first message
  const r = await ask(sb, { cmd: 'log', text: 'warm' })
  t.same(r, { logged: true })
  t.equal(readFileSync(join(dir, 'logs', 'job1-r0.out'), 'utf8'), 'out:warm\n', 'logs renamed to the job id')
  await within(pool.ready(), 20_000, 'pool refilled')
  t.equal(pool.stats().idle, 2, 'refilled to size')
  const info = await sb.kill('killed', { graceMs: 0 })
  t.equal(info.reason, 'killed')
  t.notOk(alive(sb.pid))
})

t.test('a different memory class or per-job env spawns cold', async (t) => {
  const { pool } = makePool(t, 1, 128)
  await within(pool.ready(), 20_000, 'pool ready')
  const a = await pool.acquire({ id: 'cold-mem', limits: { memoryMB: 256 } })
  const b = await pool.acquire({ id: 'cold-env', limits: { memoryMB: 128 }, env: { MVM_RANK: '1' } })
  t.match(pool.stats(), { warmHits: 0, coldStarts: 2, idle: 1, active: 2 })
  t.equal((await ask(b, { cmd: 'env' })).env.MVM_RANK, '1')
  t.same((await ask(a, { cmd: 'echo', data: 1 })).echo, 1)
})

t.test('size 0 is always cold', async (t) => {
  const { pool } = makePool(t, 0)
  await within(pool.ready(), 5_000, 'ready')
  const sb = await pool.acquire({ id: 'c0', limits: {} })
  t.match(pool.stats(), { idle: 0, coldStarts: 1 })
  t.same((await ask(sb, { cmd: 'echo', data: 'x' })).echo, 'x')
})

t.test('limits given at acquire apply to a warm process', async (t) => {
  const { pool } = makePool(t, 1)
  await within(pool.ready(), 20_000, 'pool ready')
  const sb = await pool.acquire({ id: 'wt', limits: { wallTimeSec: 1 } })
  t.equal(pool.stats().warmHits, 1)
  await ask(sb, { cmd: 'sleep' })
  const info = await within(sb.exited, 15_000, 'wall-time kill')
  t.equal(info.reason, 'wall-time')
})

t.test('stop kills idle and handed-out processes and leaves no child', async (t) => {
  const { pool } = makePool(t, 2, 64)
  await within(pool.ready(), 20_000, 'pool ready')
  const sb = await pool.acquire({ id: 'held', limits: { memoryMB: 64 } })
  await within(pool.ready(), 20_000, 'refill')
  const idleDirs = readdirSync(join(sb.workDir, '..'))
  t.equal(idleDirs.length, 3, 'one held + two idle workDirs')
  const pids = [sb.pid, ...childPids()]
  t.ok(pids.length >= 3, 'held and idle processes are children of this process')
  await within(pool.stop(), 20_000, 'stop')
  for (const pid of pids) t.notOk(alive(pid), `pid ${pid} is gone`)
  t.same(childPids(), [], 'no child process remains')
  t.ok(existsSync(sb.workDir), 'the used workDir is left to the caller')
  await t.rejects(pool.acquire({ id: 'late', limits: {} }), { code: 'E_INVALID_STATE' })
})

function childPids (): number[] {
  try {
    return readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number)
  } catch { return [] }
}

t.test('release parks a process for its owner only; reuse off, or a dead process, is killed', async (t) => {
  const dir = t.testdir()
  const pool = createSandboxPool({ driver: processDriver(), entry: worker, size: 1, baseDir: join(dir, 'sbx'), logDir: join(dir, 'logs'), limits: { memoryMB: 128 }, reuseMax: 1 })
  t.teardown(async () => { await pool.stop() })
  await within(pool.ready(), 20_000, 'pool ready')
  const a = await pool.acquire({ id: 'a1', owner: 'alice', limits: { memoryMB: 128 } })
  t.equal(await pool.release(a, 'alice'), true, 'parked')
  t.match(pool.stats(), { parked: 1 })
  await within(pool.ready(), 20_000, 'refill')
  const b = await pool.acquire({ id: 'b1', owner: 'bob', limits: { memoryMB: 128 } })
  t.not(b.pid, a.pid, 'another owner never gets it')
  const a2 = await pool.acquire({ id: 'a2', owner: 'alice', limits: { memoryMB: 128 } })
  t.equal(a2.pid, a.pid, 'its owner does')
  t.equal(a2.id, 'a2')
  t.match(pool.stats(), { parked: 0, reuseHits: 1 })
  t.same((await ask(a2, { cmd: 'echo', data: 2 })).echo, 2, 'and it still answers')
  // bob's release evicts alice's parked process beyond reuseMax (1)
  t.equal(await pool.release(a2, 'alice'), true)
  t.equal(await pool.release(b, 'bob'), true)
  t.match(pool.stats(), { parked: 1 })
  await within(a2.exited, 10_000, 'the evicted process to exit')
  t.notOk(alive(a2.pid), 'the oldest parked process was killed')
  // a process that died is not parked
  const c = await pool.acquire({ id: 'c1', owner: 'carol', limits: { memoryMB: 128 } })
  await c.kill('killed', { graceMs: 0 })
  t.equal(await pool.release(c, 'carol'), false, 'a dead process is refused')
  const d = await pool.acquire({ id: 'd1', limits: { memoryMB: 128 } })
  t.equal(await pool.release(d, undefined), false, 'no owner: not kept')
  t.notOk(alive(d.pid))
})
