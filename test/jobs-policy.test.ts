import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { MVM_BIN, profileRequest } from '@mvm/cli'
import type { BrokerClient } from '@mvm/soap'
import { ROOT, startLab, submit, waitFor, waitJob, type TestLab } from './lib/lab.js'

const run = promisify(execFile)
const PRIMES = join(ROOT, 'profiles', 'primes.yaml')
// two ranks on peers of two slots each: pack puts both on one peer, spread one on each
const SMALL = { processes: '2', n: '1000' }

const policy = (level: string, body: string): string =>
  `apiVersion: mvm/v1\nkind: Policy\nmetadata:\n  name: test-${level}\nspec:\n  level: ${level}\n${body}`

interface Policy { version: number, spec: { scheduling: { strategy: string } }, layers: Array<{ origin: string }> }
async function getPolicy (b: BrokerClient): Promise<Policy> {
  return JSON.parse((await b.GetPolicy({ timeoutMs: 10_000 })).policyJson) as Policy
}

/** Every peer back to all slots free, so the next placement sees an idle group. */
async function idle (lab: TestLab): Promise<void> {
  await waitFor(async () => (await lab.broker.ListNodes({})).nodes.filter((n) => n.roles.includes('peer')).every((n) => n.freeSlots === n.totalSlots), 20_000, 'peers to be idle')
}

async function runSmall (t: Test, lab: TestLab, owner = 'test'): Promise<Set<string>> {
  await idle(lab)
  const { jobId } = await submit(lab.broker, PRIMES, SMALL, owner)
  const { info, result } = await waitJob(lab.broker, jobId)
  t.equal(info.state, 'succeeded', `job ${jobId} succeeded${info.reason !== undefined ? ` (${info.reason})` : ''}`)
  t.equal(result.resultJson, '168', 'the primes below 1000')
  return new Set(info.placement.map((p) => p.peerId))
}

/**
 * The warm sandbox processes a peer keeps: its children running the rank host. A peer loads its
 * runtime (and starts that pool, of the policy's `sandbox.poolSize`) with its first job.
 */
async function warmSandboxes (pid: number): Promise<number> {
  let n = 0
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue
    try {
      const stat = await readFile(`/proc/${e}/stat`, 'utf8')
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so split after the last ')'
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid !== pid) continue
      if ((await readFile(`/proc/${e}/cmdline`, 'utf8')).includes('rank-host')) n++
    } catch { /* the process ended meanwhile */ }
  }
  return n
}

/** Polls the peer's warm pool until it holds `want` (bounded); returns the last count seen. */
async function poolOf (pid: number, want: number, ms = 15_000): Promise<number> {
  let last = -1
  try { await waitFor(async () => (last = await warmSandboxes(pid)) === want, ms, `a warm pool of ${want}`) } catch { /* reported by the caller's assertion */ }
  return last
}

/** A 2-rank job that may run only on `peerId` (placement.nodes); its ranks do not talk to each other. */
async function pinnedProfile (dir: string, peerId: string): Promise<string> {
  await writeFile(join(dir, 'pinned.ts'), "import { job } from '@mvm/job'\nexport default job(async (ctx) => ctx.rank === 0 ? 'pinned' : undefined)\n")
  const file = join(dir, 'pinned.yaml')
  await writeFile(file, [
    'apiVersion: mvm/v1', 'kind: JobProfile', 'metadata:', '  name: pinned', 'spec:', '  program: pinned.ts',
    '  topology: { shape: ring, size: 2 }', '  processes: 2', `  placement: { nodes: [${peerId}] }`, ''
  ].join('\n'))
  return file
}

/** Collects a node's stderr (its logs) so the test can see what it decided. */
function logsOf (p: { child: { stderr: NodeJS.ReadableStream | null } }): () => string {
  let text = ''
  p.child.stderr?.on('data', (c: Buffer) => { text += c.toString() })
  return () => text
}

t.test('policies at run time: strategy switch mid-run, file watch, validation, authorization', async (t) => {
  const dir = t.testdir()
  const file = join(dir, 'domain.yaml')
  await writeFile(file, policy('domain', '  scheduling:\n    strategy: spread\n'))
  const lab = await startLab({ peers: 2, slots: 2, superArgs: ['--policy', file] })
  t.teardown(async () => { await lab.stop() })
  const superLog = logsOf(lab.superPeer)
  const broker = lab.broker

  t.equal((await getPolicy(broker)).spec.scheduling.strategy, 'spread', 'the broker starts with the file\'s strategy')
  t.equal((await runSmall(t, lab)).size, 2, 'spread: one rank on each peer')
  // a peer that has not run a job yet when the policy changes: its runtime is still to be loaded
  const fresh = await lab.addPeer()
  await waitFor(async () => (await broker.ListNodes({})).nodes.some((n) => n.peerId === fresh.ready.peerId && n.state === 'up'), 30_000, 'the third peer to join')

  // the domain's sandbox section travels to the peers with the policy update (not the default 2)
  const applied = await broker.ApplyPolicy({ policyYaml: policy('domain', '  scheduling:\n    strategy: pack\n  sandbox:\n    poolSize: 3\n') })
  t.ok(applied.applied)
  t.same(applied.warnings, [])
  const now = await getPolicy(broker)
  t.equal(now.spec.scheduling.strategy, 'pack')
  t.same(now.layers.map((l) => l.origin), ['ApplyPolicy'], 'the applied policy replaced the domain level')
  t.equal((await runSmall(t, lab)).size, 1, 'pack, switched without a restart: both ranks on one peer')
  // the peers' side of the update, by its effect: the peer that was up for the update but had run
  // no job loads its runtime with the pushed pool size. The job is pinned to that peer (no queue
  // traffic to other peers: a peer loading its first runtime is not yet listening for queue streams)
  const pinned = await pinnedProfile(dir, fresh.ready.peerId)
  await idle(lab)
  const { jobId: pinnedId } = await submit(broker, pinned)
  const ran = await waitJob(broker, pinnedId)
  t.equal(ran.info.state, 'succeeded', `the pinned job succeeded${ran.info.reason !== undefined ? ` (${ran.info.reason})` : ''}`)
  t.same([...new Set(ran.info.placement.map((p) => p.peerId))], [fresh.ready.peerId], 'it ran on the peer that joined before the update')
  t.equal(await poolOf(fresh.child.pid!, 3), 3, 'that peer keeps a warm pool of 3 (the pushed sandbox.poolSize), not the default 2')
  t.equal(await poolOf(lab.peers[0]!.child.pid!, 2), 2, 'a peer whose runtime was loaded before the update keeps the pool it started with (2)')

  // an edit on disk is the newest word at the domain level again
  await writeFile(file, policy('domain', '  scheduling:\n    strategy: spread\n  faultTolerance:\n    maxRestarts: 5\n'))
  await waitFor(async () => (await getPolicy(broker)).spec.scheduling.strategy === 'spread', 15_000, 'the edited file to be applied')
  t.same((await getPolicy(broker)).layers.map((l) => l.origin), [file])
  t.equal((await runSmall(t, lab)).size, 2, 'spread again after the file edit')

  // a bad edit is logged with file:line:col and changes nothing
  await writeFile(file, policy('domain', '  scheduling:\n    strategy: spread\n  faultTolerance:\n    maxRestarts: -2\n'))
  await waitFor(() => superLog().includes(`${file}:10:`), 15_000, 'the rejected edit to be logged with its line')
  t.match(superLog(), /policy file change rejected, the current policy stays/)
  await writeFile(file, policy('domain', '  scheduling:\n    strategy: no-such-strategy\n'))
  await waitFor(() => superLog().includes(`${file}:8:`), 15_000, 'the unknown strategy to be logged with its line')
  t.equal((await getPolicy(broker)).spec.scheduling.strategy, 'spread', 'the old policy stays after bad edits')

  // ApplyPolicy validation: errors name the line; wrong kinds are bad requests
  const invalid = await broker.ApplyPolicy({ policyYaml: policy('node', '  faultTolerance:\n    recovery: sometimes\n') }).then(() => undefined, (err: unknown) => err)
  t.match(invalid, { code: 'E_VALIDATION', data: [{ file: 'ApplyPolicy', line: 8, path: 'spec.faultTolerance.recovery' }] }, 'E_VALIDATION names line 8')
  await t.rejects(broker.ApplyPolicy({ policyYaml: policy('node', '  scheduling:\n    strategy: nope\n') }), { code: 'E_VALIDATION', message: /ApplyPolicy:8:\d+: scheduling\.strategy: unknown scheduling strategy "nope"/ })
  await t.rejects(broker.ApplyPolicy({ policyYaml: 'apiVersion: mvm/v1\nkind: Topology\nmetadata: { name: r }\nspec: { shape: ring, size: 2 }\n' }), { code: 'E_BAD_REQUEST' })
  await t.rejects(broker.ApplyPolicy({ policyYaml: policy('node', '  extends: ../../etc/x.yaml\n') }), { code: 'E_BAD_REQUEST' })
  t.equal((await getPolicy(broker)).spec.scheduling.strategy, 'spread', 'refused policies changed nothing')

  // authorization: once subjects are defined, only they may act, within their roles
  const secure = await broker.ApplyPolicy({
    policyYaml: policy('inter-domain', [
      '  security:',
      '    roles:',
      '      user: [job.submit, job.status, job.result, job.cancel.own]',
      '      guest: [job.status]',
      '      ops: [job.status, job.list, job.result, policy.read, policy.apply]',
      '    subjects:',
      '      alice: [user]',
      '      bob: [guest]',
      '      anonymous: [ops]',
      ''
    ].join('\n')),
    // the caller (anonymous) gives up its own job.submit here: refused without force
    force: true
  })
  t.ok(secure.applied)
  await t.rejects(submit(broker, PRIMES, SMALL, 'mallory'), { code: 'E_FORBIDDEN', message: /subject "mallory" is not defined/ })
  await t.rejects(submit(broker, PRIMES, SMALL, 'bob'), { code: 'E_FORBIDDEN', message: /lacks permission job\.submit/ })
  const asOwner = async (owner: string): Promise<Awaited<ReturnType<typeof profileRequest>>['request']> => (await profileRequest(PRIMES, { params: SMALL, owner })).request
  const listed = (await broker.ListJobs({ limit: 10_000 })).jobs.length
  await t.rejects(broker.SubmitJobs({ jobs: [await asOwner('alice'), await asOwner('bob')] }), { code: 'E_FORBIDDEN', message: /subject "bob".*job\.submit/ }, 'SubmitJobs checks the owner of every profile')
  t.equal((await broker.ListJobs({ limit: 10_000 })).jobs.length, listed, 'and stores none of a refused batch')
  const { jobId } = await submit(broker, PRIMES, { ...SMALL, n: '200000000' }, 'alice')
  await t.rejects(broker.CancelJob({ jobId }), { code: 'E_FORBIDDEN', message: /job\.cancel\.any/ }, 'another owner\'s job needs job.cancel.any')
  await broker.ApplyPolicy({ policyYaml: policy('node', '  security:\n    roles:\n      ops: [job.status, job.list, job.result, job.cancel.any, policy.read]\n'), force: true })
  t.equal((await broker.CancelJob({ jobId })).jobId, jobId, 'with job.cancel.any the cancel goes through')
  await waitFor(async () => (await broker.GetJob({ jobId })).state === 'cancelled', 20_000, 'the cancel')
  await t.rejects(broker.ApplyPolicy({ policyYaml: policy('node', '') }), { code: 'E_FORBIDDEN', message: /policy\.apply/ }, 'the ops role no longer holds policy.apply')

  // the CLI reads the same policy
  const show = await run(process.execPath, [MVM_BIN, 'policy', 'show', '--broker', lab.bootstrap, '--user', 'anonymous'], { timeout: 20_000 })
  t.match(show.stdout, /scheduling spread/)
  t.match(show.stdout, /alice=user/)
})

t.test('mvm policy apply: warnings for enforced settings, errors point at the local file', async (t) => {
  const dir = t.testdir({
    'top.yaml': policy('inter-domain', '  enforced: [scheduling.strategy]\n  scheduling:\n    strategy: least-loaded\n'),
    'low.yaml': policy('domain', '  scheduling:\n    strategy: pack\n'),
    'bad.yaml': policy('inter-domain', '  enforced: [scheduling.strategy]\n  scheduling:\n    strategy: nope\n')
  })
  const lab = await startLab({ peers: 1, slots: 2, superArgs: ['--policy', join(dir, 'top.yaml')] })
  t.teardown(async () => { await lab.stop() })
  const mvm = async (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> => {
    try {
      const r = await run(process.execPath, [MVM_BIN, ...args], { timeout: 20_000 })
      return { code: 0, ...r }
    } catch (err) {
      const e = err as { code: number, stdout: string, stderr: string }
      return { code: e.code, stdout: e.stdout, stderr: e.stderr }
    }
  }
  const ok = await mvm('policy', 'apply', join(dir, 'low.yaml'), '--bootstrap', lab.bootstrap)
  t.equal(ok.code, 0, 'policy apply exits 0 despite warnings')
  t.match(ok.stderr, new RegExp(`warning: ${join(dir, 'low.yaml').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:8:\\d+: scheduling\\.strategy: ignored: 'scheduling\\.strategy' is enforced`))
  t.match(ok.stdout, /applied test-domain \(domain level\)/)
  t.equal((await getPolicy(lab.broker)).spec.scheduling.strategy, 'least-loaded', 'the enforced setting held')
  const bad = await mvm('policy', 'apply', join(dir, 'bad.yaml'), '--bootstrap', lab.bootstrap)
  t.equal(bad.code, 1)
  t.match(bad.stderr, new RegExp(`bad\\.yaml:9:\\d+: scheduling\\.strategy: unknown scheduling strategy "nope"`))
  const json = await mvm('policy', 'show', '--json', '--broker', lab.bootstrap)
  t.equal((JSON.parse(json.stdout) as Policy).spec.scheduling.strategy, 'least-loaded')
})
