import t from 'tap'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { cloneTree, createEnvironmentCache, createEnvironmentRegistry, decodeTree, encodeTree, newEnvironmentCounters } from '@mvm/data'
import { startPeer } from './fixtures.js'

t.test('a folder environment: recorded once by its file list, written out once on a peer, cloned by hard links', async (t) => {
  const dir = t.testdir()
  const a = await startPeer(t, join(dir, 'a'))
  const b = await startPeer(t, join(dir, 'b'))
  const one = await a.store.importBytes(Buffer.from('module.exports = 42\n'))
  const two = await a.store.importBytes(Buffer.from('{"name":"x"}'))
  const sc = newEnvironmentCounters()
  const reg = createEnvironmentRegistry({ store: a.store, dir: join(dir, 'reg'), counters: sc })
  const files = [{ path: 'node_modules/x/index.js', id: one.id }, { path: 'node_modules/x/package.json', id: two.id }]
  const first = await reg.resolve('folder', files)
  t.equal(first.built, true)
  const again = await reg.resolve('folder', [...files].reverse())
  t.same([again.built, again.id, again.key], [false, first.id, first.key], 'the same files in another order: the same environment, no build')
  t.same(sc, { builds: 1, reused: 1, written: 0 })
  t.ok(a.store.get(one.id)?.pins.includes(`env:${first.key}`), 'its files are pinned')

  const pc = newEnvironmentCounters()
  const cache = createEnvironmentCache({ store: b.store, service: b.service, dir: join(dir, 'envs'), counters: pc })
  const got = await cache.ensure(first.id, [a.holder])
  t.equal(got.tree.files.length, 2)
  for (const w of ['w1', 'w2']) {
    await cloneTree(got.tree, got.dir, join(dir, w))
    const s = await stat(join(dir, w, 'node_modules/x/index.js'))
    t.equal(await readFile(join(dir, w, 'node_modules/x/index.js'), 'utf8'), 'module.exports = 42\n')
    t.equal(s.mode & 0o222, 0, 'read-only')
  }
  t.equal((await stat(join(dir, 'w2', 'node_modules/x/index.js'))).nlink, 3, 'one file, three names: the peer\'s copy and two work dirs')
  await cache.ensure(first.id, [a.holder])
  t.same(pc, { builds: 0, reused: 1, written: 1 }, 'the second job reuses the written environment')
  await t.rejects(cloneTree(got.tree, got.dir, join(dir, 'w1')), { code: 'E_DATA_CORRUPT' }, 'a clone never overwrites a work-dir file')
})

t.test('trees that leave their root are refused', async (t) => {
  const id = 'a'.repeat(64)
  const file = (path: string): Uint8Array => new TextEncoder().encode(JSON.stringify({ v: 1, kind: 'folder', files: [{ path, id, size: 1, exec: false }], links: [] }))
  for (const p of ['../x', '/etc/passwd', 'a/../../b', 'a//b', 'a\\b', '']) t.throws(() => decodeTree(file(p)), { code: 'E_DATA_CORRUPT' }, JSON.stringify(p))
  const link = (path: string, target: string): Uint8Array => new TextEncoder().encode(JSON.stringify({ v: 1, kind: 'npm', files: [], links: [{ path, target }] }))
  t.throws(() => decodeTree(link('node_modules/.bin/x', '../../../etc')), { code: 'E_DATA_CORRUPT' })
  t.throws(() => decodeTree(link('node_modules/x', '/etc')), { code: 'E_DATA_CORRUPT' })
  t.ok(decodeTree(link('node_modules/.bin/x', '../x/bin.js')))
  const tree = decodeTree(encodeTree({ v: 1, kind: 'folder', files: [{ path: 'b', id, size: 1, exec: true }, { path: 'a', id, size: 1, exec: false }], links: [] }))
  t.same(tree.files.map((f) => f.path), ['a', 'b'], 'encoded in path order: one tree, one id')
})

t.test('an npm environment without its lockfile is refused before anything runs', async (t) => {
  const dir = t.testdir()
  const a = await startPeer(t, join(dir, 'a'))
  const pkg = await a.store.importBytes(Buffer.from('{}'))
  const reg = createEnvironmentRegistry({ store: a.store, dir: join(dir, 'reg'), counters: newEnvironmentCounters(), npm: join(dir, 'no-such-npm') })
  await t.rejects(reg.resolve('npm', [{ path: 'package.json', id: pkg.id }]), { code: 'E_BAD_REQUEST', message: /package-lock\.json/ })
  await t.rejects(reg.resolve('folder', [{ path: '../x', id: pkg.id }]), { code: 'E_BAD_REQUEST' })
  // no npm where the node looks for it: the build fails with a clear error, nothing is recorded
  const lock = await a.store.importBytes(Buffer.from('{"lockfileVersion":3}'))
  const both = [{ path: 'package.json', id: pkg.id }, { path: 'package-lock.json', id: lock.id }]
  await t.rejects(reg.resolve('npm', both), { code: 'E_BAD_REQUEST', message: /npm ci of the environment failed/ })
  await t.rejects(reg.resolve('npm', both), { message: /npm ci of the environment failed/ }, 'a failed build is not remembered as built')
})

t.test('a peer keeps a bounded number of written environments, least recently used out first', async (t) => {
  const dir = t.testdir()
  const a = await startPeer(t, join(dir, 'a'))
  const b = await startPeer(t, join(dir, 'b'))
  const reg = createEnvironmentRegistry({ store: a.store, dir: join(dir, 'reg'), counters: newEnvironmentCounters() })
  const cache = createEnvironmentCache({ store: b.store, service: b.service, dir: join(dir, 'envs'), counters: newEnvironmentCounters(), maxWritten: 2 })
  const ids: string[] = []
  for (let i = 0; i < 3; i++) {
    const f = await a.store.importBytes(Buffer.from(`env ${i}`))
    ids.push((await reg.resolve('folder', [{ path: 'x.js', id: f.id }])).id)
  }
  await cache.ensure(ids[0]!, [a.holder])
  await new Promise((resolve) => setTimeout(resolve, 20))
  await cache.ensure(ids[1]!, [a.holder])
  await new Promise((resolve) => setTimeout(resolve, 20))
  await cache.ensure(ids[0]!, [a.holder]) // used again: now the newest of the two
  await new Promise((resolve) => setTimeout(resolve, 20))
  await cache.ensure(ids[2]!, [a.holder])
  const left = (await readdir(join(dir, 'envs'))).sort()
  t.same(left, [ids[0]!, ids[2]!].sort(), 'the least recently used one went')
})
