import t from 'tap'
import soap from 'soap'
import { NotFoundError, UnavailableError } from '@mvm/core'
import { createBootstrapClient, createBrokerClient, createNodeClient, startSoapServer } from '@mvm/soap'
import { jobInfo, nodeInfo, startAll, type Seen } from './fixtures.js'

const seen: Seen = {}
const server = await startAll(seen)
t.teardown(() => server.close())

t.test('the served WSDL carries the real endpoint and the one namespace', async (t) => {
  for (const [name, ns] of [['Bootstrap', 'urn:mvm:bootstrap:v1'], ['Node', 'urn:mvm:node:v1'], ['Broker', 'urn:mvm:broker:v1']] as const) {
    const res = await fetch(server.urlOf(name) + '?wsdl')
    t.equal(res.status, 200, `${name} WSDL served`)
    const text = await res.text()
    const loc = /<soap:address\s+location="([^"]*)"/.exec(text)?.[1]
    t.equal(loc, `http://127.0.0.1:${server.port}/mvm/${name}`, `${name} soap:address is the endpoint`)
    t.equal(loc, server.urlOf(name))
    t.match(text, `targetNamespace="${ns}"`)
    t.equal(new Set(text.match(/targetNamespace="[^"]*"/g)).size, 1, 'exactly one target namespace')
  }
})

t.test('node-soap clients built from the fetched WSDLs reach every operation', async (t) => {
  const boot: any = await soap.createClientAsync(server.urlOf('Bootstrap') + '?wsdl', { disableCache: true })
  const node: any = await soap.createClientAsync(server.urlOf('Node') + '?wsdl', { disableCache: true })
  const broker: any = await soap.createClientAsync(server.urlOf('Broker') + '?wsdl', { disableCache: true })
  // no endpoint override: the calls go where the served WSDL says

  const [brokers] = await boot.GetBrokersAsync({ group: 'lab' })
  t.equal(brokers.brokers[0].peerId, '12D3KooWPeerA')
  const [reg] = await boot.RegisterSuperPeerAsync({ group: 'lab', peerId: 'P', multiaddrs: ['/ip4/1.2.3.4/tcp/1', '/ip4/1.2.3.4/tcp/2'], soapUrl: 'http://x' })
  t.same(reg, { accepted: true, leaseSec: 30 })
  t.same(seen.registered, { group: 'lab', peerId: 'P', multiaddrs: ['/ip4/1.2.3.4/tcp/1', '/ip4/1.2.3.4/tcp/2'], soapUrl: 'http://x' })
  const [res] = await boot.GetResourcesAsync({ labels: [{ key: 'arch', value: 'x64' }], minFreeSlots: 2 })
  t.equal(res.nodes[0].peerId, nodeInfo.peerId)
  t.same(seen.resources, { labels: { arch: 'x64' }, minFreeSlots: 2 })

  const [st] = await node.GetStatusAsync({})
  t.equal(st.peerId, '12D3KooWPeerA')
  t.same(await node.AwakenAsync({ jobId: 'job-1' }).then((r: any[]) => r[0]), { ok: true })
  t.same(await node.TerminateAsync({ jobId: 'job-1' }).then((r: any[]) => r[0]), { ok: true, stopped: 3 })
  t.equal((await node.ListProcessesAsync({}))[0].processes[0].pid, 4242)

  t.equal((await broker.ListNodesAsync({}))[0].nodes.length, 2)
  t.equal((await broker.GetNodeAsync({ peerId: nodeInfo.peerId }))[0].group, 'lab')
  const [sub] = await broker.SubmitJobAsync({ profileYaml: 'apiVersion: mvm/v1', params: [{ name: 'n', value: '3' }], bundle: [{ path: 'main.ts', content: Buffer.from('hi').toString('base64') }] })
  t.equal(sub.jobId, 'job-1')
  t.equal((await broker.GetJobAsync({ jobId: 'job-1' }))[0].name, 'ring-sum')
  t.equal((await broker.ListJobsAsync({ state: 'running', limit: 5 }))[0].jobs[0].jobId, 'job-1')
  t.equal((await broker.CancelJobAsync({ jobId: 'job-1' }))[0].state, 'cancelled')
  t.equal((await broker.GetJobResultAsync({ jobId: 'job-1' }))[0].ranks.length, 2)
  t.same((await broker.ApplyPolicyAsync({ policyYaml: 'apiVersion: mvm/v1' }))[0].warnings, ['unknown key spec.x', 'second'])
  await t.rejects(broker.GetPolicyAsync({}), /E_UNAVAILABLE|not served/)
})

t.test('typed clients: every operation, clean typed values', async (t) => {
  const boot = createBootstrapClient(server.baseUrl)
  const node = createNodeClient(server.urlOf('Node'))
  const broker = createBrokerClient(server.baseUrl + '/')

  t.same(await boot.GetBrokers(), { brokers: [{ group: 'lab', peerId: '12D3KooWPeerA', multiaddrs: ['/ip4/127.0.0.1/tcp/4001'], soapUrl: 'http://127.0.0.1:7070', registeredAt: '2024-05-01T09:00:00.000Z' }] })
  t.same(await boot.RegisterSuperPeer({ group: 'g', peerId: 'P', multiaddrs: [], soapUrl: 'http://x', parentGroup: 'root' }), { accepted: true, leaseSec: 30 })
  t.same(seen.registered, { group: 'g', peerId: 'P', multiaddrs: [], soapUrl: 'http://x', parentGroup: 'root' }, 'empty list and optional field arrive')
  t.same(await boot.GetResources({ group: 'lab', labels: { gpu: 'none' } }), { nodes: [nodeInfo] })

  const st = await node.GetStatus({ timeoutMs: 10_000 })
  t.same(st, {
    peerId: '12D3KooWPeerA', roles: ['peer'], group: 'lab', state: 'up', load: 1.5, totalSlots: 4, freeSlots: 3,
    totalMemoryMB: 8192, freeMemoryMB: 4096, processes: 1, uptimeSec: 12.5, soapUrl: 'http://127.0.0.1:7070/mvm/Node',
    multiaddrs: ['/ip4/127.0.0.1/tcp/4001'], labels: { zone: 'a' }
  })
  t.equal(typeof st.totalSlots, 'number')
  t.equal(seen.remoteAddress?.endsWith('127.0.0.1'), true, 'handler sees the caller address')
  t.same(await node.Awaken({ jobId: 'job-1' }), { ok: true })
  t.same(await node.Terminate({ jobId: 'job-1' }), { ok: true, stopped: 3 })
  t.same(await node.ListProcesses(), { processes: [{ jobId: 'job-1', rank: 0, pid: 4242, state: 'running', startedAt: '2024-05-01T10:00:01.000Z' }] })

  const nodes = await broker.ListNodes({ group: 'lab' })
  t.same(nodes.nodes[0], nodeInfo)
  const { soapUrl: _dropped, ...second } = nodeInfo
  t.same(nodes.nodes[1], { ...second, peerId: '12D3KooWPeerB', labels: {}, roles: [] })
  t.notOk('soapUrl' in nodes.nodes[1]!, 'absent optional stays absent')
  t.same(await broker.GetNode({ peerId: nodeInfo.peerId }), nodeInfo)
  const bytes = new Uint8Array([0, 1, 2, 253, 254, 255])
  t.same(await broker.SubmitJob({ profileYaml: 'kind: Job', profileName: 'ring', params: [{ name: 'n', value: '3' }], bundle: [{ path: 'a.ts', content: bytes }, { path: 'b.ts', content: new Uint8Array() }], owner: 'alice' }),
    { jobId: 'job-1', childJobIds: [] })
  t.same(seen.submitted?.params, [{ name: 'n', value: '3' }])
  t.same(Array.from(seen.submitted!.bundle[0]!.content), Array.from(bytes), 'base64 bytes arrive intact')
  t.equal(seen.submitted?.bundle.length, 2)
  t.equal(seen.submitted?.bundle[1]?.content.length, 0, 'empty file arrives empty')
  // repeated elements decode as lists, empty when absent: a plain job has no element params or children
  const decoded = { ...jobInfo, params: [], childJobIds: [] }
  t.same(await broker.GetJob({ jobId: 'job-1' }), decoded)
  t.same(await broker.ListJobs({ state: 'failed' }), { jobs: [] })
  t.same(await broker.ListJobs(), { jobs: [decoded] })
  const c = await broker.CancelJob({ jobId: 'job-1' })
  t.equal(c.state, 'cancelled')
  t.equal(c.reason, 'cancelled by alice')
  const r = await broker.GetJobResult({ jobId: 'job-1' })
  t.equal(r.ranks[0]!.resultJson, '3')
  t.notOk('resultJson' in r.ranks[1]!)
  t.same(await broker.ApplyPolicy({ policyYaml: 'apiVersion: mvm/v1' }), { applied: true, warnings: ['unknown key spec.x', 'second'], changes: [], lostRights: [] })
  await t.rejects(broker.GetPolicy(), { code: 'E_UNAVAILABLE', message: /operation GetPolicy is not served by this node/ })
})

t.test('faults carry the MvmError code and are rebuilt as the same class', async (t) => {
  const broker = createBrokerClient(server.baseUrl)
  const err = await broker.GetNode({ peerId: 'nobody' }).catch((e: unknown) => e)
  t.ok(err instanceof NotFoundError, 'NotFoundError rebuilt')
  t.match(err, { code: 'E_NOT_FOUND', message: 'no node nobody', data: { peerId: 'nobody' } })
  await t.rejects(createNodeClient(server.baseUrl).Awaken({ jobId: 'missing' }), NotFoundError)
  await t.rejects(broker.GetJob({ jobId: '' }), { code: 'E_NOT_FOUND' })
  // a bad request is refused on the client before it is sent
  await t.rejects(broker.GetJob({} as any), { code: 'E_BAD_REQUEST', message: /Broker\.GetJob\.jobId/ })
})

t.test('unreachable nodes, unmounted services and timeouts', async (t) => {
  const only = await startSoapServer({ services: { Node: {} } })
  const url = only.baseUrl
  t.equal((await fetch(only.urlOf('Broker') + '?wsdl')).status, 404, 'service not passed is not mounted')
  await t.rejects(createBrokerClient(url).ListJobs(), UnavailableError)
  await t.rejects(createNodeClient(url).GetStatus(), { code: 'E_UNAVAILABLE', message: /GetStatus is not served/ })
  await only.close()
  await t.rejects(createNodeClient(url).GetStatus({ timeoutMs: 5000 }), UnavailableError, 'closed server is unavailable')
  const ac = new AbortController()
  ac.abort()
  await t.rejects(createNodeClient(server.baseUrl).GetStatus({ signal: ac.signal }), { code: 'E_ABORTED' })
  t.throws(() => createNodeClient('not a url'), { code: 'E_BAD_REQUEST' })
})
