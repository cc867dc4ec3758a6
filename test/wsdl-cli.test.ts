// Runs the real `mvm wsdl` (build first: npx tsc -b packages/cli): the repo's copy of a contract,
// or the one a live node serves with its own endpoint.
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { MVM_BIN } from '@mvm/cli'
import { startSoapServer } from '@mvm/soap'

const run = promisify(execFile)

t.test('mvm wsdl prints the repo copy or a live node\'s', async (t) => {
  const local = await run(process.execPath, [MVM_BIN, 'wsdl', 'Bootstrap'], { timeout: 20_000 })
  t.match(local.stdout, '<soap:address location="http://mvm-node.invalid:7070/mvm/Bootstrap"/>')
  // handlers do not matter: the server serves each mounted service's WSDL at ?wsdl
  const server = await startSoapServer({ services: { Bootstrap: {}, Node: {}, Broker: {} } })
  t.teardown(() => server.close())
  const live = await run(process.execPath, [MVM_BIN, 'wsdl', 'Broker', '--node', server.baseUrl], { timeout: 20_000 })
  t.match(live.stdout, `<soap:address location="${server.urlOf('Broker')}"/>`)
  const bad = await run(process.execPath, [MVM_BIN, 'wsdl', 'Nope'], { timeout: 20_000 }).catch((e: { code: number, stderr: string }) => e)
  t.match(bad, { code: 1, stderr: /E_BAD_REQUEST: unknown service "Nope"/ })
})
