// No server paths in what clients see (issue 16 item 4): a program's failures on files outside
// its work dir (the node's key, other jobs, a missing module) reach `mvm submit --wait`, SOAP
// GetJob and GetJobResult without the node's data dir or temp dir. A real lab, real ranks.
import t from 'tap'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli, startLab } from './lib/lab.js'

const PATHS = join('test', 'fixtures', 'errors', 'paths.yaml')
const MODES = ['read-key', 'list-jobs', 'write-sibling', 'import']

t.test('failures on files outside the work dir name no server path', async (t) => {
  const lab = await startLab({ peers: 2, slots: 2 })
  t.teardown(async () => { await lab.stop() })
  const serverPaths = (text: string, what: string): void => {
    t.notMatch(text, '/tmp/', `${what}: no /tmp/ path`)
    t.notMatch(text, tmpdir() + '/', `${what}: no temp dir`)
    t.notMatch(text, lab.dir, `${what}: no data dir`)
    t.notMatch(text, /mvm-test-lab-/, `${what}: no lab folder name`)
  }
  for (const mode of MODES) {
    const run = await runCli(['submit', PATHS, '-p', `mode=${mode}`, '--wait', '--broker', lab.bootstrap])
    t.equal(run.code, 2, `${mode}: the job failed`)
    t.match(run.stderr, /rank 1 on peer[12] \(12D3…\w{4}\) failed: E_\w+: /, `${mode}: the failure is reported`)
    t.match(run.stderr, /<data-dir>\/(node\.key|runtime\/)/, `${mode}: the file is named relative to the node's data dir`)
    serverPaths(run.stderr, `${mode} submit --wait`)
    const jobId = /submitted (j-\S+)/.exec(run.stderr)?.[1] ?? ''
    const info = await lab.broker.GetJob({ jobId })
    serverPaths(info.reason ?? '', `${mode} GetJob`)
    const res = await lab.broker.GetJobResult({ jobId })
    serverPaths(res.ranks.map((r) => r.error ?? '').join('\n'), `${mode} GetJobResult`)
  }
})
