import '@mvm/core/polyfill'
import t from 'tap'
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { silentLogger } from '@mvm/core'
import { createMvmHost } from '@mvm/node'

const require = createRequire(import.meta.url)
const loaded = (name: string): boolean => Object.keys(require.cache).some((k) => k.includes(`${'/node_modules/'}${name}/`))
const nodeEntry = pathToFileURL(require.resolve('@mvm/node')).href
const polyfill = pathToFileURL(require.resolve('@mvm/core/polyfill')).href

/** A peer-only host in its own process: joins, then says which native modules it loaded. */
const PEER_SCRIPT = `
import '${polyfill}'
import { createRequire } from 'node:module'
import { createMvmHost } from '${nodeEntry}'
const [bootstrap, dataDir] = process.argv.slice(2)
const host = createMvmHost({ dataDir, roles: ['peer'], bootstrap: [bootstrap], group: 'lab', soap: { port: 0 } })
await host.start()
const require = createRequire(import.meta.url)
for (let i = 0; i < 200 && host.node.link()?.state !== 'joined'; i++) await new Promise((r) => setTimeout(r, 50))
const sqlite = Object.keys(require.cache).some((k) => k.includes('/node_modules/better-sqlite3/'))
process.stdout.write(JSON.stringify({ peerId: host.node.peerId, link: host.node.link()?.state, peer: host.peer !== undefined, superPeer: host.superPeer !== undefined, sqlite }) + '\\n')
await host.stop()
`

t.test('a super-peer host attaches the broker; a peer-only host never loads SQLite', { timeout: 60_000 }, async (t) => {
  const dir = t.testdir()
  const sp = createMvmHost({ dataDir: join(dir, 'sp'), roles: ['bootstrap', 'super-peer'], group: 'lab', soap: { port: 0 }, logger: silentLogger() })
  t.teardown(async () => { await sp.stop() })
  await sp.start()
  t.ok(sp.superPeer?.isStarted(), 'super-peer role started')
  t.equal(sp.peer, undefined, 'no peer role on a node without it')
  t.ok(loaded('better-sqlite3'), 'the broker process loaded SQLite (the check below can see it)')

  const script = join(dir, 'peer.mjs')
  await writeFile(script, PEER_SCRIPT)
  const child = spawn(process.execPath, [script, sp.node.soapUrl, join(dir, 'p1')], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''; let err = ''
  child.stdout.on('data', (b: Buffer) => { out += b.toString() })
  child.stderr.on('data', (b: Buffer) => { err += b.toString() })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  t.equal(code, 0, `peer process exits cleanly ${err.slice(-500)}`)
  const r = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { peerId: string, link: string, peer: boolean, superPeer: boolean, sqlite: boolean }
  t.equal(r.link, 'joined', 'the peer joined its super-peer')
  t.ok(r.peer, 'peer role attached')
  t.notOk(r.superPeer, 'no super-peer role')
  t.equal(r.sqlite, false, 'better-sqlite3 never loaded on a peer-only node')
  t.ok(sp.node.membership.get(r.peerId) !== undefined, 'the super-peer saw the peer')
})

t.test('a host that fails to start releases what it started', { timeout: 30_000 }, async (t) => {
  const dir = t.testdir()
  const h = createMvmHost({ dataDir: join(dir, 'bad'), roles: ['peer'], bootstrap: ['http://127.0.0.1:1'], group: 'lab', soap: { port: 0 }, logger: silentLogger(), policy: undefined })
  t.notOk(h.isStarted(), 'not started before start()')
  await h.stop()
  t.notOk(h.isStarted(), 'stop before start is harmless')
})
