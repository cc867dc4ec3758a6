import type { Command } from 'commander'
import { execFile } from 'node:child_process'
import { chmod, mkdir } from 'node:fs/promises'
import { isIP } from 'node:net'
import { join, resolve } from 'node:path'
import { BadRequestError, UnavailableError } from '@mvm/core'
import { wholeNumber } from '../output.js'

const collect = (v: string, prev: string[] = []): string[] => [...prev, v]

/**
 * `mvm cert`: a self-signed certificate for a node's HTTPS endpoint, made by the system's
 * `openssl` (P-256 key, SANs for every --host). Clients trust it by its file:
 * `NODE_EXTRA_CA_CERTS=cert.pem` for mvm, `verify=` for Python requests/zeep.
 */
export function register (program: Command): void {
  program.command('cert')
    .description('make a self-signed certificate and key for a node\'s HTTPS endpoint (mvm node --tls-cert/--tls-key)')
    .option('--out <dir>', 'where to write cert.pem and key.pem', '.')
    .option('--host <name>', 'a DNS name or IP address clients use (repeatable; default localhost and 127.0.0.1)', collect)
    .option('--days <n>', 'validity in days', '365')
    .action(async (o: { out: string, host?: string[], days: string }) => {
      const days = wholeNumber(o.days, '--days', 1, 36500)
      const hosts = o.host ?? ['localhost', '127.0.0.1']
      for (const h of hosts) if (!/^[A-Za-z0-9.:*-]+$/.test(h)) throw new BadRequestError(`--host: "${h}" is not a DNS name or IP address`)
      const san = hosts.map((h) => isIP(h) !== 0 ? `IP:${h}` : `DNS:${h}`).join(',')
      const dir = resolve(o.out)
      await mkdir(dir, { recursive: true })
      const cert = join(dir, 'cert.pem')
      const key = join(dir, 'key.pem')
      await new Promise<void>((res, rej) => {
        execFile('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
          '-days', String(days), '-subj', `/CN=${hosts[0]!}`, '-addext', `subjectAltName=${san}`], { timeout: 30_000 }, (err, _out, stderr) => {
          if (err === null) { res(); return }
          rej((err as NodeJS.ErrnoException).code === 'ENOENT'
            ? new UnavailableError('mvm cert needs the openssl command (apt-get install openssl)')
            : new BadRequestError(`openssl failed: ${stderr.trim() || err.message}`))
        })
      })
      await chmod(key, 0o600)
      process.stdout.write(`wrote ${cert} and ${key} (valid ${days} days for ${hosts.join(', ')})\n` +
        `serve with: mvm node … --tls-cert ${cert} --tls-key ${key}\n` +
        `trust it in mvm with: NODE_EXTRA_CA_CERTS=${cert}\n`)
    })
}
