// A foreign SOAP stack against a real lab: Python zeep, reading only the WSDLs the lab serves,
// calls every operation of Bootstrap, Node and Broker (test/fixtures/interop/zeep_all_ops.py);
// then the lab turns authentication on and zeep signs its calls with a WS-Security
// UsernameToken, to the super-peer's Broker and to a peer's Node service (zeep_secure.py).
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { addUser, createNodeClient, readUsers, writeUsers } from '@mvm/soap'
import { ROOT, startLab, waitFor, type TestLab } from './lib/lab.js'
import { SIDE_OUTPUTS, startDataSide, type DataSide } from './lib/data-side.js'

// Debian's interpreter, where python3-zeep is installed (CI: .ci/run), not whatever python3 is first on PATH
const PYTHON = '/usr/bin/python3'
const SCRIPT = join(ROOT, 'test', 'fixtures', 'interop', 'zeep_all_ops.py')
const SECURE_SCRIPT = join(ROOT, 'test', 'fixtures', 'interop', 'zeep_secure.py')

async function run (file: string, args: string[], ms: number): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await new Promise((resolve) => {
    execFile(file, args, { timeout: ms, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
    })
  })
}

const zeep = existsSync(PYTHON) ? await run(PYTHON, ['-c', 'import zeep; print(zeep.__version__)'], 20_000) : undefined
if (zeep?.code !== 0) {
  t.plan(0, `skipped: ${PYTHON} with zeep is missing (CI installs python3-zeep, see .ci/run): ${zeep?.stderr.trim() ?? 'no interpreter'}`)
} else {
  let lab: TestLab
  let side: DataSide
  t.before(async () => {
    lab = await startLab({ peers: 1, slots: 2 })
    side = await startDataSide(lab)
  })
  t.teardown(async () => { await side?.close(); await lab?.stop() })

  t.test(`zeep ${zeep.stdout.trim()} calls every operation of the three WSDLs`, async (t) => {
    const peer = lab.peers[0]!.ready
    if (!side.servedByLab) t.comment('the lab\'s super-peer does not serve the data operations yet: zeep calls them on brokerDataHandlers over a real store beside it')
    const r = await run(PYTHON, [SCRIPT, new URL(lab.bootstrap).origin, new URL(peer.soapUrl).origin, side.dataBase, side.outputsBase], 90_000)
    t.equal(r.code, 0, `the zeep script ran: ${r.stderr.slice(-3000)}`)
    if (r.code !== 0) return
    const o = JSON.parse(r.stdout) as Record<string, any>

    // Bootstrap
    t.same(o.GetBrokers, ['lab'], 'GetBrokers: the lab\'s super-peer')
    t.same(o.RegisterSuperPeer.accepted, true)
    t.ok(o.RegisterSuperPeer.leaseSec > 0, 'RegisterSuperPeer: a lease')
    t.same(o.GetBrokersInterop, ['12D3KooWZeepInteropNotARealPeer'], 'GetBrokers by group sees the registration')
    t.same(o.GetResources, ['lab'], 'GetResources: nodes of the lab')
    t.equal(o.RegisterSuperPeerFault, 'E_BAD_REQUEST', 'RegisterSuperPeer without group/peerId: fault with code')

    // Node
    t.equal(o.GetStatus.peerId, peer.peerId)
    t.ok(o.GetStatus.roles.includes('peer'))
    t.equal(o.GetStatus.totalSlots, 2)
    t.equal(o.ListProcesses, 0, 'ListProcesses: nothing runs yet')

    // Broker: nodes
    t.ok(o.ListNodes.includes(peer.peerId), 'ListNodes lists the peer')
    t.same(o.GetNode, { peerId: peer.peerId, state: 'up' })
    t.equal(o.GetNodeFault, 'E_NOT_FOUND')

    // Broker: the bundled job, waited for, its result and logs
    t.match(o.SubmitJob.jobId, /\S/)
    t.same(o.SubmitJob.childJobIds, [])
    t.equal(o.WaitJob, 'succeeded', 'WaitJob: the bundled job ran')
    t.same(o.GetJob, { jobId: o.SubmitJob.jobId, state: 'succeeded', owner: 'zeep', size: 2, placement: 2 })
    t.same(o.GetJobResult, { state: 'succeeded', resultJson: '30', ranks: [0, 0] }, '(1 + 2) * k with k = 10 from params')
    t.same(o.GetJobLogs.map((l: { rank: number }) => l.rank), [0, 1])
    for (const l of o.GetJobLogs) t.match(l.stdout, `rank ${l.rank as number} says hi\n`, `GetJobLogs rank ${l.rank as number}`)
    const [cur] = o.GetJobLogsCursor
    t.equal(cur.stdout, Buffer.from(cur.whole).subarray(5).toString(), 'GetJobLogs outOffset: the stream from byte 5 on')
    t.equal(cur.outEnd, cur.wholeEnd, 'outEnd: the end of the stream either way')
    t.same(o.NodeGetLogs.map((l: { rank: number }) => l.rank), [0, 1], 'Node.GetLogs on the peer the ranks ran on')
    t.equal(o.GetJobFault, 'E_NOT_FOUND')
    t.equal(o.SubmitJobEvilPath, 'E_BAD_REQUEST', 'a bundle path with ../ is refused')

    // Node: awaken/terminate a finished job
    t.ok(o.Awaken.ok === true || /^E_/.test(String(o.Awaken.fault)), `Awaken answers or faults with a code: ${JSON.stringify(o.Awaken)}`)
    t.same(o.Terminate, { ok: true, stopped: 0 })

    // Broker: batch, cancel, wait, list
    t.equal(o.SubmitJobs.length, 2)
    t.same(o.CancelJob, o.SubmitJobs)
    t.same(o.WaitJobs, ['cancelled', 'cancelled'])
    for (const id of [o.SubmitJob.jobId, ...o.SubmitJobs]) t.ok(o.ListJobs.includes(id), `ListJobs lists ${id as string}`)
    t.match(o.DependsOnWait, new RegExp(`^waiting on job ${o.SubmitJobs[0] as string} \\((queued|scheduled|running)\\) to succeed`), 'GetJob: waitReason of a job waiting on a dependency')
    t.equal(o.HoldJob, 'held')
    t.equal(o.MigrateRankFault, 'E_INVALID_STATE', 'MigrateRank of a job without coordinated checkpoints: E_INVALID_STATE')
    t.same([o.DrainNodeFault, o.ResumeNodeFault], ['E_NOT_FOUND', 'E_NOT_FOUND'], 'DrainNode and ResumeNode of an unknown node: E_NOT_FOUND')
    t.equal(o.ResizeJobFault, 'E_NOT_MALLEABLE', 'ResizeJob of a job that is not malleable is refused with its code')
    t.equal(o.HoldWait, 'held by zeep', 'a held job says who held it')
    t.equal(o.ReleaseJob, 'queued', 'ReleaseJob releases a user hold')
    t.equal(o.RequeueJobFault, 'E_INVALID_STATE', 'RequeueJob of a queued job is refused')
    t.same(o.DependencyCancelled, ['cancelled', `dependency ${o.SubmitJobs[0] as string} cancelled (afterok)`], 'its afterok dependency was cancelled: so is it')
    t.same(o.ListJobsCancelled.length, 3, 'the batch and the dependent job are cancelled')
    for (const id of o.SubmitJobs) t.ok(o.ListJobsCancelled.includes(id))
    t.equal(o.ListJobsBadState, 'E_BAD_REQUEST')
    t.same(o.RequeueJob, ['queued', 'cancelled'], 'RequeueJob queues a cancelled job again')
    const done = o.ListHistory.find((h: { jobId: string }) => h.jobId === o.SubmitJob.jobId)
    t.same(done, { jobId: o.SubmitJob.jobId, state: 'succeeded', ranks: 2, cpu: true, wall: true }, 'ListHistory: the finished job with its ranks\' accounting')
    t.ok(o.ListHistory.every((h: { state: string }) => ['succeeded', 'failed', 'cancelled'].includes(h.state)), 'ListHistory lists finished jobs only')
    t.equal(o.ListHistoryBadState, 'E_BAD_REQUEST', 'ListHistory with an unknown state: a fault with its code')

    // Broker: data
    t.match(o.PutData, { id: /^[0-9a-f]{64}$/, size: 15240 })
    t.same(o.GetData, { same: true, size: 15240, offset: 0 }, 'GetData: the bytes PutData stored')
    t.same(o.GetDataRange, { same: true, offset: 10200, length: 100 }, 'GetData of a range')
    t.equal(o.GetDataPastEnd, 'E_BAD_REQUEST', 'a range past the end is refused')
    t.equal(o.GetDataFault, 'E_NOT_FOUND', 'an unknown id')
    t.match(o.ListData, { name: 'zeep/input.bin', size: 15240, pins: ['user'], storedBytes: true, maxBytes: true })
    t.ok(o.ListData?.hits >= 2, 'ListData counts the reads as hits')
    t.equal(o.SubmitJobInputs, 'cancelled', 'SubmitJob with inputs is accepted')
    t.same(o.RemoveData, [true, false], 'RemoveData removes once')
    t.equal(o.RemoveDataGetFault, 'E_NOT_FOUND', 'a removed file is gone')
    t.equal(o.RemoveDataBadId, 'E_BAD_REQUEST')
    t.same(o.GetJobResultOutputs, SIDE_OUTPUTS, 'GetJobResult outputs, sizes as xs:long')
    t.equal(o.GetJobResultNoOutputs, 0, 'a job without outputs has none')

    // Broker: policy
    t.same(o.ApplyPolicy, { applied: true })
    t.equal(o.GetPolicy, 'spread', 'GetPolicy shows the applied policy')
    t.equal(o.ApplyPolicyFault, 'E_VALIDATION')
  })

  t.test('zeep signs its calls with a UsernameToken once the lab requires authentication', async (t) => {
    const peer = lab.peers[0]!.ready
    const file = join(lab.dir, 'super', 'users.json')
    const users = readUsers(file)
    const key = addUser(users, 'zed', 'zed-password-1')
    const adminKey = addUser(users, 'root', 'root-password-1')
    writeUsers(file, users)
    const policy = 'apiVersion: mvm/v1\nkind: Policy\nmetadata: { name: zeep-secure }\nspec:\n  level: domain\n  security:\n    clientAuthentication: required\n' +
      '    roles: { user: [job.list, job.status, node.list], admin: [\'*\'] }\n    subjects: { zed: [user], root: [admin] }\n'
    // the lab's policy is open: an unsigned caller may still change it (for the last time)
    await lab.broker.ApplyPolicy({ policyYaml: policy, force: true })
    await waitFor(async () => { try { await createNodeClient(peer.soapUrl).GetStatus(); return false } catch (err) { return (err as { code?: string }).code === 'E_UNAUTHENTICATED' } }, 30_000, 'the peer to adopt the policy')
    const r = await run(PYTHON, [SECURE_SCRIPT, lab.bootstrap, new URL(peer.soapUrl).origin, 'zed', key, 'root', adminKey], 60_000)
    t.equal(r.code, 0, `the zeep script ran: ${r.stderr.slice(-3000)}`)
    if (r.code !== 0) return
    const o = JSON.parse(r.stdout) as Record<string, string>
    t.same(o, {
      BrokerListJobs: 'ok',
      BrokerApplyPolicy: 'E_FORBIDDEN',
      BrokerWrongKey: 'E_UNAUTHENTICATED',
      BrokerNoToken: 'E_UNAUTHENTICATED',
      NodeGetStatus: peer.peerId,
      NodeListProcesses: 'ok',
      NodeTerminate: 'E_FORBIDDEN',
      NodeWrongKey: 'E_UNAUTHENTICATED',
      NodeNoToken: 'E_UNAUTHENTICATED',
      NodeAdminTerminate: 'ok'
    }, 'right credentials work, a user cannot administer, wrong and missing ones are refused: at the broker and at the peer')
  })
}
