// HTTPS for SOAP with a certificate from `mvm cert`, and the refusal to listen on a
// non-loopback address while callers are not authenticated.
import t from 'tap'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { MVM_BIN, startNodeProcess } from '@mvm/cli'
import { runCli } from './lib/lab.js'

async function mvm (args: string[], env: Record<string, string> = {}): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise((resolve) => {
    execFile(process.execPath, [MVM_BIN, ...args], { timeout: 60_000, env: { ...process.env, NO_COLOR: '1', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
    })
  })
}

t.test('a node with a certificate serves SOAP over HTTPS', async (t) => {
  const dir = t.testdir({})
  const made = await runCli(['cert', '--out', join(dir, 'tls')])
  t.equal(made.code, 0, made.stderr)
  const cert = join(dir, 'tls', 'cert.pem')
  const node = await startNodeProcess('tls', ['--roles', 'bootstrap,super-peer', '--group', 'tls', '--soap-port', '0', '--data-dir', join(dir, 'node'),
    '--tls-cert', cert, '--tls-key', join(dir, 'tls', 'key.pem')])
  t.teardown(async () => { await node.stop(3000) })
  const url = node.ready.soapUrl
  t.match(url, /^https:\/\/127\.0\.0\.1:\d+$/, 'its endpoint is https')
  const trusted = await mvm(['nodes', '--bootstrap', url, '--json'], { NODE_EXTRA_CA_CERTS: cert })
  t.equal(trusted.code, 0, `a client that trusts the certificate: ${trusted.stderr}`)
  t.match(trusted.stdout, node.ready.peerId, 'lists the node over HTTPS')
  const untrusted = await mvm(['nodes', '--bootstrap', url])
  t.not(untrusted.code, 0, 'a client that does not trust it is refused')
  t.match(untrusted.stderr, /certificate/i, `and says why: ${untrusted.stderr.trim()}`)
  const plain = await fetch(url.replace('https:', 'http:') + '/mvm/Broker?wsdl').then((r) => r.status, (err: Error) => err.message)
  t.not(plain, 200, 'plain HTTP to the HTTPS port gets no WSDL')
})

t.test('a non-loopback SOAP address without authentication is refused unless asked for', async (t) => {
  const dir = t.testdir({})
  const r = await mvm(['node', '--roles', 'bootstrap,super-peer', '--soap-host', '0.0.0.0', '--soap-port', '0', '--data-dir', join(dir, 'n')])
  t.not(r.code, 0, 'the node does not start')
  t.match(r.stderr, /E_CONFIG: soap\.host 0\.0\.0\.0 is not a loopback address.*--allow-insecure/s, 'the error says why and what to do')
  const peer = await mvm(['node', '--roles', 'peer', '--bootstrap', 'http://127.0.0.1:9', '--soap-host', '10.1.2.3', '--soap-port', '0', '--data-dir', join(dir, 'p')])
  t.match(peer.stderr, /not a loopback address/, 'a peer too, while its policy lets callers in unsigned')
  // with a policy that requires credentials it gets past the check (its super-peer checks them) and
  // fails only to bind the address, which this host does not have
  const policy = join(t.testdir({ 'p.yaml': 'apiVersion: mvm/v1\nkind: Policy\nmetadata: { name: p }\nspec:\n  level: node\n  security: { clientAuthentication: required }\n' }), 'p.yaml')
  const signed = await mvm(['node', '--roles', 'peer', '--bootstrap', 'http://127.0.0.1:9', '--policy', policy, '--soap-host', '10.1.2.3', '--soap-port', '0', '--data-dir', join(dir, 'q')])
  t.not(signed.code, 0)
  t.notMatch(signed.stderr, /not a loopback address/, `a peer whose policy requires authentication is not refused for it: ${signed.stderr.trim().split('\n').pop() ?? ''}`)
})
