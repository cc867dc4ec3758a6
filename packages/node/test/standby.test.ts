import '@mvm/core/polyfill'
import t from 'tap'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { ConfigError, silentLogger } from '@mvm/core'
import { createBootstrapClient, createBrokerClient } from '@mvm/soap'
import { profileRequest } from '@mvm/cli'
import { createMvmHost, loadNodeSettings, STANDBY_ROLE, type MvmHost, type MvmNode } from '@mvm/node'

// a submission waits up to 2 × 6 × 500 ms for the standby's copy: generous on a busy machine
const monitoring = { heartbeatMs: 500, missedHeartbeats: 6 }
const SLEEPER = fileURLToPath(new URL('../../../test/fixtures/jobs/sleeper.yaml', import.meta.url))
// no peers here: the job is kept queued rather than refused for want of capacity
const POLICY = 'apiVersion: mvm/v1\nkind: Policy\nmetadata:\n  name: standby-test\nspec:\n  level: domain\n  scheduling:\n    waitForCapacity: true\n'

async function waitFor<T> (what: string, f: () => T | Promise<T>, ms = 20_000): Promise<NonNullable<T>> {
  const end = Date.now() + ms
  let last: unknown
  while (Date.now() < end) {
    try { const v = await f(); if (v !== undefined && v !== null && v !== false) return v as NonNullable<T> } catch (e) { last = e }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`)
}

/** The standby's copy of the store, read as SQLite reads it (undefined while it has none). */
function jobState (file: string, id: string): string | undefined {
  let db: Database.Database | undefined
  try {
    db = new Database(file, { readonly: true, fileMustExist: true })
    return db.prepare('SELECT state FROM jobs WHERE id = ?').pluck().get(id) as string | undefined
  } catch { return undefined } finally { db?.close() }
}

function copied (file: string, key: string): string | undefined {
  let db: Database.Database | undefined
  try {
    db = new Database(file, { readonly: true, fileMustExist: true })
    return db.prepare('SELECT value FROM settings WHERE key = ?').pluck().get(key) as string | undefined
  } catch { return undefined } finally { db?.close() }
}

t.test('a standby follows the active broker\'s store and takes the group over when it dies', { timeout: 90_000 }, async (t) => {
  const dir = t.testdir()
  const hosts: MvmHost[] = []
  t.teardown(async () => { for (const h of hosts.reverse()) await h.stop().catch(() => {}) })
  const host = async (name: string, init: Omit<Parameters<typeof createMvmHost>[0], 'dataDir'>): Promise<MvmHost> => {
    const h = createMvmHost({ dataDir: join(dir, name), soap: { port: 0 }, logger: silentLogger(), group: 'g', ...init })
    hosts.push(h)
    await h.start()
    return h
  }
  const boot = await host('boot', { roles: ['bootstrap'] })
  const bootstrap = [boot.node.soapUrl]
  await writeFile(join(dir, 'policy.yaml'), POLICY)
  const settings = await loadNodeSettings(undefined, [join(dir, 'policy.yaml')])
  const active = await host('active', { roles: ['super-peer'], bootstrap, monitoring, policy: settings.policy!, policyFiles: settings.policyFiles })
  let tookOver: MvmNode | undefined
  const standby = await host('standby', { roles: ['super-peer'], standby: true, bootstrap, monitoring, onTakeover: (n) => { tookOver = n } })
  const standbyId = standby.node.peerId
  t.equal(standby.superPeer, undefined, 'no broker while standing by')
  t.same(standby.node.status().roles, [STANDBY_ROLE], 'shown as a standby')
  const member = await waitFor('the standby to join the active super-peer', () => active.node.membership.get(standbyId))
  t.same(member.roles, [STANDBY_ROLE], 'the group sees it as a standby, not a peer to run ranks')

  const broker = active.superPeer!.agent.broker
  broker.putSetting('standby-probe', 'first')
  const file = join(dir, 'standby', 'broker', 'broker.db')
  await waitFor('the standby to hold the change', () => copied(file, 'standby-probe') === 'first')
  broker.putSetting('standby-probe', 'second')
  await waitFor('the standby to hold the next change', () => copied(file, 'standby-probe') === 'second')
  // a submission is answered once the standby holds it: read at once, no waiting
  const { request } = await profileRequest(SLEEPER, { params: {}, owner: 'test' })
  const { jobId } = await createBrokerClient(active.node.soapUrl).SubmitJob(request)
  t.equal(jobState(file, jobId), 'queued', 'the standby\'s copy has the job when SubmitJob answers')

  // a crash: connections reset, no Leave; the bootstrap keeps the dead one's lease for 30 s
  await active.node.crash()
  await waitFor('the standby to take over', () => tookOver, 30_000)
  t.equal(tookOver?.peerId, standbyId, 'told of the takeover, same identity')
  t.equal(standby.node.peerId, standbyId)
  t.ok(standby.node.roles.includes('super-peer'), 'now the super-peer')
  t.equal(standby.superPeer!.agent.broker.setting('standby-probe'), 'second', 'its broker opened the copied store')
  t.equal(standby.superPeer!.agent.broker.get(jobId).state, 'queued', 'with the job submitted to the dead one, queued')
  const brokers = (await createBootstrapClient(boot.node.soapUrl).GetBrokers({ group: 'g' })).brokers
  t.equal(brokers[0]?.peerId, standbyId, 'the bootstrap names the new super-peer first (the old lease has not run out)')
})

t.test('a standby that is the bootstrap too: the active one registers there, and it names itself after the takeover', { timeout: 90_000 }, async (t) => {
  const dir = t.testdir()
  const hosts: MvmHost[] = []
  t.teardown(async () => { for (const h of hosts.reverse()) await h.stop().catch(() => {}) })
  let tookOver: MvmNode | undefined
  const standby = createMvmHost({ dataDir: join(dir, 'standby'), soap: { port: 0 }, logger: silentLogger(), group: 'g', roles: ['bootstrap', 'super-peer'], standby: true, monitoring: { heartbeatMs: 100, missedHeartbeats: 6 }, onTakeover: (n) => { tookOver = n } })
  hosts.push(standby)
  await standby.start()
  const url = standby.node.soapUrl
  const active = createMvmHost({ dataDir: join(dir, 'active'), soap: { port: 0 }, logger: silentLogger(), group: 'g', roles: ['super-peer'], bootstrap: [url], monitoring: { heartbeatMs: 100, missedHeartbeats: 6 } })
  hosts.push(active)
  await active.start()
  await waitFor('the standby to join the active super-peer', () => active.node.membership.get(standby.node.peerId))
  active.superPeer!.agent.broker.putSetting('standby-probe', 'kept')
  await waitFor('the standby to hold the change', () => copied(join(dir, 'standby', 'broker', 'broker.db'), 'standby-probe') === 'kept')
  await active.node.crash()
  await waitFor('the standby to take over', () => tookOver, 30_000)
  t.equal(standby.node.soapUrl, url, 'the same SOAP URL: the bootstrap address members hold still works')
  t.equal(standby.superPeer!.agent.broker.setting('standby-probe'), 'kept', 'its broker opened the copied store')
  const brokers = (await createBootstrapClient(url).GetBrokers({ group: 'g' })).brokers
  t.same(brokers.map((b) => b.peerId), [standby.node.peerId], 'its bootstrap names only itself (the dead one\'s record went with the restart)')
})

t.test('a standby needs the super-peer role and a bootstrap URL', async (t) => {
  const dir = t.testdir()
  t.throws(() => createMvmHost({ dataDir: join(dir, 'a'), roles: ['peer'], standby: true, bootstrap: ['http://127.0.0.1:1'] }), ConfigError)
  t.throws(() => createMvmHost({ dataDir: join(dir, 'b'), roles: ['super-peer'], standby: true }), /bootstrap SOAP URL/)
  t.throws(() => createMvmHost({ dataDir: join(dir, 'c'), roles: ['super-peer'], standby: true, bootstrap: ['http://127.0.0.1:1'], parentGroup: 'top' }), /cannot stand by/)
})
