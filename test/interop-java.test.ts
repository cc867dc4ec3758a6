// A foreign SOAP stack against a real lab: JAX-WS. wsimport reads the Broker WSDL the lab serves,
// javac compiles test/fixtures/interop/BrokerInterop.java against the generated classes, and the
// client submits a job with a bundle, waits, fetches the result and checks a fault, then uses the
// data operations and reads GetJobResult outputs (test/lib/data-side.ts says where those run).
// Then the lab turns authentication on and SecureInterop.java signs its calls with a
// WS-Security UsernameToken added by a SOAPHandler: right, wrong and missing credentials.
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { addUser, readUsers, writeUsers } from '@mvm/soap'
import { ROOT, startLab, type TestLab } from './lib/lab.js'
import { SIDE_OUTPUTS, startDataSide, type DataSide } from './lib/data-side.js'

const CLIENT = join(ROOT, 'test', 'fixtures', 'interop', 'BrokerInterop.java')
const SECURE_CLIENT = join(ROOT, 'test', 'fixtures', 'interop', 'SecureInterop.java')
// Debian's jaxws package: the runtime jar's manifest names the rest of its class path
const JAXWS_RT = '/usr/share/java/jaxws-rt.jar'
const TOOLS = ['/usr/bin/wsimport', '/usr/bin/javac', '/usr/bin/java', JAXWS_RT]

async function run (file: string, args: string[], ms: number, cwd?: string): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await new Promise((resolve) => {
    execFile(file, args, { timeout: ms, maxBuffer: 16 * 1024 * 1024, ...(cwd !== undefined ? { cwd } : {}) }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
    })
  })
}

const missing = TOOLS.filter((f) => !existsSync(f))
if (missing.length > 0) {
  t.plan(0, `skipped: ${missing.join(', ')} missing (CI installs jaxws and default-jdk-headless, see .ci/run)`)
} else {
  let lab: TestLab
  let side: DataSide
  let dir = ''
  t.before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mvm-interop-java-'))
    // wsimport refuses output directories that do not exist yet
    await mkdir(join(dir, 'src'))
    await mkdir(join(dir, 'classes'))
    lab = await startLab({ peers: 1, slots: 2 })
    side = await startDataSide(lab)
  })
  t.teardown(async () => {
    await side?.close()
    await lab?.stop()
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  t.test('wsimport binds one request and one response class per operation; the client runs a bundled job', async (t) => {
    const endpoint = lab.broker.url
    const gen = await run('/usr/bin/wsimport', ['-quiet', '-Xnocompile', '-keep', '-s', join(dir, 'src'), '-d', join(dir, 'classes'), '-p', 'mvm.broker', `${endpoint}?wsdl`], 60_000)
    t.equal(gen.code, 0, `wsimport ${endpoint}?wsdl: ${gen.stdout}${gen.stderr}`)
    if (gen.code !== 0) return
    const port = await readFile(join(dir, 'src', 'mvm', 'broker', 'BrokerPortType.java'), 'utf8')
    const flat = port.replace(/\s+/g, ' ')
    t.match(flat, /public GetJobResponse getJob\( @WebParam\([^)]*\) GetJobRequest parameters\)/, 'GetJobResponse getJob(GetJobRequest')
    t.notMatch(port, /Holder</, 'no Holder<> arguments anywhere')
    for (const op of ['ListNodes', 'GetNode', 'SubmitJob', 'GetJob', 'ListJobs', 'ReleaseJob', 'HoldJob', 'CheckpointJob', 'ResizeJob', 'RequeueJob', 'ListHistory', 'CancelJob', 'GetJobResult', 'ApplyPolicy', 'GetPolicy', 'GetJobLogs', 'SubmitJobs', 'WaitJob', 'WaitJobs', 'PutData', 'GetData', 'ListData', 'RemoveData', 'Reserve', 'MigrateRank', 'DrainNode', 'ResumeNode']) {
      const m = op[0]!.toLowerCase() + op.slice(1)
      t.match(flat, new RegExp(`public ${op}Response ${m}\\( @WebParam\\([^)]*\\) ${op}Request parameters\\) throws MvmFault_Exception`), `${op}Response ${m}(${op}Request)`)
    }

    const cp = `${join(dir, 'classes')}:${JAXWS_RT}`
    const javac = await run('/usr/bin/javac', ['-nowarn', '-cp', JAXWS_RT, '-d', join(dir, 'classes'), CLIENT, SECURE_CLIENT, ...await javaSources(join(dir, 'src'))], 60_000)
    t.equal(javac.code, 0, `javac: ${javac.stderr.slice(-3000)}`)
    if (javac.code !== 0) return
    if (!side.servedByLab) t.comment('the lab\'s super-peer does not serve the data operations yet: the client calls them on brokerDataHandlers over a real store beside it')
    const java = await run('/usr/bin/java', ['-cp', cp, 'BrokerInterop', endpoint, `${side.dataBase}/mvm/Broker`, `${side.outputsBase}/mvm/Broker`], 90_000)
    t.equal(java.code, 0, `java BrokerInterop: ${java.stderr.slice(-3000)}`)
    if (java.code !== 0) return
    const o = JSON.parse(java.stdout.trim().split('\n').pop() ?? '') as Record<string, any>
    t.equal(o.waitState, 'succeeded', 'WaitJob: the bundled job ran')
    t.same(o.getJob, { jobId: o.jobId, owner: 'java', size: 2 })
    t.equal(o.resultState, 'succeeded')
    t.same(JSON.parse(o.resultJson as string), { total: 21, from: 'java' }, '(1 + 2) * k with k = 7 from params')
    t.equal(o.ranks, 2)
    t.equal(o.faultCode, 'E_NOT_FOUND', 'MvmFault_Exception carries the MVM code')

    const d = o.data as Record<string, any>
    t.match(d, { id: /^[0-9a-f]{64}$/, size: 70000, whole: true, wholeSize: 70000, range: true, rangeOffset: 39990 }, 'PutData, then GetData whole and of a range: the same bytes')
    t.equal(d.pastEnd, 'E_BAD_REQUEST', 'a range past the end is refused')
    t.match(d.listed, { name: 'java/input.bin', size: 70000, pins: 'user' }, 'ListData shows the file, pinned for the user')
    t.ok(d.listed?.hits >= 2, 'its reads counted as hits')
    t.ok(d.maxBytes > 0)
    t.same(d.removed, [true, false], 'RemoveData removes once')
    t.equal(d.gone, 'E_NOT_FOUND')
    t.same(d.outputs, SIDE_OUTPUTS, 'GetJobResult outputs: JobOutput with an xs:long size')
    t.equal(d.resultOutputs, 0, 'a job without outputs has none')
  })

  t.test('a SOAPHandler signs JAX-WS calls with a UsernameToken once the lab requires authentication', async (t) => {
    if (!existsSync(join(dir, 'classes', 'SecureInterop.class'))) { t.fail('SecureInterop was not compiled (see the first test)'); return }
    const file = join(lab.dir, 'super', 'users.json')
    const users = readUsers(file)
    const key = addUser(users, 'jay', 'jay-password-1')
    writeUsers(file, users)
    const policy = 'apiVersion: mvm/v1\nkind: Policy\nmetadata: { name: java-secure }\nspec:\n  level: domain\n  security:\n    clientAuthentication: required\n' +
      '    roles: { user: [job.submit, job.status, job.list, job.cancel.own] }\n    subjects: { jay: [user] }\n'
    // the lab's policy is open: an unsigned caller may still change it (for the last time)
    await lab.broker.ApplyPolicy({ policyYaml: policy, force: true })
    const java = await run('/usr/bin/java', ['-cp', `${join(dir, 'classes')}:${JAXWS_RT}`, 'SecureInterop', lab.broker.url, 'jay', key], 90_000)
    t.equal(java.code, 0, `java SecureInterop: ${java.stderr.slice(-3000)}`)
    if (java.code !== 0) return
    const o = JSON.parse(java.stdout.trim().split('\n').pop() ?? '') as Record<string, string>
    t.same(o, { listJobs: 'ok', owner: 'jay', cancel: 'ok', applyPolicy: 'E_FORBIDDEN', wrongKey: 'E_UNAUTHENTICATED', noToken: 'E_UNAUTHENTICATED' },
      'signed calls work and the job is the signed-in user\'s; a user cannot apply a policy; a wrong key or no token is refused')
  })
}

async function javaSources (root: string): Promise<string[]> {
  const names = await readdir(join(root, 'mvm', 'broker'))
  return names.filter((n) => n.endsWith('.java')).map((n) => join(root, 'mvm', 'broker', n))
}
