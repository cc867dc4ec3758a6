// A bootstrap-only node belongs to no group, so no policy is pushed to it: it checks the callers
// of its Node service itself, by its own policy and users file.
import t from 'tap'
import { join } from 'node:path'
import { USERS_FILE, addUser, createBootstrapClient, createNodeClient, readUsers, writeUsers } from '@mvm/soap'
import { startNode } from './lib/nodes.js'

t.test('a bootstrap-only node with clientAuthentication required refuses unsigned Node calls; GetBrokers stays open', async (t) => {
  const dataDir = join(t.testdir(), 'boot')
  const users = readUsers(join(dataDir, USERS_FILE))
  addUser(users, 'ops', 'correct horse battery')
  writeUsers(join(dataDir, USERS_FILE), users)
  const boot = await startNode(t, 'boot', { dataDir, roles: ['bootstrap'], security: { clientAuthentication: 'required' } })
  await t.rejects(createNodeClient(boot.soapUrl).GetStatus({ timeoutMs: 5000 }), { code: 'E_UNAUTHENTICATED' }, 'unsigned GetStatus refused')
  await t.rejects(createNodeClient(boot.soapUrl, { credentials: { user: 'nobody', password: 'wrong' } }).GetStatus({ timeoutMs: 5000 }), { code: 'E_UNAUTHENTICATED' }, 'an unknown user refused')
  const signed = await createNodeClient(boot.soapUrl, { credentials: { user: 'ops', password: 'correct horse battery' } }).GetStatus({ timeoutMs: 5000 })
  t.same(signed.roles, ['bootstrap'], 'a user of its own users file is let in')
  const brokers = await createBootstrapClient(boot.soapUrl).GetBrokers({}, { timeoutMs: 5000 })
  t.same(brokers.brokers, [], 'the directory answers unsigned callers')
})

t.test('without that policy the bootstrap-only node answers as before', async (t) => {
  const boot = await startNode(t, 'open', { roles: ['bootstrap'] })
  t.same((await createNodeClient(boot.soapUrl).GetStatus({ timeoutMs: 5000 })).roles, ['bootstrap'])
})
