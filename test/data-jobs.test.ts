// Job inputs and outputs end to end on a real lab (2 peers): local files and folders uploaded by
// the CLI, prefetched and on-demand inputs, outputs fetched by the super-peer and downloaded with
// `mvm result --output`, byte for byte; dedup on a second upload; a workflow passing one step's
// output to the next; refusals at submit and on the peer.
import t from 'tap'
import { cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { ROOT, runCli, startLab, waitJob, type TestLab } from './lib/lab.js'

const execFileP = promisify(execFile)

let lab: TestLab
let url: string
t.before(async () => { lab = await startLab({ peers: 2, slots: 2 }); url = lab.bootstrap })
t.teardown(async () => { await lab?.stop() })

function serialCounts (text: string): Record<string, number> {
  const m: Record<string, number> = {}
  for (const w of text.split(/\s+/)) if (w !== '') m[w] = (m[w] ?? 0) + 1
  return m
}

t.test('wordcount: the input is uploaded, the counts come back as an output file equal to a serial count', async (t) => {
  const dir = t.testdir()
  const r = await runCli(['submit', 'profiles/wordcount.yaml', '--wait', '--json', '--broker', url])
  t.equal(r.code, 0, r.stderr)
  const jobId = (JSON.parse(r.stdout) as { job: { jobId: string } }).job.jobId
  const got = await runCli(['result', jobId, '--output', dir, '--broker', url])
  t.equal(got.code, 0, got.stderr)
  t.match(got.stderr, /1 output file in .*counts\.json/)
  const counts = JSON.parse(await readFile(join(dir, 'counts.json'), 'utf8')) as Record<string, number>
  t.same(counts, serialCounts(await readFile(join(ROOT, 'profiles/data/corpus.txt'), 'utf8')), 'every word counted as a serial count does')
  // the same input again: its chunks are in the broker's store already
  const again = await runCli(['submit', 'profiles/wordcount.yaml', '--wait', '--broker', url])
  t.equal(again.code, 0, again.stderr)
  const ls = JSON.parse((await runCli(['data', 'ls', '--json', '--broker', url])).stdout) as { files: Array<{ name: string, size: number, pins: string[] }> }
  t.ok(ls.files.some((f) => f.size === 3 * 1024 * 1024), 'the corpus is listed once in the store')
})

t.test('a folder input, an on-demand input and every rank\'s output, byte for byte', async (t) => {
  const dir = t.testdir({
    'in': { 'a.bin': Buffer.alloc(70_000, 7), sub: { 'b.txt': 'hello from b\n' } },
    'big.bin': Buffer.concat([Buffer.alloc(2 * 1048576), Buffer.from('the tail of a mostly zero file')])
  })
  await writeFile(join(dir, 'prog.ts'), `import { writeFile } from 'node:fs/promises'
import { job } from '@mvm/job'
export default job(async (ctx) => {
  const names = ctx.files.list().map((f) => f.name + ':' + f.mode).sort()
  const b = await (await ctx.files.open('data/sub/b.txt')).text()
  const big = await ctx.files.open('big.bin')
  const tail = new TextDecoder().decode(await big.read(big.size - 30, 30))
  let failed = 'no error'
  try { await ctx.files.open('nope') } catch (e) { failed = (e as { code?: string }).code ?? 'thrown' }
  await writeFile('out.txt', 'rank ' + ctx.rank + ' ' + b)
  return { names, tail, failed }
})
`)
  await writeFile(join(dir, 'job.yaml'), `apiVersion: mvm/v1
kind: JobProfile
metadata: { name: files }
spec:
  program: prog.ts
  topology: { shape: line, size: 2 }
  inputs:
    - { path: in, as: data }
    - { path: big.bin, mode: onDemand }
  outputs:
    - { path: out.txt, ranks: all }
  resources: { memoryMB: 128, cpu: 0.5, wallTimeSec: 60 }
`)
  const r = await runCli(['submit', join(dir, 'job.yaml'), '--wait', '--json', '--broker', url])
  t.equal(r.code, 0, r.stderr)
  const out = JSON.parse(r.stdout) as { job: { jobId: string }, result: { resultJson: string } }
  const v = JSON.parse(out.result.resultJson) as { names: string[], tail: string, failed: string }
  t.same(v.names, ['big.bin:onDemand', 'data/a.bin:prefetch', 'data/sub/b.txt:prefetch'])
  t.equal(v.tail, 'the tail of a mostly zero file', 'an on-demand range read')
  t.equal(v.failed, 'E_NOT_FOUND')
  const dest = join(dir, 'got')
  const got = await runCli(['result', out.job.jobId, '--output', dest, '--broker', url])
  t.equal(got.code, 0, got.stderr)
  t.equal(await readFile(join(dest, 'rank-0/out.txt'), 'utf8'), 'rank 0 hello from b\n')
  t.equal(await readFile(join(dest, 'rank-1/out.txt'), 'utf8'), 'rank 1 hello from b\n')
  // mvm data put/get: the same bytes back, named by content
  const put = await runCli(['data', 'put', join(dir, 'in/a.bin'), '--broker', url])
  t.equal(put.code, 0, put.stderr)
  const id = put.stdout.trim()
  t.match(id, /^[0-9a-f]{64}$/)
  const back = join(dir, 'a-back.bin')
  const get = await runCli(['data', 'get', id.slice(0, 12), back, '--broker', url])
  t.equal(get.code, 0, get.stderr)
  t.equal(createHash('sha256').update(await readFile(back)).digest('hex'), createHash('sha256').update(Buffer.alloc(70_000, 7)).digest('hex'))
})

t.test('refused: a missing input at submit (file, line, field), an input outside the allowed folders, a rank making an output symlink', async (t) => {
  const dir = t.testdir()
  await writeFile(join(dir, 'prog.ts'), `import { symlink } from 'node:fs/promises'
import { job } from '@mvm/job'
export default job(async (ctx) => { if (ctx.params.link === true) await symlink('/etc/hostname', 'out.txt'); return 1 })
`)
  const profile = (inputs: string, extra = ''): string => `apiVersion: mvm/v1
kind: JobProfile
metadata: { name: bad }
spec:
  program: prog.ts
  topology: { shape: line, size: 1 }
  ${inputs}
  ${extra}
  resources: { memoryMB: 128, cpu: 0.5, wallTimeSec: 60 }
`
  await writeFile(join(dir, 'missing.yaml'), profile('inputs: [nothere.csv]'))
  const a = await runCli(['submit', join(dir, 'missing.yaml'), '--broker', url])
  t.not(a.code, 0)
  t.match(a.stderr, /missing\.yaml:\d+:\d+: spec\.inputs\.0: input file not found: nothere\.csv/)
  await writeFile(join(dir, 'outside.yaml'), profile('inputs: [/etc/hostname]'))
  const b = await runCli(['submit', join(dir, 'outside.yaml'), '--broker', url])
  t.not(b.code, 0)
  t.match(b.stderr, /outside the folders inputs may come from/)
  await mkdir(join(dir, 'f'))
  await symlink('/etc', join(dir, 'f', 'escape'))
  await writeFile(join(dir, 'folder.yaml'), profile('inputs: [f]'))
  const c = await runCli(['submit', join(dir, 'folder.yaml'), '--broker', url])
  t.not(c.code, 0)
  t.match(c.stderr, /symlink that leaves the folder/)
  await writeFile(join(dir, 'link.yaml'), profile('outputs: [out.txt]', 'params: { link: true }'))
  const d = await runCli(['submit', join(dir, 'link.yaml'), '--wait', '--broker', url])
  t.equal(d.code, 2, 'the job fails')
  // the sandbox already forbids making a symlink; the peer would refuse one leaving the work dir
  t.match(d.stdout + d.stderr, /symlink/)
})

t.test('a workflow step takes an earlier step\'s output as its input', async (t) => {
  const dir = t.testdir()
  await writeFile(join(dir, 'top.ts'), `import { job } from '@mvm/job'
export default job(async (ctx) => {
  const counts = JSON.parse(await (await ctx.files.open('counts.json')).text()) as Record<string, number>
  return Object.entries(counts)[0]
})
`)
  await writeFile(join(dir, 'top.yaml'), `apiVersion: mvm/v1
kind: JobProfile
metadata: { name: top }
spec:
  program: top.ts
  topology: { shape: line, size: 1 }
  resources: { memoryMB: 128, cpu: 0.5, wallTimeSec: 60 }
`)
  await writeFile(join(dir, 'flow.yaml'), `apiVersion: mvm/v1
kind: Workflow
metadata: { name: counted }
spec:
  steps:
    - { name: count, profile: ${join(ROOT, 'profiles/wordcount.yaml')} }
    - name: top
      profile: top.yaml
      after: [count]
      outputInputs: { counts.json: 'count:counts.json' }
`)
  const r = await runCli(['submit', join(dir, 'flow.yaml'), '--json', '--broker', url])
  t.equal(r.code, 0, r.stderr + r.stdout)
  t.match(r.stdout, /"lab",\s*161274|\[\\?"lab\\?",161274\]/, 'the second step read the first one\'s counts')
})

interface NodeJson { peerId: string, roles: string[], data?: { storedBytes: number, maxBytes: number } & Record<string, number> }

async function nodesJson (): Promise<NodeJson[]> {
  const r = await runCli(['nodes', '--json', '--broker', url])
  if (r.code !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout) as NodeJson[]
}

/** `mvm nodes --json` until every peer's counters satisfy `ok` (heartbeats are 300 ms apart here), at most 15 s. */
async function nodesUntil (ok: (peers: NodeJson[]) => boolean): Promise<NodeJson[]> {
  const end = Date.now() + 15_000
  for (;;) {
    const nodes = await nodesJson()
    if (ok(nodes.filter((n) => !n.roles.includes('super-peer'))) || Date.now() > end) return nodes
    await new Promise((resolve) => setTimeout(resolve, 300))
  }
}

t.test('transfer counters in mvm nodes --json: a zero-heavy, repetitive input moves its distinct non-zero chunks only', async (t) => {
  const MiB = 1048576
  const unique = randomBytes(MiB)
  // 8 chunks: two equal ones, one random, five all-zero: 2 MiB worth moving
  const bytes = Buffer.concat([Buffer.alloc(MiB, 0x5c), Buffer.alloc(MiB), Buffer.alloc(MiB, 0x5c), Buffer.alloc(4 * MiB), unique])
  const dir = t.testdir({ 'z.bin': bytes })
  await writeFile(join(dir, 'prog.ts'), `import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { job } from '@mvm/job'
export default job(async (ctx) => createHash('sha256').update(await readFile(ctx.files.path('z.bin'))).digest('hex'))
`)
  await writeFile(join(dir, 'job.yaml'), `apiVersion: mvm/v1
kind: JobProfile
metadata: { name: zeros }
spec:
  program: prog.ts
  topology: { shape: line, size: 2 }
  inputs: [z.bin]
  placement: { strategy: spread }
  resources: { memoryMB: 128, cpu: 0.5, wallTimeSec: 60 }
`)
  const before = await nodesJson()
  t.ok(before.every((n) => n.data !== undefined), 'every node reports data counters')
  const r = await runCli(['submit', join(dir, 'job.yaml'), '--wait', '--json', '--broker', url])
  t.equal(r.code, 0, r.stderr)
  const res = JSON.parse(r.stdout) as { result: { resultJson: string } }
  t.equal(JSON.parse(res.result.resultJson), createHash('sha256').update(bytes).digest('hex'), 'the rank read the input byte for byte')
  const was = new Map(before.map((n) => [n.peerId, n.data!]))
  const delta = (n: NodeJson, k: string): number => (n.data?.[k] ?? 0) - (was.get(n.peerId)?.[k] ?? 0)
  const after = await nodesUntil((peers) => peers.every((p) => delta(p, 'zeroChunks') >= 5))
  const peers = after.filter((n) => !n.roles.includes('super-peer'))
  t.equal(peers.length, 2)
  for (const p of peers) {
    t.equal(delta(p, 'bytesIn'), 2 * MiB, `${p.peerId.slice(-6)} received the 2 distinct non-zero chunks, once`)
    t.equal(delta(p, 'chunksIn'), 2)
    t.ok(delta(p, 'zeroChunks') >= 5, 'five zero chunks skipped')
    t.ok(delta(p, 'dedupChunks') >= 1, 'the repeated chunk skipped')
    t.ok(delta(p, 'hits') >= 1, 'the store was read')
    t.ok(p.data !== undefined && p.data.storedBytes <= p.data.maxBytes, 'the store within its bound')
  }
  const out = after.reduce((a, n) => a + delta(n, 'bytesOut'), 0)
  t.equal(out, 4 * MiB, 'what the peers received is what the nodes sent')
})

t.test('a golden npm environment: built once per group with npm ci (offline, a local tarball), hard-linked into each rank, no install the second time', async (t) => {
  const dir = t.testdir()
  await cp(join(ROOT, 'test/fixtures/env-npm'), join(dir, 'env'), { recursive: true })
  await writeFile(join(dir, 'prog.ts'), `import { stat } from 'node:fs/promises'
import greet from 'mvm-greet'
import { job } from '@mvm/job'
export default job(async (ctx) => {
  const s = await stat('node_modules/mvm-greet/index.js')
  return { msg: greet('rank ' + ctx.rank), links: s.nlink, writable: (s.mode & 0o222) !== 0 }
})
`)
  await writeFile(join(dir, 'job.yaml'), `apiVersion: mvm/v1
kind: JobProfile
metadata: { name: greet }
spec:
  program: prog.ts
  topology: { shape: line, size: 2 }
  environment: { npm: env }
  placement: { strategy: spread }
  resources: { memoryMB: 128, cpu: 0.5, wallTimeSec: 60 }
`)
  const sum = (nodes: NodeJson[], k: string, sp: boolean): number => nodes.filter((n) => n.roles.includes('super-peer') === sp).reduce((a, n) => a + (n.data?.[k] ?? 0), 0)
  const before = await nodesJson()
  const run = async (): Promise<{ msg: string, links: number, writable: boolean }> => {
    const r = await runCli(['submit', join(dir, 'job.yaml'), '--wait', '--json', '--broker', url])
    t.equal(r.code, 0, r.stderr)
    return JSON.parse((JSON.parse(r.stdout) as { result: { resultJson: string } }).result.resultJson) as { msg: string, links: number, writable: boolean }
  }
  const first = await run()
  t.equal(first.msg, 'hello, rank 0, from mvm-greet 1.0.0', 'the rank imported the package the environment installed')
  t.ok(first.links >= 2, `the package file is a hard link (${first.links} links), not a copy`)
  t.equal(first.writable, false, 'and read-only')
  const mid = await nodesUntil((peers) => sum(peers, 'envWritten', false) >= sum(before, 'envWritten', false) + 2)
  t.equal(sum(mid, 'envBuilds', true) - sum(before, 'envBuilds', true), 1, 'the super-peer ran npm ci once')
  t.equal(sum(mid, 'envWritten', false) - sum(before, 'envWritten', false), 2, 'each peer wrote the environment out once')
  const second = await run()
  t.equal(second.msg, 'hello, rank 0, from mvm-greet 1.0.0')
  const after = await nodesUntil((peers) => sum(peers, 'envReused', false) >= sum(mid, 'envReused', false) + 2)
  t.equal(sum(after, 'envBuilds', true), sum(mid, 'envBuilds', true), 'the second job installed nothing')
  t.equal(sum(after, 'envReused', true) - sum(mid, 'envReused', true), 1, 'the super-peer found it by its lockfile hash')
  t.equal(sum(after, 'envWritten', false), sum(mid, 'envWritten', false), 'no peer fetched or wrote it again')
  t.ok(sum(after, 'envReused', false) - sum(mid, 'envReused', false) >= 2, 'each peer linked its copy')

  // an environment without a lockfile fails at submit, naming the field
  await mkdir(join(dir, 'nolock'))
  await writeFile(join(dir, 'nolock/package.json'), '{}')
  await writeFile(join(dir, 'bad.yaml'), (await readFile(join(dir, 'job.yaml'), 'utf8')).replace('npm: env', 'npm: nolock'))
  const bad = await runCli(['submit', join(dir, 'bad.yaml'), '--broker', url])
  t.not(bad.code, 0)
  t.match(bad.stderr, /bad\.yaml:\d+:\d+: spec\.environment\.npm: npm environment nolock has no package-lock\.json/)

  // the same package given as a list: npm install once (keyed by the sorted list), then reused
  const listed = (await readFile(join(dir, 'job.yaml'), 'utf8')).replace('environment: { npm: env }', `environment:
    npm:
      packages: { mvm-greet: "file:env/mvm-greet-1.0.0.tgz" }`)
  await writeFile(join(dir, 'list.yaml'), listed)
  const runList = async (): Promise<string> => {
    const r = await runCli(['submit', join(dir, 'list.yaml'), '--wait', '--json', '--broker', url])
    t.equal(r.code, 0, r.stderr)
    return (JSON.parse((JSON.parse(r.stdout) as { result: { resultJson: string } }).result.resultJson) as { msg: string }).msg
  }
  t.equal(await runList(), 'hello, rank 0, from mvm-greet 1.0.0', 'a rank imports a package of a listed environment')
  const l1 = await nodesJson()
  t.equal(sum(l1, 'envBuilds', true) - sum(after, 'envBuilds', true), 1, 'the super-peer installed the list once')
  t.equal(await runList(), 'hello, rank 0, from mvm-greet 1.0.0')
  const l2 = await nodesJson()
  t.equal(sum(l2, 'envBuilds', true), sum(l1, 'envBuilds', true), 'the same list again installs nothing')
  t.equal(sum(l2, 'envReused', true) - sum(l1, 'envReused', true), 1, 'found by the list\'s hash')
  // bad lists fail at submit naming file, line and field
  await writeFile(join(dir, 'badname.yaml'), listed.replace('mvm-greet: "file:', 'Not_A_Name: "file:'))
  const bn = await runCli(['submit', join(dir, 'badname.yaml'), '--broker', url])
  t.not(bn.code, 0)
  t.match(bn.stderr, /badname\.yaml:\d+:\d+: spec\.environment\.npm\.packages.*not an npm package name/)
  await writeFile(join(dir, 'badfile.yaml'), listed.replace('file:env/mvm-greet-1.0.0.tgz', 'file:env/nope.tgz'))
  const bf = await runCli(['submit', join(dir, 'badfile.yaml'), '--broker', url])
  t.not(bf.code, 0)
  t.match(bf.stderr, /badfile\.yaml:\d+:\d+: spec\.environment\.npm\.packages\.mvm-greet: input file not found: env\/nope\.tgz/)

  // a list not built yet: the jobs are accepted at once and wait, "building environment <key>",
  // while the super-peer builds it once for both; then they run
  const pkg = join(dir, 'greet2', 'package')
  await mkdir(pkg, { recursive: true })
  await writeFile(join(pkg, 'package.json'), '{ "name": "mvm-greet", "version": "2.0.0", "main": "index.js", "license": "MIT" }')
  await writeFile(join(pkg, 'index.js'), "'use strict'\nmodule.exports = function greet (who) { return `hello, ${who}, from mvm-greet 2.0.0` }\n")
  await execFileP('tar', ['czf', join(dir, 'env', 'mvm-greet-2.0.0.tgz'), '-C', join(dir, 'greet2'), 'package'])
  await writeFile(join(dir, 'list2.yaml'), listed.replace('mvm-greet-1.0.0.tgz', 'mvm-greet-2.0.0.tgz'))
  const reasons = new Set<string>()
  let watching = true
  const watcher = (async () => {
    while (watching) {
      for (const j of (await lab.broker.ListJobs({ state: 'queued' })).jobs) if (j.waitReason !== undefined) reasons.add(j.waitReason)
      await new Promise((r) => setTimeout(r, 20))
    }
  })()
  watcher.catch(() => {}) // awaited below; this only keeps an early failure from being unhandled
  const subs = await Promise.all([0, 1].map(async () => await runCli(['submit', join(dir, 'list2.yaml'), '--json', '--broker', url])))
  const ids = subs.map((r) => { t.equal(r.code, 0, r.stderr); return (JSON.parse(r.stdout) as { jobId: string }).jobId })
  const done = await Promise.all(ids.map(async (id) => await waitJob(lab.broker, id)))
  watching = false
  await watcher
  for (const d of done) {
    t.equal(d.info.state, 'succeeded', d.info.reason ?? 'succeeded')
    t.equal((JSON.parse(d.result.resultJson ?? 'null') as { msg: string }).msg, 'hello, rank 0, from mvm-greet 2.0.0', 'the rank imports the package built after submission')
  }
  t.ok([...reasons].some((r) => /^building environment [0-9a-f]{64}$/.test(r)), `a job waited with the build as its reason (seen: ${[...reasons].join('; ') || 'none'})`)
  const l3 = await nodesJson()
  t.equal(sum(l3, 'envBuilds', true) - sum(l2, 'envBuilds', true), 1, 'two jobs submitted together: one build')

  // a build that fails fails its job with npm's message (a tarball that is not one)
  await writeFile(join(dir, 'env', 'broken.tgz'), randomBytes(4096))
  await writeFile(join(dir, 'list3.yaml'), listed.replace('mvm-greet-1.0.0.tgz', 'broken.tgz'))
  const br = await runCli(['submit', join(dir, 'list3.yaml'), '--json', '--broker', url])
  t.equal(br.code, 0, `accepted before it is built: ${br.stderr}`)
  const failed = await waitJob(lab.broker, (JSON.parse(br.stdout) as { jobId: string }).jobId)
  t.equal(failed.info.state, 'failed')
  t.match(failed.info.reason, /^environment [0-9a-f]{64} could not be built: npm install of the environment failed: \S/, 'the reason carries npm\'s error')
  t.equal(sum(await nodesJson(), 'envBuilds', true), sum(l3, 'envBuilds', true), 'a failed build is not counted as built')

  // the super-peer killed while it builds: the restarted broker builds again before the job runs
  await writeFile(join(pkg, 'package.json'), '{ "name": "mvm-greet", "version": "3.0.0", "main": "index.js", "license": "MIT" }')
  await writeFile(join(pkg, 'index.js'), "'use strict'\nmodule.exports = function greet (who) { return `hello, ${who}, from mvm-greet 3.0.0` }\n")
  await execFileP('tar', ['czf', join(dir, 'env', 'mvm-greet-3.0.0.tgz'), '-C', join(dir, 'greet2'), 'package'])
  await writeFile(join(dir, 'list4.yaml'), listed.replace('mvm-greet-1.0.0.tgz', 'mvm-greet-3.0.0.tgz'))
  const k = await runCli(['submit', join(dir, 'list4.yaml'), '--json', '--broker', url])
  t.equal(k.code, 0, k.stderr)
  await lab.restartSuperPeer('SIGKILL')
  const after3 = await waitJob(lab.broker, (JSON.parse(k.stdout) as { jobId: string }).jobId, 90_000)
  t.equal(after3.info.state, 'succeeded', after3.info.reason ?? 'succeeded')
  t.equal((JSON.parse(after3.result.resultJson ?? 'null') as { msg: string }).msg, 'hello, rank 0, from mvm-greet 3.0.0', 'built after the restart, before the job ran')
})
