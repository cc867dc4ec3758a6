// The Broker job operations over real SOAP (HTTP on 127.0.0.1, the typed client and a plain
// node-soap client from ?wsdl) against a real broker core; the dispatcher stands in for the
// peers, and the test says when each job's ranks report.
import t from 'tap'
import soap from 'soap'
import { createBroker, type Broker, type Job } from '@mvm/broker'
import { createBrokerClient, startSoapServer, type SubmitJobRequest } from '@mvm/soap'
import { JobWaiters, SubmissionCache, brokerJobHandlers } from '@mvm/super-peer/internal'

const PROGRAM = 'export default async () => 7\n'
const profile = (name: string, processes = 1): string => `apiVersion: mvm/v1
kind: JobProfile
metadata: { name: ${name} }
params:
  processes: { default: ${processes}, type: integer }
spec:
  program: main.js
  topology: { shape: line, size: "\${processes}" }
  processes: \${processes}
`
const req = (name: string, owner?: string, params: Record<string, string> = {}): SubmitJobRequest => ({
  profileYaml: profile(name),
  profileName: `${name}.yaml`,
  params: Object.entries(params).map(([n, value]) => ({ name: n, value })),
  bundle: [{ path: 'main.js', content: new TextEncoder().encode(PROGRAM) }],
  ...(owner !== undefined ? { owner } : {})
})

const started = new Map<string, Job>()
const dataDir = t.testdir()
const broker: Broker = createBroker({
  dataDir,
  dispatcher: { start: async (job) => { started.set(job.id, job) }, stop: async () => {} }
})
await broker.start()
broker.updateNodes([{ peerId: 'p1', group: 'lab', state: 'up', labels: {}, totalSlots: 64, freeSlots: 64, freeMemoryMB: 1 << 20, load: 0 }])
const cache = new SubmissionCache({ maxEntries: 4 })
const waiters = new JobWaiters(broker)
const server = await startSoapServer({ services: { Broker: brokerJobHandlers(broker, { ranksStarted: () => 0 }, { cache, waiters }) } })
const client = createBrokerClient(server.baseUrl)
t.teardown(async () => { waiters.close(); await server.close(); await broker.stop() })

/** Reports every rank of a dispatched job as succeeded, as its peers would. */
async function finish (jobId: string): Promise<void> {
  for (let i = 0; i < 200 && !started.has(jobId); i++) await new Promise((resolve) => setTimeout(resolve, 10))
  const job = started.get(jobId)
  if (job === undefined) throw new Error(`job ${jobId} was never dispatched`)
  for (let r = 0; r < job.size; r++) broker.reportRank(jobId, { rank: r, exitCode: 0, output: r === 0 ? 7 : undefined })
}

t.test('SubmitJob: the same content is validated once; the owner stays per request', async (t) => {
  const before = cache.misses
  const a = await client.SubmitJob(req('cached', 'alice'))
  const hits = cache.hits
  const b = await client.SubmitJob(req('cached', 'bob'))
  t.equal(cache.misses, before + 1, 'validated once')
  t.equal(cache.hits, hits + 1, 'the second submission was a cache hit')
  t.equal(broker.get(a.jobId).owner, 'alice')
  t.equal(broker.get(b.jobId).owner, 'bob')
  t.equal((broker.get(b.jobId).request.instance as { owner: string }).owner, 'bob', 'the instance template carries the owner too')
  t.equal((broker.get(a.jobId).request.instance as { owner: string }).owner, 'alice', 'and the first job kept its own')
  const c = await client.SubmitJob(req('cached', 'bob', { processes: '2' }))
  t.equal(broker.get(c.jobId).size, 2, 'other params are other content')
})

t.test('SubmitJob errors name the profile\'s files, from the cache path too', async (t) => {
  const bad = { ...req('broken'), profileYaml: profile('broken').replace('processes: ${processes}', 'processes: many') }
  for (let i = 0; i < 2; i++) {
    const err = await client.SubmitJob(bad).then(() => undefined, (e: unknown) => e as { code?: string, message?: string })
    t.equal(err?.code, 'E_VALIDATION', `attempt ${i + 1} refused`)
    t.match(err?.message, /^broken\.yaml:\d+:\d+: spec\.processes/, 'names the profile file, not a temp dir')
    t.notMatch(err?.message, /mvm-submit-/)
  }
})

t.test('SubmitJobs stores every profile in one call, in order; one bad profile stores none', async (t) => {
  const count = (): number => broker.list({ limit: 10_000 }).length
  const n0 = count()
  const { submitted } = await client.SubmitJobs({ jobs: [req('batch-a', 'alice'), req('batch-b', 'bob'), req('batch-a', 'carol')] })
  t.equal(submitted.length, 3)
  t.same(submitted.map((s) => broker.get(s.jobId).name), ['batch-a', 'batch-b', 'batch-a'], 'submitted[i] answers jobs[i]')
  t.same(submitted.map((s) => broker.get(s.jobId).owner), ['alice', 'bob', 'carol'])
  const seqs = submitted.map((s) => broker.get(s.jobId).seq)
  t.ok(seqs[0]! < seqs[1]! && seqs[1]! < seqs[2]!, 'queue order is the order given')
  t.equal(count(), n0 + 3)

  const bad = { ...req('batch-bad'), profileYaml: 'apiVersion: mvm/v1\nkind: JobProfile\n' }
  await t.rejects(client.SubmitJobs({ jobs: [req('batch-c'), bad] }), { code: 'E_VALIDATION' })
  t.equal(count(), n0 + 3, 'nothing of the refused batch was stored')
  t.same(await client.SubmitJobs({ jobs: [] }), { submitted: [] })
})

t.test('WaitJob answers when the job ends, or at its timeout with the job as it is', async (t) => {
  const { jobId } = await client.SubmitJob(req('wait-one'))
  const early = await client.WaitJob({ jobId, timeoutMs: 50 })
  t.equal(early.jobId, jobId)
  t.ok(['queued', 'scheduled', 'running'].includes(early.state), `not done yet: ${early.state}`)
  const waiting = client.WaitJob({ jobId, timeoutMs: 20_000 })
  let answered = false
  void waiting.then(() => { answered = true })
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(answered, false, 'no answer while the job runs')
  await finish(jobId)
  const done = await waiting
  t.equal(done.state, 'succeeded')
  t.equal(done.ranksFinished, 1)
  t.equal((await client.GetJobResult({ jobId })).resultJson, '7')
  t.equal((await client.WaitJob({ jobId, timeoutMs: 20_000 })).state, 'succeeded', 'a finished job answers at once')
  await t.rejects(client.WaitJob({ jobId: 'j-nope' }), { code: 'E_NOT_FOUND' })
  await t.rejects(client.WaitJob({ jobId, timeoutMs: -1 }), { code: 'E_BAD_REQUEST' })
})

t.test('WaitJobs answers once every job ended, jobs[i] for jobIds[i]', async (t) => {
  const { submitted } = await client.SubmitJobs({ jobs: [req('many'), req('many'), req('many')] })
  const ids = submitted.map((s) => s.jobId)
  const waiting = client.WaitJobs({ jobIds: ids, timeoutMs: 20_000 })
  await finish(ids[2]!)
  await finish(ids[0]!)
  const partial = await client.WaitJobs({ jobIds: ids, timeoutMs: 0 })
  t.same(partial.jobs.map((j) => j.state === 'succeeded'), [true, false, true], 'timeout 0: the states as they are')
  await finish(ids[1]!)
  const { jobs } = await waiting
  t.same(jobs.map((j) => j.jobId), ids)
  t.ok(jobs.every((j) => j.state === 'succeeded'))
})

t.test('a plain node-soap client built from ?wsdl reaches SubmitJobs, WaitJob and WaitJobs', async (t) => {
  const c: any = await soap.createClientAsync(server.urlOf('Broker') + '?wsdl', { disableCache: true })
  const content = Buffer.from(PROGRAM).toString('base64')
  const job = { profileYaml: profile('plain'), profileName: 'plain.yaml', bundle: [{ path: 'main.js', content }], owner: 'dave' }
  const [res] = await c.SubmitJobsAsync({ jobs: [job, job] })
  const ids: string[] = res.submitted.map((s: { jobId: string }) => s.jobId)
  t.equal(ids.length, 2)
  for (const id of ids) await finish(id)
  const [one] = await c.WaitJobAsync({ jobId: ids[0], timeoutMs: 5000 })
  t.equal(one.state, 'succeeded')
  const [all] = await c.WaitJobsAsync({ jobIds: ids, timeoutMs: 5000 })
  t.same(all.jobs.map((j: { state: string }) => j.state), ['succeeded', 'succeeded'])
})

t.test('the cache stays bounded', async (t) => {
  for (let i = 0; i < 6; i++) await client.SubmitJob(req(`bound-${i}`))
  t.ok(cache.size <= 4, `${cache.size} templates kept`)
})
