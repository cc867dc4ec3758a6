// A lab whose policy requires authentication. The peer-only node's Node service: every
// operation without, with wrong and with right credentials over real SOAP/HTTP, checked by the
// peer with its super-peer (one replay cache for the group), refusals in the super-peer's audit
// log. Tenants' data: alice's job output cannot be read by bob (by job id, by content id over
// SOAP and HTTP, as an input of his own job, over libp2p from outside the group), can by alice
// and an admin, and the ranks still stage their inputs and return their outputs.
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createDataService, createDataStore } from '@mvm/data'
import { createMvmNode } from '@mvm/node'
import { addUser, createBrokerClient, createNodeClient, createToken, readUsers, writeUsers, type Credentials } from '@mvm/soap'
import { startLab, waitFor, waitJob, type TestLab } from './lib/lab.js'

const PW = { alice: 'alice-secret-1', bob: 'bob-secret-22', ops: 'ops-secret-333' }
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
      operator: ['*']
    subjects:
      alice: [user]
      bob: [user]
      ops: [operator]
`

let lab: TestLab
let peerUrl = ''
let peerId = ''
let aliceToken = ''
let keys: Record<string, string> = {}

t.before(async () => {
  const dir = t.testdir({ 'secure.yaml': POLICY })
  lab = await startLab({
    peers: 1,
    slots: 2,
    superArgs: ['--policy', join(dir, 'secure.yaml')],
    credentials: { user: 'ops', password: PW.ops },
    prepare: (labDir) => {
      const file = join(labDir, 'super', 'users.json')
      const data = readUsers(file)
      for (const [u, p] of Object.entries(PW)) keys[u] = addUser(data, u, p)
      aliceToken = createToken(data, 'alice', 3600).token
      writeUsers(file, data)
    }
  })
  peerUrl = lab.peers[0]!.ready.soapUrl
  peerId = lab.peers[0]!.ready.peerId
  // the peer follows the policy its super-peer pushes: wait until it requires credentials
  await waitFor(async () => {
    try { await createNodeClient(peerUrl).GetStatus(); return false } catch (err) { return (err as { code?: string }).code === 'E_UNAUTHENTICATED' }
  }, 30_000, 'the peer to adopt clientAuthentication: required')
})
t.teardown(async () => { await lab?.stop() })

type Call = (c: Credentials | undefined) => Promise<unknown>
const node = (c: Credentials | undefined): ReturnType<typeof createNodeClient> => createNodeClient(peerUrl, { credentials: c })
const OPS: Array<[string, string, Call]> = [
  ['GetStatus', 'node.list', async (c) => await node(c).GetStatus()],
  ['ListProcesses', 'node.list', async (c) => await node(c).ListProcesses()],
  ['Awaken', 'node.awaken', async (c) => await node(c).Awaken({ jobId: 'no-such-job' })],
  ['Terminate', 'node.terminate', async (c) => await node(c).Terminate({ jobId: 'no-such-job' })],
  ['GetLogs', 'job.result', async (c) => await node(c).GetLogs({ jobId: 'no-such-job' })]
]

async function outcome (call: () => Promise<unknown>): Promise<string> {
  try { await call(); return 'ok' } catch (err) { return (err as { code?: string }).code ?? String(err) }
}

t.test('every operation of the peer\'s Node service: no, wrong and right credentials', async (t) => {
  const { wsdlFile } = await import('@mvm/soap')
  t.same(OPS.map(([op]) => op).sort(), [...wsdlFile('Node').matchAll(/<wsdl:portType[\s\S]*?<\/wsdl:portType>/g)].flatMap((m) => [...m[0].matchAll(/<wsdl:operation name="(\w+)"/g)].map((x) => x[1]!)).sort(), 'the table covers every Node operation')
  const users: Array<[string, Credentials | undefined, string[] | 'unauthenticated']> = [
    ['nobody', undefined, 'unauthenticated'],
    ['alice, wrong password', { user: 'alice', password: 'not-her-password' }, 'unauthenticated'],
    ['an unknown user', { user: 'mallory', password: 'whatever-it-is' }, 'unauthenticated'],
    ['a made-up token', { token: 'mvm_0123456789abcdef_' + 'A'.repeat(43) }, 'unauthenticated'],
    ['alice', { user: 'alice', password: PW.alice }, ['node.list', 'job.result']],
    ['alice by token', { token: aliceToken }, ['node.list', 'job.result']],
    ['ops', { user: 'ops', password: PW.ops }, ['*']]
  ]
  for (const [who, c, perms] of users) {
    for (const [op, need, call] of OPS) {
      const got = await outcome(async () => await call(c))
      const want = perms === 'unauthenticated' ? 'E_UNAUTHENTICATED' : perms.includes('*') || perms.includes(need) ? 'allowed' : 'E_FORBIDDEN'
      t.equal(got === 'E_UNAUTHENTICATED' || got === 'E_FORBIDDEN' ? got : 'allowed', want, `${who}: Node.${op} (${need}) -> ${got}`)
    }
  }
  const st = await node({ user: 'alice', password: PW.alice }).GetStatus()
  t.equal(st.peerId, peerId, 'the answer comes from the peer itself')
})

/** A hand-made envelope, so the test controls the nonce. */
function envelope (user: string, key: string, nonce: Buffer, created: string): string {
  const digest = createHash('sha1').update(nonce).update(created).update(key).digest('base64')
  return '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>' +
    '<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">' +
    `<wsse:UsernameToken><wsse:Username>${user}</wsse:Username>` +
    `<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">${digest}</wsse:Password>` +
    `<wsse:Nonce>${nonce.toString('base64')}</wsse:Nonce><wsu:Created>${created}</wsu:Created></wsse:UsernameToken></wsse:Security>` +
    '</soap:Header><soap:Body><tns:GetStatusRequest xmlns:tns="urn:mvm:node:v1"/></soap:Body></soap:Envelope>'
}
async function post (base: string, xml: string): Promise<string> {
  const res = await fetch(`${base}/mvm/Node`, { method: 'POST', body: xml, headers: { 'content-type': 'text/xml; charset=utf-8' } })
  const body = await res.text()
  return res.ok ? 'ok' : /<code>([^<]*)<\/code>/.exec(body)?.[1] ?? `HTTP ${res.status}`
}

t.test('a nonce spent at the peer is spent at the super-peer too (one replay cache per group)', async (t) => {
  const xml = envelope('alice', keys.alice!, randomBytes(16), new Date().toISOString())
  t.equal(await post(peerUrl, xml), 'ok', 'a digest with a fresh nonce, sent to the peer: accepted')
  t.equal(await post(peerUrl, xml), 'E_UNAUTHENTICATED', 'the same envelope again at the peer: replay refused')
  t.equal(await post(lab.bootstrap, xml), 'E_UNAUTHENTICATED', 'and at the super-peer')
  const old = envelope('alice', keys.alice!, randomBytes(16), new Date(Date.now() - 3_600_000).toISOString())
  t.equal(await post(peerUrl, old), 'E_UNAUTHENTICATED', 'a Created an hour old: refused')
  t.equal(await post(peerUrl, envelope('alice', keys.alice!, randomBytes(16), new Date().toISOString())), 'ok', 'and the peer keeps serving')
})

t.test('refusals at the peer are in the super-peer\'s audit log, with the caller\'s address', async (t) => {
  await outcome(async () => await node({ user: 'bob', password: PW.bob }).Terminate({ jobId: 'audit-probe' }))
  const file = join(lab.dir, 'super', 'broker', 'audit.log')
  let line: Record<string, unknown> | undefined
  await waitFor(async () => {
    const lines = (await readFile(file, 'utf8').catch(() => '')).trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
    line = lines.find((l) => l.what === 'Node.Terminate' && l.who === 'bob')
    return line !== undefined
  }, 15_000, 'the audit line of bob\'s refused Terminate')
  t.match(line, { who: 'bob', what: 'Node.Terminate', result: 'E_FORBIDDEN', from: new RegExp(`via ${peerId}`) }, 'who, what, the result, and which member passed it on')
})

const TENANT_PROFILE = [
  'apiVersion: mvm/v1', 'kind: JobProfile', 'metadata:', '  name: tenant-data', 'spec:',
  '  program:', '    language: ts', '    inline: |',
  '      import { writeFile } from \'node:fs/promises\'',
  '      import { job } from \'@mvm/job\'',
  '      export default job(async (ctx) => {',
  '        const text = await (await ctx.files.open(\'in.txt\')).text()',
  '        await writeFile(\'out.txt\', \'rank \' + ctx.rank + \' saw \' + text)',
  '        return ctx.rank === 0 ? text : undefined',
  '      })',
  '  topology: { shape: ring, size: 2 }', '  processes: 2', '  outputs: [out.txt]', ''
].join('\n')

t.test('tenants\' data: alice\'s output is hers and an admin\'s, not bob\'s', async (t) => {
  const as = (user: keyof typeof PW): ReturnType<typeof createBrokerClient> => createBrokerClient(lab.bootstrap, { credentials: { user, password: PW[user] } })
  const alice = as('alice'); const bob = as('bob'); const ops = as('ops')
  const secret = `alice's input ${randomBytes(4).toString('hex')}`
  const put = await alice.PutData({ name: 'in.txt', content: Buffer.from(secret) })
  t.equal((await bob.GetData({ id: put.id }).catch((e: { code?: string }) => e.code)), 'E_FORBIDDEN', 'bob cannot read alice\'s upload by its content id')
  const { jobId } = await alice.SubmitJob({ profileYaml: TENANT_PROFILE, params: [], bundle: [], inputs: [{ name: 'in.txt', id: put.id }] })
  const { info, result } = await waitJob(alice, jobId, 60_000)
  t.equal(info.state, 'succeeded', `the ranks staged alice's input and ran: ${JSON.stringify(result).slice(0, 300)}`)
  t.equal(JSON.parse(result.resultJson ?? 'null'), secret, 'rank 0 read the input')
  const rank0 = (result.outputs ?? []).find((o) => o.name === 'out.txt' && o.rank === 0)
  t.ok(rank0 !== undefined, `rank 0's output came back to the super-peer: ${JSON.stringify(result.outputs)}`)
  if (rank0 === undefined) return
  const expect = Buffer.from(`rank 0 saw ${secret}`)

  // by job id
  t.equal(await outcome(async () => await bob.GetJobResult({ jobId })), 'E_FORBIDDEN', 'bob: GetJobResult of alice\'s job')
  // by content id, over SOAP
  t.equal(await outcome(async () => await bob.GetData({ id: rank0.id })), 'E_FORBIDDEN', 'bob: GetData of her output')
  t.equal(await outcome(async () => await bob.RemoveData({ id: rank0.id })), 'E_FORBIDDEN', 'bob: RemoveData of her output')
  t.notOk((await bob.ListData({})).files.some((f) => f.id === rank0.id || f.id === put.id), 'bob: ListData does not show her files')
  t.same(Buffer.from((await alice.GetData({ id: rank0.id })).content), expect, 'alice reads her output')
  t.ok((await alice.ListData({})).files.some((f) => f.id === rank0.id), 'and lists it')
  t.same(Buffer.from((await ops.GetData({ id: rank0.id })).content), expect, 'the admin (job.read.any) reads it')
  // by content id, over HTTP
  const basic = (u: keyof typeof PW): string => 'Basic ' + Buffer.from(`${u}:${PW[u]}`).toString('base64')
  const get = async (path: string, u: keyof typeof PW): Promise<{ status: number, body: Buffer }> => {
    const r = await fetch(lab.bootstrap + path, { headers: { authorization: basic(u) } })
    return { status: r.status, body: Buffer.from(await r.arrayBuffer()) }
  }
  t.equal((await get(`/data/files/${rank0.id}`, 'bob')).status, 403, 'bob: GET /data/files/<id>: 403')
  t.equal((await get(`/data/files/${rank0.id}/manifest`, 'bob')).status, 403, 'bob: its manifest: 403')
  const listed = JSON.parse((await get('/data/files', 'bob')).body.toString()) as Array<{ id: string }>
  t.notOk(listed.some((f) => f.id === rank0.id), 'bob: GET /data/files does not list it')
  const del = await fetch(`${lab.bootstrap}/data/files/${rank0.id}`, { method: 'DELETE', headers: { authorization: basic('bob') } })
  t.equal(del.status, 403, 'bob: DELETE: 403')
  const mine = await get(`/data/files/${rank0.id}`, 'alice')
  t.same([mine.status, mine.body], [200, expect], 'alice: GET /data/files/<id> returns her bytes')
  t.equal((await get(`/data/files/${rank0.id}`, 'ops')).status, 200, 'the admin: 200')
  // as an input of bob's own job: by content id, and as alice's job's output
  t.equal(await outcome(async () => await bob.SubmitJob({ profileYaml: TENANT_PROFILE, params: [], bundle: [], inputs: [{ name: 'in.txt', id: rank0.id }] })), 'E_FORBIDDEN', 'bob: her output\'s id as his input')
  const fromJob = TENANT_PROFILE.replace('  outputs: [out.txt]', `  inputs: [{ from: { job: ${jobId}, output: out.txt }, as: in.txt }]\n  outputs: [out.txt]`)
  t.equal(await outcome(async () => await bob.SubmitJob({ profileYaml: fromJob, params: [], bundle: [] })), 'E_FORBIDDEN', 'bob: her job\'s output as his input')
  const again = await alice.SubmitJob({ profileYaml: fromJob, params: [], bundle: [] })
  t.equal((await waitJob(alice, again.jobId, 60_000)).info.state, 'succeeded', 'alice takes her own job\'s output as the next job\'s input')

  // over libp2p, from a node outside the group that knows the content id
  const dir = t.testdir({})
  const outsider = createMvmNode({ dataDir: join(dir, 'node'), roles: ['bootstrap'], group: 'outside', soap: { port: 0 } })
  await outsider.start()
  const store = await createDataStore({ dir: join(dir, 'store'), maxBytes: 64 * 1024 * 1024 })
  const svc = createDataService({ store, transport: outsider.streams, requestTimeoutMs: 10_000 })
  await svc.start()
  t.teardown(async () => { await svc.stop(); await store.close(); await outsider.stop() })
  const sp = lab.superPeer.ready
  const peer = lab.peers[0]!.ready
  await t.rejects(svc.fetch(rank0.id, [{ peerId: sp.peerId, addrs: sp.multiaddrs }]), { message: /admitted members/ }, 'the super-peer does not serve a node outside its group')
  await t.rejects(svc.fetch(rank0.id, [{ peerId: peer.peerId, addrs: peer.multiaddrs }]), { message: /admitted members/ }, 'nor does a peer (its super-peer does not vouch for the outsider)')
  t.equal(store.get(rank0.id), undefined, 'the outsider got nothing')
})

t.test('who may fetch a node\'s data: its group, as the super-peer vouches over /mvm/auth', async (t) => {
  const { startNode, waitFor: until } = await import('./lib/nodes.js')
  const sp = await startNode(t, 'sp', { roles: ['bootstrap', 'super-peer'], group: 'vouch', monitoring: { heartbeatMs: 200 } })
  const p1 = await startNode(t, 'p1', { bootstrap: [sp.soapUrl], group: 'vouch' })
  const p2 = await startNode(t, 'p2', { bootstrap: [sp.soapUrl], group: 'vouch' })
  const outsider = await startNode(t, 'out', { roles: ['bootstrap'], group: 'elsewhere' })
  await until('both peers joined', () => p1.link()?.state === 'joined' && p2.link()?.state === 'joined' && sp.membership.get(p2.peerId)?.state === 'up')
  t.ok(await sp.isGroupPeer(p1.peerId), 'the super-peer serves its member')
  t.notOk(await sp.isGroupPeer(outsider.peerId), 'not a node outside the group')
  t.ok(await p1.isGroupPeer(sp.peerId), 'a peer serves its super-peer')
  t.ok(await p1.isGroupPeer(p2.peerId), 'and another member, which its super-peer vouches for')
  t.notOk(await p1.isGroupPeer(outsider.peerId), 'but not the outsider')
  await p2.stop()
  await until('p2 left', () => sp.membership.get(p2.peerId)?.state === 'left')
  t.notOk(await sp.isGroupPeer(p2.peerId), 'a member that left is served no more')
})
