// Errors in the user's words (issue 16 item 4): a program's own exception is a job failure with
// its message and the program's file:line; ranks are named by a short node id; no server paths;
// job ids as unique prefixes; CLI errors name flags. A real lab, the real CLI, real SOAP.
import t, { type Test } from 'tap'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { runCli, startLab, waitFor, type CliRun, type TestLab } from './lib/lab.js'

const OOPS = join('test', 'fixtures', 'errors', 'oops.yaml')
const LONG_PEER_ID = /12D3Koo\w{40,}/

function userWords (t: Test, text: string, what: string): void {
  t.notMatch(text, /E_INTERNAL/, `${what}: not reported as our bug`)
  t.notMatch(text, LONG_PEER_ID, `${what}: no 52-character peer id`)
  t.notMatch(text, /\/tmp\/|mvm-test-lab-|program-[0-9a-f]{16}\.mjs/, `${what}: no server path`)
}

function jobIdOf (r: CliRun): string {
  const id = /submitted (j-\S+)/.exec(r.stderr)?.[1]
  if (id === undefined) throw new Error(`no job id in:\n${r.stderr}`)
  return id
}

// one lab for the file: the named peers join it after the first test's jobs ended
let lab: TestLab
t.before(async () => { lab = await startLab({ peers: 2, slots: 2 }) })
t.teardown(async () => { await lab?.stop() })

t.test('a program that throws, seen through submit --wait, status, result and SOAP', async (t) => {
  const url = lab.bootstrap

  const run = await runCli(['submit', OOPS, '--wait', '--broker', url])
  t.equal(run.code, 2, 'a failed job exits 2')
  const jobId = jobIdOf(run)
  for (const [what, text] of [['submit --wait', run.stderr]] as const) {
    t.match(text, /E_PROGRAM/, `${what}: the program's failure code`)
    t.match(text, /RangeError: widget count out of range in mode throw/, `${what}: the exception's own message`)
    t.match(text, /oops\.ts:17:\d+/, `${what}: the program's file and line (of the .ts, through the source map)`)
    t.match(text, /rank 1 on peer[12] \(12D3…\w{4}\) failed/, `${what}: the rank by number, node name (its data dir's basename) and short id`)
    userWords(t, text, what)
  }

  const info = await lab.broker.GetJob({ jobId })
  t.equal(info.state, 'failed')
  t.match(info.reason, /E_PROGRAM: RangeError: widget count out of range in mode throw \(at (?:[\w/]+\/)?oops\.ts:17:\d+\)/, 'SOAP GetJob: the reason')
  userWords(t, info.reason ?? '', 'GetJob')
  const res = await lab.broker.GetJobResult({ jobId })
  const rank1 = res.ranks.find((r) => r.rank === 1)
  t.match(rank1?.error, /^E_PROGRAM: RangeError: .*oops\.ts:17:/, 'SOAP GetJobResult: the rank\'s error')

  // the random part's start, without "j-", names the job
  const tail = jobId.slice(jobId.lastIndexOf('-') + 1, jobId.lastIndexOf('-') + 7)
  const status = await runCli(['status', tail, '--broker', url])
  t.equal(status.code, 0, status.stderr)
  t.match(status.stdout, new RegExp(`job\\s+${jobId}`), 'status by a prefix of the random part shows the full id')
  t.match(status.stdout, /failed — rank 1 on peer[12] \(12D3…\w{4}\) failed: E_PROGRAM: RangeError/)
  t.match(status.stdout, /placement\s+0→peer[12] \(12D3…\w{4}\) 1→peer[12] \(12D3…\w{4}\)/, 'placement by node name and short id')
  const nodes = await runCli(['nodes', '--broker', url])
  t.equal(nodes.code, 0, nodes.stderr)
  t.match(nodes.stdout, /^NAME\s+PEER\s+GROUP/, 'mvm nodes has a NAME column')
  t.match(nodes.stdout, /\npeer1\s+12D3/, 'peer1 is listed by name')
  t.match(nodes.stdout, /\npeer2\s+12D3/, 'peer2 is listed by name')
  userWords(t, status.stdout, 'status')

  const result = await runCli(['result', jobId.slice(0, -3), '--broker', url])
  t.equal(result.code, 2)
  t.match(result.stderr, new RegExp(`^job ${jobId} failed: rank 1 on .*oops\\.ts:17:\\d+\\)\\n$`), 'result by an id prefix: one sentence, full id, not repeated')
  userWords(t, result.stderr, 'result')

  // a missing file the program opened by its absolute work-dir path: named relative to the job
  const enoent = await runCli(['submit', OOPS, '-p', 'mode=enoent', '--wait', '--broker', url])
  t.equal(enoent.code, 2)
  t.match(enoent.stderr, /E_PROGRAM: ENOENT: no such file or directory, open 'work\/data\/input\.csv' \(at (?:[\w/]+\/)?oops\.ts:\d+:\d+\)/, 'the path is the job\'s, not the server\'s')
  // this job's rank may run in the process parked by the last job's rank 0: its module is loaded,
  // its compiled file wiped with the old work dir, so the map must have been kept from load time
  t.match(enoent.stderr, /oops\.ts:16:\d+\)/, 'the line is mapped to the source, in a reused process too')
  userWords(t, enoent.stderr, 'enoent')
  t.notMatch(enoent.stderr, tmpdir() + '/', 'no temp dir')
  const second = jobIdOf(enoent)

  // both ids start alike (they are time-ordered): the shared start is ambiguous, the error lists both
  let common = 0
  while (common < jobId.length && jobId[common] === second[common]) common++
  t.ok(common >= 3, `ids share a prefix (${jobId}, ${second})`)
  const ambiguous = await runCli(['status', jobId.slice(0, common), '--broker', url])
  t.not(ambiguous.code, 0)
  t.match(ambiguous.stderr, /is ambiguous/)
  t.match(ambiguous.stderr, jobId, 'lists the first candidate')
  t.match(ambiguous.stderr, second, 'and the second')
  const none = await runCli(['status', 'j-zzzzzzzz', '--broker', url])
  t.not(none.code, 0)
  t.match(none.stderr, /E_NOT_FOUND: no job "j-zzzzzzzz"/)

  const cancel = await runCli(['cancel', tail, '--broker', url])
  t.equal(cancel.code, 1, 'a finished job has nothing to cancel')
  t.match(cancel.stderr, new RegExp(`job ${jobId} already failed`), 'the prefix resolved; the message names the full id')

  const logs = await runCli(['logs', tail, '--rank', '9', '--broker', url])
  t.not(logs.code, 0)
  t.match(logs.stderr, /has ranks 0\.\.1; there is no rank 9/)
  t.notMatch(logs.stderr, /Broker\.GetJobLogs/, 'no SOAP operation names at the shell')
})

t.test('--name names a node; metadata.name in a NodeConfig does too; --name wins', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mvm-test-names-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const config = join(dir, 'node.yaml')
  await writeFile(config, 'apiVersion: mvm/v1\nkind: NodeConfig\nmetadata:\n  name: from-config\nspec:\n  roles: [peer]\n  group: lab\n')
  const named = await lab.addPeer(['--name', 'cruncher'])
  const fromConfig = await lab.addPeer(['--config', config])
  const overridden = await lab.addPeer(['--config', config, '--name', 'flag-wins'])
  const want = new Map([[named.ready.peerId, 'cruncher'], [fromConfig.ready.peerId, 'from-config'], [overridden.ready.peerId, 'flag-wins']])
  let seen = new Map<string, string | undefined>()
  await waitFor(async () => {
    seen = new Map((await lab.broker.ListNodes({})).nodes.map((n) => [n.peerId, n.labels.name]))
    return [...want.keys()].every((id) => seen.has(id))
  }, 30_000, 'the three peers to join')
  for (const [id, name] of want) t.equal(seen.get(id), name, `${name}: the broker sees the name label`)
})

t.test('CLI errors name flags, not SOAP request fields; a bad --timeout submits nothing', async (t) => {
  const url = lab.bootstrap
  const before = (await lab.broker.ListJobs({ limit: 1000 })).jobs.map((j) => j.jobId).sort()
  const cases: Array<[string[], RegExp]> = [
    [['jobs', '--limit', 'abc'], /--limit expects a whole number/],
    [['jobs', '--state', 'bogus'], /--state: "bogus" is not one of queued/],
    [['submit', OOPS, '-p', 'bogus=1'], /--param bogus: unknown parameter; declared: mode/],
    [['submit', 'profiles/primes.yaml', '-p', 'n=abc'], /--param n: "abc": expected an integer/],
    [['submit', OOPS, '--wait', '--timeout', 'soon'], /--timeout expects a whole number/]
  ]
  for (const [args, want] of cases) {
    const r = await runCli([...args, '--broker', url])
    t.not(r.code, 0, args.join(' '))
    t.match(r.stderr, want, args.join(' '))
    t.notMatch(r.stderr, /Broker\.|timeoutMs|params\.|jobId/, `${args.join(' ')}: no request field names`)
  }
  const after = (await lab.broker.ListJobs({ limit: 1000 })).jobs.map((j) => j.jobId).sort()
  t.same(after, before, 'none of these submitted a job')
})
