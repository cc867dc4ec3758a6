import '@mvm/core/polyfill'
import t from 'tap'
import { join } from 'node:path'
import { silentLogger } from '@mvm/core'
import { createMvmHost } from '@mvm/node'
import { createBrokerClient } from '@mvm/soap'
import { ROOT, submit, waitJob } from './lib/lab.js'
import { spawnNode, waitFor } from './lib/nodes.js'

interface Sample { name: string, labels: Record<string, string>, value: number }
interface Scrape { samples: Sample[], types: Map<string, string> }

/** The Prometheus text exposition format, as a scraper reads it (no escapes in our label values). */
function parse (text: string): Scrape {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type !== null) { types.set(type[1]!, type[2]!); continue }
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[l[1]!] = l[2]!
    samples.push({ name: m[1]!, labels, value: Number(m[3]) })
  }
  return { samples, types }
}

async function scrape (base: string): Promise<Scrape> {
  const res = await fetch(`${base}/metrics`)
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`)
  if (!(res.headers.get('content-type') ?? '').startsWith('text/plain')) throw new Error(`content-type ${String(res.headers.get('content-type'))}`)
  return parse(await res.text())
}

const value = (s: Scrape, name: string, labels: Record<string, string> = {}): number | undefined =>
  s.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value

t.test('every node serves /metrics; a real scrape after a job and a dead peer counts what happened', { timeout: 120_000 }, async (t) => {
  const dir = t.testdir()
  const sp = createMvmHost({ dataDir: join(dir, 'sp'), roles: ['bootstrap', 'super-peer'], group: 'lab', soap: { port: 0 }, monitoring: { heartbeatMs: 200 }, logger: silentLogger() })
  t.teardown(async () => { await sp.stop() })
  await sp.start()
  const peer = createMvmHost({ dataDir: join(dir, 'p1'), roles: ['peer'], bootstrap: [sp.node.soapUrl], group: 'lab', soap: { port: 0 }, monitoring: { heartbeatMs: 200 }, capacity: { slots: 2 }, logger: silentLogger() })
  t.teardown(async () => { await peer.stop() })
  await peer.start()
  await waitFor('the peer to join', () => peer.node.link()?.state === 'joined')

  const before = await scrape(sp.node.soapUrl)
  t.equal(before.types.get('mvm_soap_calls_total'), 'counter', 'SOAP calls are a counter')
  t.equal(before.types.get('mvm_scheduling_latency_seconds'), 'histogram', 'scheduling latency is a histogram')
  t.ok((value(before, 'mvm_node_process_resident_memory_bytes') ?? 0) > 0, 'the node reports its own RSS')
  t.ok(value(before, 'mvm_node_process_cpu_seconds_total') !== undefined, 'and its CPU time')

  const broker = createBrokerClient(sp.node.soapUrl)
  const { jobId } = await submit(broker, join(ROOT, 'profiles', 'primes.yaml'), { processes: '2', n: '200000' })
  const { info } = await waitJob(broker, jobId)
  t.equal(info.state, 'succeeded', 'the job ran')
  await t.rejects(broker.GetJob({ jobId: 'j-nosuchjob' }), 'an unknown job is a fault')

  const after = await scrape(sp.node.soapUrl)
  t.equal(value(after, 'mvm_jobs', { state: 'succeeded' }), 1, 'jobs by state: one succeeded')
  t.equal(value(after, 'mvm_jobs', { state: 'queued' }), 0, 'none queued')
  t.equal(value(after, 'mvm_queue_length'), 0, 'queue length 0')
  t.equal(value(after, 'mvm_scheduling_latency_seconds_count'), 1, 'one job went from queued to running')
  t.ok((value(after, 'mvm_scheduling_latency_seconds_sum') ?? -1) >= 0, 'with a latency')
  t.equal(value(after, 'mvm_soap_calls_total', { service: 'Broker', operation: 'SubmitJob', result: 'ok' }), 1, 'one SubmitJob, ok')
  t.ok((value(after, 'mvm_soap_calls_total', { service: 'Broker', operation: 'GetJob', result: 'ok' }) ?? 0) >= 1, 'GetJob calls counted')
  t.equal(value(after, 'mvm_soap_calls_total', { service: 'Broker', operation: 'GetJob', result: 'E_NOT_FOUND' }), 1, 'the failed GetJob counted under its fault code')
  t.ok((value(after, 'mvm_data_bytes_total', { direction: 'out' }) ?? 0) > 0, 'the program bundle sent to the peer counted')
  t.equal(value(after, 'mvm_members', { state: 'up' }), 1, 'one member up')
  t.equal(value(after, 'mvm_jobs', { state: 'succeeded', group: 'lab' }), 1, 'series carry the node\'s group')

  const p = await scrape(peer.node.soapUrl)
  t.equal(value(p, 'mvm_ranks_running'), 0, 'no ranks left running on the peer')
  t.ok((value(p, 'mvm_data_bytes_total', { direction: 'in' }) ?? 0) > 0, 'the peer counted the bundle it received')
  const pool = p.samples.filter((s) => s.name === 'mvm_sandbox_pool')
  t.ok(pool.length >= 3, `the peer reports its warm pool by state (${pool.map((s) => s.labels.state).join(',')})`)
  t.equal(value(p, 'mvm_jobs'), undefined, 'a peer has no broker series values')

  // a frozen peer (SIGSTOP keeps its connection open) sends no heartbeat: the super-peer counts
  // the silent intervals and marks it down; thawed, it comes back up
  // a busy machine may already have delayed a heartbeat or two: count from here
  const missedBefore = value(await scrape(sp.node.soapUrl), 'mvm_heartbeats_missed_total') ?? 0
  const frozen = await spawnNode(t, ['--roles', 'peer', '--group', 'lab', '--bootstrap', sp.node.soapUrl, '--soap-port', '0', '--data-dir', join(dir, 'p2')])
  await waitFor('the second peer to join', () => sp.node.membership.get(frozen.ready.peerId)?.state === 'up')
  frozen.child.kill('SIGSTOP')
  try {
    await waitFor('the super-peer to mark it down', () => sp.node.membership.get(frozen.ready.peerId)?.state === 'down', { timeoutMs: 10_000 })
    const down = await scrape(sp.node.soapUrl)
    t.equal(value(down, 'mvm_members', { state: 'down' }), 1, 'one member down')
    const missed = (value(down, 'mvm_heartbeats_missed_total') ?? 0) - missedBefore
    t.ok(missed >= 3, `the 3 missed heartbeats that condemned it counted (${missed} more)`)
  } finally {
    frozen.child.kill('SIGCONT')
  }

  const head = await fetch(`${sp.node.soapUrl}/metrics`, { method: 'POST' })
  t.equal(head.status, 405, '/metrics answers only GET and HEAD')
})
