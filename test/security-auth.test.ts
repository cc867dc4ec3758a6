// SOAP authentication against a real lab whose policy requires it: WS-Security UsernameToken
// (PasswordDigest, replay window), bearer tokens with expiry, the authenticated subject as job
// owner, roles checked on top, the CLI's credentials, and Python zeep's UsernameToken.
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { MVM_BIN, profileRequest } from '@mvm/cli'
import { addUser, createBootstrapClient, createBrokerClient, createNodeClient, createToken, readUsers, writeUsers, type BrokerClient, type Credentials, wsdlFile } from '@mvm/soap'
import { ROOT, runCli, startLab, waitJob, type TestLab } from './lib/lab.js'

const PRIMES = join(ROOT, 'profiles', 'primes.yaml')
const PW = { alice: 'alice-secret-1', bob: 'bob-secret-22', ops: 'ops-secret-333', carol: 'carol-secret-4', mallory: 'mallory-secret-5' }
const POLICY = `apiVersion: mvm/v1
kind: Policy
metadata:
  name: secure
spec:
  level: domain
  security:
    clientAuthentication: required
    roles:
      user: [job.submit, job.status, job.result, job.list, job.cancel.own, policy.read, node.list]
      viewer: [job.status, job.list, node.list, policy.read]
      operator: ['*']
    subjects:
      alice: [user]
      bob: [user]
      carol: [viewer]
      ops: [operator]
`

let lab: TestLab
let usersFile: string
let alice: BrokerClient, bob: BrokerClient, ops: BrokerClient
let superLog = ''
let envProfile = ''
let netProfile = ''
// the nodes inherit this from the test process: a rank must never see it
const SECRET = 'mvm-test-secret-' + randomBytes(6).toString('hex')
process.env.MVM_TEST_SECRET = SECRET
const NET_PROFILE = [
  'apiVersion: mvm/v1', 'kind: JobProfile', 'metadata:', '  name: net-probe',
  'params:', '  port: { default: 1, type: integer }', 'spec:',
  '  program:', '    language: ts', '    inline: |',
  '      import { job } from \'@mvm/job\'',
  '      import { connect } from \'node:net\'',
  '      export default job(async (ctx) => ctx.rank !== 0 ? undefined : await new Promise((resolve) => {',
  '        const s = connect(Number(ctx.params.port), \'127.0.0.1\', () => { s.destroy(); resolve(\'connected\') })',
  '        s.on(\'error\', (e: NodeJS.ErrnoException) => { resolve(e.code ?? e.message) })',
  '      }))',
  '  topology: { shape: ring, size: 2 }', '  processes: 2', '  params: { port: "${port}" }', ''
].join('\n')
const ENV_PROFILE = [
  'apiVersion: mvm/v1', 'kind: JobProfile', 'metadata:', '  name: env-probe', 'spec:',
  '  program:', '    language: ts', '    inline: |',
  '      import { job } from \'@mvm/job\'',
  '      export default job(async (ctx) => ctx.rank === 0 ? { secret: process.env.MVM_TEST_SECRET ?? null, keys: Object.keys(process.env).sort(), home: process.env.HOME ?? null } : undefined)',
  '  topology: { shape: ring, size: 2 }', '  processes: 2', ''
].join('\n')

t.before(async () => {
  const dir = t.testdir({ 'secure.yaml': POLICY, 'env-probe.yaml': ENV_PROFILE, 'net-probe.yaml': NET_PROFILE })
  netProfile = join(dir, 'net-probe.yaml')
  envProfile = join(dir, 'env-probe.yaml')
  lab = await startLab({
    peers: 1,
    slots: 2,
    superArgs: ['--policy', join(dir, 'secure.yaml')],
    credentials: { user: 'ops', password: PW.ops },
    prepare: (labDir) => {
      const file = join(labDir, 'super', 'users.json')
      const data = readUsers(file)
      for (const [u, p] of Object.entries(PW)) addUser(data, u, p)
      writeUsers(file, data)
    }
  })
  lab.superPeer.child.stderr?.on('data', (d: Buffer) => { superLog = (superLog + d.toString()).slice(-200_000) })
  usersFile = join(lab.dir, 'super', 'users.json')
  alice = createBrokerClient(lab.bootstrap, { credentials: { user: 'alice', password: PW.alice } })
  bob = createBrokerClient(lab.bootstrap, { credentials: { user: 'bob', password: PW.bob } })
  ops = createBrokerClient(lab.bootstrap, { credentials: { user: 'ops', password: PW.ops } })
})
t.teardown(async () => { await lab?.stop() })

async function submitAs (b: BrokerClient, owner: string): Promise<string> {
  const { request } = await profileRequest(PRIMES, { params: { processes: '2', n: '1000' }, owner })
  return (await b.SubmitJob(request)).jobId
}

/** A hand-made envelope, so the test controls the nonce and the Created time. */
function envelope (user: string, secret: string, nonce: Buffer, created: string): string {
  const digest = createHash('sha1').update(nonce).update(created).update(secret).digest('base64')
  return '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>' +
    '<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">' +
    `<wsse:UsernameToken><wsse:Username>${user}</wsse:Username>` +
    `<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">${digest}</wsse:Password>` +
    `<wsse:Nonce>${nonce.toString('base64')}</wsse:Nonce><wsu:Created>${created}</wsu:Created></wsse:UsernameToken></wsse:Security>` +
    '</soap:Header><soap:Body><tns:ListJobsRequest xmlns:tns="urn:mvm:broker:v1"/></soap:Body></soap:Envelope>'
}
async function post (xml: string, headers: Record<string, string> = {}): Promise<{ status: number, code: string | undefined }> {
  const res = await fetch(`${lab.bootstrap}/mvm/Broker`, { method: 'POST', body: xml, headers: { 'content-type': 'text/xml; charset=utf-8', ...headers } })
  const body = await res.text()
  return { status: res.status, code: /<code>([^<]*)<\/code>/.exec(body)?.[1] }
}

t.test('calls without valid credentials are refused; the node keeps serving', async (t) => {
  const anonymous = createBrokerClient(lab.bootstrap)
  await t.rejects(anonymous.ListJobs({}), { code: 'E_UNAUTHENTICATED', message: /requires authentication/ }, 'no credentials')
  await t.rejects(anonymous.SubmitJob((await profileRequest(PRIMES, { owner: 'alice' })).request), { code: 'E_UNAUTHENTICATED' }, 'an unauthenticated submit is refused even naming a real owner')
  const wrong = createBrokerClient(lab.bootstrap, { credentials: { user: 'alice', password: 'not-her-password' } })
  await t.rejects(wrong.ListJobs({}), { code: 'E_UNAUTHENTICATED', message: /unknown user or wrong password/ }, 'wrong password')
  const nobody = createBrokerClient(lab.bootstrap, { credentials: { user: 'mallory', password: 'whatever-it-is' } })
  await t.rejects(nobody.ListJobs({}), { code: 'E_UNAUTHENTICATED', message: /unknown user or wrong password/ }, 'unknown user: the same answer')
  t.ok(Array.isArray((await alice.ListJobs({})).jobs), 'and the node still answers a good caller')
  const wsdl = await (await fetch(`${lab.bootstrap}/mvm/Broker?wsdl`)).text()
  t.match(wsdl, /<sp:UsernameToken[^>]*>\s*<wsp:Policy><sp:HashPassword\/>/, 'the served WSDL declares a UsernameToken with a hashed password')
  t.match(wsdl, /<wsdl:binding[^>]*>\s*<wsp:PolicyReference URI="#MvmUsernameToken"/, 'bound to every operation')
  t.ok((await fetch(`${lab.bootstrap}/mvm/Bootstrap`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><tns:GetBrokersRequest xmlns:tns="urn:mvm:bootstrap:v1"/></soap:Body></soap:Envelope>' })).ok,
    'the Bootstrap service stays open: clients find their broker through it')
})

t.test('PasswordDigest: a nonce is good once, Created must be recent', async (t) => {
  const key = readUsers(usersFile).users.alice!.key
  const nonce = randomBytes(16)
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
  t.equal((await post(envelope('alice', key, nonce, now))).status, 200, 'a fresh digest is accepted')
  t.same(await post(envelope('alice', key, nonce, now)), { status: 500, code: 'E_UNAUTHENTICATED' }, 'the same nonce again: a replay, refused')
  const old = new Date(Date.now() - 10 * 60_000).toISOString()
  t.same(await post(envelope('alice', key, randomBytes(16), old)), { status: 500, code: 'E_UNAUTHENTICATED' }, 'Created ten minutes ago: outside the window')
  t.same(await post(envelope('alice', key.replace(/^./, (c) => c === '0' ? '1' : '0'), randomBytes(16), now)), { status: 500, code: 'E_UNAUTHENTICATED' }, 'a digest of the wrong key')
  t.equal((await post(envelope('alice', key, randomBytes(16), now))).status, 200, 'another nonce is fine')
})

t.test('bearer tokens: accepted until they expire', async (t) => {
  const data = readUsers(usersFile)
  const live = createToken(data, 'bob', 3600)
  const expired = createToken(data, 'bob', 60, Date.now() - 120_000)
  writeUsers(usersFile, data)
  const viaToken = createBrokerClient(lab.bootstrap, { credentials: { token: live.token } })
  t.ok(Array.isArray((await viaToken.ListJobs({})).jobs), 'a live token')
  await t.rejects(createBrokerClient(lab.bootstrap, { credentials: { token: expired.token } }).ListJobs({}), { code: 'E_UNAUTHENTICATED', message: /token expired at/ }, 'an expired token')
  await t.rejects(createBrokerClient(lab.bootstrap, { credentials: { token: live.token.slice(0, -2) + 'xx' } }).ListJobs({}), { code: 'E_UNAUTHENTICATED' }, 'a forged token')
  t.same(await post('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><tns:ListJobsRequest xmlns:tns="urn:mvm:broker:v1"/></soap:Body></soap:Envelope>', { authorization: 'Basic YWxpY2U6eA==' }),
    { status: 500, code: 'E_UNAUTHENTICATED' }, 'an Authorization header that is not Bearer')
})

t.test('the authenticated user owns the job; roles decide the rest', async (t) => {
  const mine = await submitAs(alice, 'alice')
  t.equal((await alice.GetJob({ jobId: mine })).owner, 'alice', 'the owner is the user who signed the call')
  const { request } = await profileRequest(PRIMES, { params: { processes: '2', n: '1000' }, owner: '' })
  const { owner: _drop, ...noOwner } = request
  const unnamed = (await alice.SubmitJob(noOwner)).jobId
  t.equal((await alice.GetJob({ jobId: unnamed })).owner, 'alice', 'a request naming no owner gets the signed-in user')
  await t.rejects(submitAs(alice, 'bob'), { code: 'E_FORBIDDEN', message: /subject "alice".*subject\.assume to act as "bob"/ }, 'alice cannot submit as bob')
  await t.rejects(bob.CancelJob({ jobId: mine }), { code: 'E_FORBIDDEN', message: /subject "bob".*job\.cancel\.any/ }, 'bob cannot cancel alice\'s job')
  await t.rejects(bob.ListJobs({ subject: 'alice' }), { code: 'E_FORBIDDEN', message: /subject\.assume/ }, 'nor claim to be alice')
  await t.rejects(alice.ApplyPolicy({ policyYaml: POLICY }), { code: 'E_FORBIDDEN', message: /policy\.apply/ }, 'policy apply needs the operator role')
  const asOps = await submitAs(ops, 'bob')
  t.equal((await ops.GetJob({ jobId: asOps })).owner, 'bob', 'an operator (subject.assume) may submit for another user')
  t.equal((await ops.CancelJob({ jobId: unnamed })).state, 'cancelled', 'and cancel anyone\'s job')
  const done = await waitJob(alice, mine)
  t.equal(done.info.state, 'succeeded', 'alice\'s job ran under her identity')
  t.equal(done.result.resultJson, '168')
  // tenants apart: bob reads only his own jobs
  await t.rejects(bob.GetJob({ jobId: mine }), { code: 'E_FORBIDDEN', message: /job\.read\.any to read job/ }, 'bob cannot read alice\'s job')
  await t.rejects(bob.GetJobResult({ jobId: mine }), { code: 'E_FORBIDDEN' }, 'nor its result')
  await t.rejects(bob.GetJobLogs({ jobId: mine }), { code: 'E_FORBIDDEN' }, 'nor its logs')
  await t.rejects(bob.WaitJob({ jobId: mine, timeoutMs: 0 }), { code: 'E_FORBIDDEN' }, 'nor wait on it')
  t.notOk((await bob.ListJobs({})).jobs.some((j) => j.owner === 'alice'), 'bob\'s job list holds none of alice\'s')
  t.ok((await bob.ListJobs({})).jobs.some((j) => j.owner === 'bob'), 'but his own')
  t.ok((await alice.GetJobLogs({ jobId: mine })).logs.length > 0, 'alice reads her own logs')
  t.equal((await ops.GetJobResult({ jobId: mine })).resultJson, '168', 'an operator (job.read.any) reads anyone\'s')
  await waitJob(ops, asOps)
})

t.test('the CLI sends credentials from flags, env and the credentials file', async (t) => {
  const dir = t.testdir({ pw: PW.alice + '\n', 'creds.json': JSON.stringify({ user: 'bob', password: PW.bob }) })
  const base = ['--bootstrap', lab.bootstrap]
  const none = await runCli(['jobs', ...base, '--user', 'alice'])
  t.match(none.stderr, /E_UNAUTHENTICATED/, 'no credentials: refused')
  const flags = await runCli(['jobs', ...base, '--user', 'alice', '--password-file', join(dir, 'pw'), '--json'])
  t.equal(flags.code, 0, `--password-file: ${flags.stderr}`)
  t.ok((JSON.parse(flags.stdout) as Array<{ owner: string }>).some((j) => j.owner === 'alice'), 'sees the jobs')
  const tok = await runCli(['token', 'create', '--users-file', usersFile, '--user', 'bob', '--ttl', '10m'])
  t.equal(tok.code, 0, tok.stderr)
  t.match(tok.stdout, /^mvm_[0-9a-f]{16}_\S{43}\n$/, 'token create prints the token')
  const viaEnv = await new Promise<{ code: number | null, stderr: string }>((resolve) => {
    execFile(process.execPath, [MVM_BIN, 'jobs', ...base], { env: { ...process.env, MVM_TOKEN: tok.stdout.trim() } }, (err, _o, stderr) => { resolve({ code: err === null ? 0 : 1, stderr }) })
  })
  t.equal(viaEnv.code, 0, `$MVM_TOKEN: ${viaEnv.stderr}`)
  const viaFile = await new Promise<{ code: number | null, stderr: string }>((resolve) => {
    execFile(process.execPath, [MVM_BIN, 'jobs', ...base], { env: { ...process.env, MVM_CREDENTIALS: join(dir, 'creds.json') } }, (err, _o, stderr) => { resolve({ code: err === null ? 0 : 1, stderr }) })
  })
  t.equal(viaFile.code, 0, `the credentials file: ${viaFile.stderr}`)
  const list = await runCli(['user', 'list', '--users-file', usersFile, '--json'])
  t.same((JSON.parse(list.stdout) as Array<{ name: string }>).map((u) => u.name), ['alice', 'bob', 'carol', 'mallory', 'ops'], 'user list')
  t.notMatch(list.stdout + (await import('node:fs')).readFileSync(usersFile, 'utf8'), PW.alice, 'no password is ever stored or printed')
})

const PYTHON = '/usr/bin/python3'
t.test('Python zeep with UsernameToken (PasswordDigest) and a bearer token', { skip: existsSync(PYTHON) ? false : 'no /usr/bin/python3' }, async (t) => {
  const data = readUsers(usersFile)
  const key = data.users.alice!.key
  const token = createToken(data, 'alice', 600).token
  writeUsers(usersFile, data)
  const r = await new Promise<{ code: number, stdout: string, stderr: string }>((resolve) => {
    execFile(PYTHON, [join(ROOT, 'test', 'fixtures', 'security', 'zeep_username_token.py'), lab.bootstrap, 'alice', key, token], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : 1, stdout, stderr })
    })
  })
  if (/No module named 'zeep'/.test(r.stderr)) { t.comment('skipped: zeep is not installed'); return }
  t.equal(r.code, 0, r.stderr.slice(-2000))
  t.same(JSON.parse(r.stdout), { ListJobs: 'ok', GetPolicy: true, Anonymous: 'E_UNAUTHENTICATED', WrongPassword: 'E_UNAUTHENTICATED', Bearer: 'ok', ClaimOther: 'E_FORBIDDEN' })
})

t.test('refused calls are logged by the super-peer', async (t) => {
  t.match(superLog, /authentication refused[\s\S]{0,400}wrong password digest for \\?"alice/, 'the real reason of a refusal is in the node\'s log')
  t.match(superLog, /replayed nonce/, 'a replay too')
  t.match(superLog, /SOAP call refused[\s\S]{0,600}job\.cancel\.any/, 'and a forbidden call')
})

/** Role x operation over real SOAP: every operation of the three WSDLs, for each kind of subject. */
const ROLE_PERMS: Record<string, string[]> = {
  alice: ['job.submit', 'job.status', 'job.result', 'job.list', 'job.cancel.own', 'policy.read', 'node.list'],
  carol: ['job.status', 'job.list', 'node.list', 'policy.read'],
  ops: ['*'],
  mallory: [] // signed in, but no rule of the policy names her
}
type Call = (c: Credentials) => Promise<unknown>
const BAD_PROFILE = { profileYaml: 'apiVersion: mvm/v1\nkind: JobProfile\n', params: [], owner: '', bundle: [] }
const OPS: Array<[string, string, Call]> = [
  ['Bootstrap.GetBrokers', 'open', async (c) => await createBootstrapClient(lab.bootstrap, { credentials: c }).GetBrokers({})],
  ['Bootstrap.RegisterSuperPeer', 'open', async (c) => await createBootstrapClient(lab.bootstrap, { credentials: c }).RegisterSuperPeer({ group: '', peerId: '', multiaddrs: [], soapUrl: '' } as never)],
  ['Bootstrap.GetResources', 'node.list', async (c) => await createBootstrapClient(lab.bootstrap, { credentials: c }).GetResources({})],
  ['Node.GetStatus', 'node.list', async (c) => await createNodeClient(lab.bootstrap, { credentials: c }).GetStatus()],
  ['Node.ListProcesses', 'node.list', async (c) => await createNodeClient(lab.bootstrap, { credentials: c }).ListProcesses()],
  ['Node.Awaken', 'node.awaken', async (c) => await createNodeClient(lab.bootstrap, { credentials: c }).Awaken({ jobId: 'no-such-job' })],
  ['Node.Terminate', 'node.terminate', async (c) => await createNodeClient(lab.bootstrap, { credentials: c }).Terminate({ jobId: 'no-such-job' })],
  ['Node.GetLogs', 'job.result', async (c) => await createNodeClient(lab.bootstrap, { credentials: c }).GetLogs({ jobId: 'no-such-job' })],
  ['Broker.ListNodes', 'node.list', async (c) => await broker(c).ListNodes({})],
  ['Broker.GetNode', 'node.list', async (c) => await broker(c).GetNode({ peerId: 'no-such-peer' })],
  ['Broker.SubmitJob', 'job.submit', async (c) => await broker(c).SubmitJob(BAD_PROFILE)],
  ['Broker.SubmitJobs', 'job.submit', async (c) => await broker(c).SubmitJobs({ jobs: [BAD_PROFILE] })],
  ['Broker.GetJob', 'job.status', async (c) => await broker(c).GetJob({ jobId: 'no-such-job' })],
  ['Broker.ListJobs', 'job.list', async (c) => await broker(c).ListJobs({ limit: 1 })],
  ['Broker.ListHistory', 'job.list', async (c) => await broker(c).ListHistory({ limit: 1 })],
  ['Broker.WaitJob', 'job.status', async (c) => await broker(c).WaitJob({ jobId: 'no-such-job', timeoutMs: 0 })],
  ['Broker.WaitJobs', 'job.status', async (c) => await broker(c).WaitJobs({ jobIds: ['no-such-job'], timeoutMs: 0 })],
  ['Broker.GetJobResult', 'job.result', async (c) => await broker(c).GetJobResult({ jobId: 'no-such-job' })],
  ['Broker.GetJobLogs', 'job.result', async (c) => await broker(c).GetJobLogs({ jobId: 'no-such-job' })],
  ['Broker.CancelJob', 'job.cancel.own', async (c) => await broker(c).CancelJob({ jobId: 'no-such-job' })],
  ['Broker.HoldJob', 'job.cancel.own', async (c) => await broker(c).HoldJob({ jobId: 'no-such-job' })],
  ['Broker.ReleaseJob', 'job.cancel.own', async (c) => await broker(c).ReleaseJob({ jobId: 'no-such-job' })],
  ['Broker.RequeueJob', 'job.cancel.own', async (c) => await broker(c).RequeueJob({ jobId: 'no-such-job' })],
  ['Broker.CheckpointJob', 'job.cancel.own', async (c) => await broker(c).CheckpointJob({ jobId: 'no-such-job' })],
  ['Broker.MigrateRank', 'job.cancel.own', async (c) => await broker(c).MigrateRank({ jobId: 'no-such-job', rank: 0, node: 'no-such-node' })],
  ['Broker.DrainNode', 'policy.apply', async (c) => await broker(c).DrainNode({ node: 'no-such-node' })],
  ['Broker.ResumeNode', 'policy.apply', async (c) => await broker(c).ResumeNode({ node: 'no-such-node' })],
  ['Broker.ResizeJob', 'job.cancel.own', async (c) => await broker(c).ResizeJob({ jobId: 'no-such-job', size: 2 })],
  ['Broker.Reserve', 'policy.apply', async (c) => await broker(c).Reserve({ name: 'x', nodes: [], slots: 1, durationSec: 0, owners: [] })],
  ['Broker.ApplyPolicy', 'policy.apply', async (c) => await broker(c).ApplyPolicy({ policyYaml: POLICY, dryRun: true })],
  ['Broker.GetPolicy', 'policy.read', async (c) => await broker(c).GetPolicy()],
  ['Broker.PutData', 'job.submit', async (c) => await broker(c).PutData({ name: 'table.txt', content: Buffer.from('x') })],
  ['Broker.GetData', 'job.result', async (c) => await broker(c).GetData({ id: '0'.repeat(64) })],
  ['Broker.ListData', 'job.result', async (c) => await broker(c).ListData({})],
  ['Broker.RemoveData', 'job.submit', async (c) => await broker(c).RemoveData({ id: '0'.repeat(64) })]
]
function broker (c: Credentials): BrokerClient { return createBrokerClient(lab.bootstrap, { credentials: c }) }

t.test('every SOAP operation checks the caller\'s role', async (t) => {
  // the operations as the contracts list them (each appears in portType and binding)
  const all = [...new Set((['Bootstrap', 'Node', 'Broker'] as const).flatMap((svc) => [...wsdlFile(svc).matchAll(/<wsdl:operation name="(\w+)"/g)].map((m) => `${svc}.${m[1]!}`)))].sort()
  t.same(OPS.map(([name]) => name).sort(), all, 'the table covers every operation of the three WSDLs')
  const { OPERATION_ACCESS } = await import('@mvm/super-peer')
  t.same(Object.entries(OPERATION_ACCESS).flatMap(([svc, ops]) => Object.keys(ops).map((op) => `${svc}.${op}`)).sort(), all, 'and so does the super-peer\'s access table')
  for (const [user, perms] of Object.entries(ROLE_PERMS)) {
    const c = { user, password: PW[user as keyof typeof PW] }
    for (const [name, need, call] of OPS) {
      const want = need === 'open' || perms.includes('*') || perms.includes(need)
      let got: string
      try { await call(c); got = 'ok' } catch (err) { got = (err as { code?: string }).code ?? String(err) }
      t.equal(got === 'E_FORBIDDEN' ? 'refused' : 'allowed', want ? 'allowed' : 'refused', `${user} ${name} (${need}): ${got}`)
    }
  }
})

t.test('the HTTP /data and /ui routes take the same credentials and roles', async (t) => {
  const basic = (u: string, p: string): string => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64')
  const get = async (path: string, auth?: string): Promise<number> => (await fetch(lab.bootstrap + path, auth === undefined ? {} : { headers: { authorization: auth } })).status
  t.equal(await get('/ui'), 401, '/ui without credentials: 401')
  t.equal(await get('/ui', basic('alice', 'wrong-one-1')), 401, 'a wrong password: 401')
  t.equal(await get('/ui', basic('alice', PW.alice)), 200, 'alice may list jobs: the web view')
  t.equal(await get('/ui', basic('mallory', PW.mallory)), 403, 'mallory holds no role: 403')
  const id = '0'.repeat(64)
  t.equal(await get(`/data/files/${id}/manifest`), 401, '/data without credentials: 401')
  t.equal(await get(`/data/files/${id}/manifest`, basic('carol', PW.carol)), 403, 'reading data needs job.result: the viewer is refused')
  t.equal(await get(`/data/files/${id}/manifest`, basic('alice', PW.alice)), 404, 'alice gets past the guard (the file does not exist)')
  const put = await fetch(lab.bootstrap + '/data/has', { method: 'POST', headers: { authorization: basic('carol', PW.carol), 'content-type': 'application/json' }, body: '{"hashes":[]}' })
  t.equal(put.status, 403, 'writing data needs job.submit')
})

t.test('the audit log records who changed what, and every refused call', async (t) => {
  const r = await runCli(['audit', '--data-dir', join(lab.dir, 'super'), '--json', '--limit', '100000'])
  t.equal(r.code, 0, r.stderr)
  const entries = JSON.parse(r.stdout) as Array<{ at: string, who: string, how: string, what: string, jobId?: string, from: string, result: string }>
  const submit = entries.find((e) => e.what === 'Broker.SubmitJob' && e.who === 'alice' && e.result === 'ok')
  t.ok(submit !== undefined && /^j-/.test(submit.jobId ?? '') && submit.how === 'username-token' && submit.from === '127.0.0.1' && !Number.isNaN(Date.parse(submit.at)), `alice's submit, with its job id: ${JSON.stringify(submit)}`)
  t.ok(entries.some((e) => e.what === 'Broker.CancelJob' && e.who === 'bob' && e.result === 'E_FORBIDDEN'), 'bob\'s refused cancel')
  t.ok(entries.some((e) => e.what === 'Broker.CancelJob' && e.who === 'ops' && e.result === 'ok'), 'the operator\'s cancel')
  t.ok(entries.some((e) => e.what === 'Broker.ListJobs' && e.who === 'anonymous' && e.result === 'E_UNAUTHENTICATED'), 'an unauthenticated read is logged because it was refused')
  t.ok(entries.some((e) => e.what === 'Broker.ApplyPolicy' && e.who === 'alice' && e.result === 'E_FORBIDDEN'), 'a refused policy apply')
  t.ok(entries.some((e) => e.what.startsWith('HTTP GET /ui') && e.who === 'mallory' && e.result === 'E_FORBIDDEN'), 'a refused web view')
  t.notOk(entries.some((e) => e.what === 'Broker.GetJob' && e.result === 'ok'), 'reads that went through are not logged')
  const refused = await runCli(['audit', '--data-dir', join(lab.dir, 'super'), '--refused', '--user', 'bob'])
  t.match(refused.stdout, /Broker\.CancelJob.*E_FORBIDDEN/, 'the table, filtered')
  t.notMatch(refused.stdout, /\bok\b/, 'only refusals')
})

t.test('a rank never sees the node\'s environment', async (t) => {
  const { request } = await profileRequest(envProfile, { owner: 'alice' })
  const { jobId } = await alice.SubmitJob(request)
  const { info, result } = await waitJob(alice, jobId)
  t.equal(info.state, 'succeeded', info.reason ?? '')
  const out = JSON.parse(result.resultJson ?? '{}') as { secret: string | null, keys: string[], home: string | null }
  t.equal(out.secret, null, 'the secret the node was started with is not in the rank\'s environment')
  t.notOk(JSON.stringify(out).includes(SECRET), 'nowhere in what the rank could see')
  t.ok(out.keys.every((k) => ['HOME', 'LANG', 'PATH', 'TMPDIR', 'TZ'].includes(k)), `only the sandbox's own variables: ${out.keys.join(' ')}`)
  t.not(out.home, process.env.HOME, 'HOME is the sandbox\'s, not the node\'s')
})

t.test('process driver: a rank can reach the node\'s loopback ports (documented), which then ask for credentials', async (t) => {
  const port = new URL(lab.bootstrap).port
  const { request } = await profileRequest(netProfile, { owner: 'alice', params: { port } })
  const { jobId } = await alice.SubmitJob(request)
  const { info, result } = await waitJob(alice, jobId)
  t.equal(info.state, 'succeeded', info.reason ?? '')
  t.equal(result.resultJson, '"connected"', 'the process driver shares the node\'s network: the README says so (Hostile ranks)')
})
