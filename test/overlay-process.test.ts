import t from 'tap'
import { createBrokerClient } from '@mvm/soap'
import { runMvm, spawnNode, waitFor } from './lib/nodes.js'

t.test('separate processes: SIGKILL → down, restart → same peer id and up, SIGTERM → left and exit 0', async (t) => {
  const dir = t.testdir()
  const sp = await spawnNode(t, ['--roles', 'bootstrap,super-peer', '--group', 'lab', '--heartbeat-ms', '200', '--missed-heartbeats', '3', '--data-dir', `${dir}/sp`])
  t.same(sp.ready.roles, ['bootstrap', 'super-peer'])
  t.match(sp.ready.soapUrl, /^http:\/\/127\.0\.0\.1:\d+$/)
  const boot = sp.ready.soapUrl
  const broker = createBrokerClient(boot)
  const stateOf = async (id: string): Promise<string | undefined> =>
    (await broker.ListNodes({ group: 'lab' }, { timeoutMs: 5000 })).nodes.find((n) => n.peerId === id)?.state

  const p1 = await spawnNode(t, ['--bootstrap', boot, '--group', 'lab', '--data-dir', `${dir}/p1`])
  const p2 = await spawnNode(t, ['--bootstrap', boot, '--group', 'lab', '--data-dir', `${dir}/p2`])
  await waitFor('both peers up', async () => await stateOf(p1.ready.peerId) === 'up' && await stateOf(p2.ready.peerId) === 'up')

  const table = await runMvm(['nodes', '--bootstrap', boot])
  t.equal(table.code, 0, table.stderr)
  t.match(table.stdout, /PEER\s+GROUP\s+ROLES\s+STATE/)
  for (const id of [sp.ready.peerId, p1.ready.peerId, p2.ready.peerId]) t.match(table.stdout, id.slice(-6), 'mvm nodes lists each node')
  t.equal(table.stdout.split('\n').filter((l) => / up /.test(l)).length, 3)
  const json = await runMvm(['nodes', '--bootstrap', boot, '--group', 'lab', '--json'])
  t.same((JSON.parse(json.stdout) as Array<{ peerId: string }>).map((n) => n.peerId).sort(), [sp.ready.peerId, p1.ready.peerId, p2.ready.peerId].sort())

  p1.child.kill('SIGKILL')
  await waitFor('p1 down after SIGKILL', async () => await stateOf(p1.ready.peerId) === 'down', { timeoutMs: 10_000 })

  const again = await spawnNode(t, ['--bootstrap', boot, '--group', 'lab', '--data-dir', `${dir}/p1`])
  t.equal(again.ready.peerId, p1.ready.peerId, 'same data dir, same peer id')
  await waitFor('p1 up again', async () => await stateOf(p1.ready.peerId) === 'up')

  const exited = new Promise<number | null>((resolve) => p2.child.once('exit', resolve))
  p2.child.kill('SIGTERM')
  t.equal(await exited, 0, 'SIGTERM exits 0')
  // the Leave was acknowledged before exit; a `down` here would mean it was lost
  let last: string | undefined
  await waitFor('p2 left', async () => { last = await stateOf(p2.ready.peerId); return last !== 'up' }, { timeoutMs: 10_000 })
  t.equal(last, 'left', 'a stopped peer sent Leave')
})

t.test('mvm nodes without an address asks the default bootstrap, and says so when nobody answers', async (t) => {
  // $MVM_BOOTSTRAP stands in for the default (http://127.0.0.1:7700, where `mvm lab` serves)
  const r = await runMvm(['nodes'], undefined, { MVM_BOOTSTRAP: 'http://127.0.0.1:1' })
  t.not(r.code, 0)
  t.match(r.stderr, /E_UNAVAILABLE/)
  t.match(r.stderr, /127\.0\.0\.1:1/, 'the error names the address it tried')
})
