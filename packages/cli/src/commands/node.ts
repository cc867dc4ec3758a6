import { basename, resolve } from 'node:path'
import type { Command } from 'commander'
import { BadRequestError, ConfigError, createLogger, type LogFormat, type LogLevel } from '@mvm/core'
import { assertPortFree } from '../port.js'

interface NodeFlags {
  config?: string
  roles?: string
  listen?: string[]
  bootstrap?: string[]
  group?: string
  parentGroup?: string
  standby?: boolean
  name?: string
  label: Record<string, string>
  slots?: string
  memoryMb?: string
  dataDir?: string
  soapHost?: string
  soapPort?: string
  tlsCert?: string
  tlsKey?: string
  allowInsecure?: boolean
  policy?: string[]
  heartbeatMs?: string
  missedHeartbeats?: string
  logLevel?: string
  logFormat?: string
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v]
function tlsFlags (f: { tlsCert?: string, tlsKey?: string }): { certFile: string, keyFile: string } {
  if (f.tlsCert === undefined || f.tlsKey === undefined) throw new BadRequestError('--tls-cert and --tls-key go together')
  return { certFile: f.tlsCert, keyFile: f.tlsKey }
}
function collectLabel (v: string, prev: Record<string, string> = {}): Record<string, string> {
  const eq = v.indexOf('=')
  if (eq <= 0) throw new BadRequestError(`--label expects key=value, got "${v}"`)
  return { ...prev, [v.slice(0, eq)]: v.slice(eq + 1) }
}
function int (v: string | undefined, flag: string, min = 0): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < min) throw new BadRequestError(`${flag}: expected an integer >= ${min}, got "${v}"`)
  return n
}

/**
 * `mvm node`: runs one MVM node until SIGINT/SIGTERM. When ready it prints exactly one JSON
 * line on stdout (`{"event":"ready",…}`); logs go to stderr. Flags override the config file.
 */
export function register (program: Command): void {
  program
    .command('node')
    .description('run an MVM node (bootstrap, super-peer and/or peer) until interrupted')
    .option('--config <file>', 'NodeConfig YAML file (flags override it)')
    .option('--roles <list>', 'comma-separated: bootstrap,super-peer,peer (default peer)')
    .option('--listen <multiaddr>', 'libp2p listen address (repeatable; default /ip4/127.0.0.1/tcp/0)', collect)
    .option('--bootstrap <url>', 'bootstrap SOAP URL, e.g. http://127.0.0.1:7700, or a super-peer multiaddr (repeatable)', collect)
    .option('--group <name>', 'peer group (default "default")')
    .option('--parent-group <name>', 'for a super-peer: the parent group to report to')
    .option('--standby', 'with --roles super-peer: stand by for the group\'s active super-peer (follow its job store, take over when it stops answering)')
    .option('--name <name>', 'the node\'s name in messages, mvm nodes and mvm status (default: the config\'s metadata.name, else the data dir\'s basename)')
    .option('--label <k=v>', 'node label (repeatable)', collectLabel, {})
    .option('--slots <n>', 'process slots offered (default 4)')
    .option('--memory-mb <n>', 'memory offered in MB (default 2048)')
    .option('--data-dir <dir>', 'where the node key lives (default .mvm/node-<soap-port>, or .mvm/node-N)')
    .option('--soap-host <host>', 'SOAP bind address (default 127.0.0.1)')
    .option('--soap-port <port>', 'SOAP port (default 0: any free port, printed)')
    .option('--tls-cert <file>', 'serve SOAP (and /ui, /data, /metrics) over HTTPS with this PEM certificate (mvm cert makes one)')
    .option('--tls-key <file>', 'the certificate\'s PEM key')
    .option('--allow-insecure', 'listen on a non-loopback --soap-host although SOAP callers are not authenticated')
    .option('--policy <file>', 'Policy YAML file (repeatable; later levels override earlier)', collect)
    .option('--heartbeat-ms <n>', 'super-peer: heartbeat interval in ms (overrides policy monitoring.intervalSec)')
    .option('--missed-heartbeats <n>', 'super-peer: silent intervals before a peer is down (default 3)')
    .option('--log-level <level>', 'trace, debug, info, warn, error, fatal or silent')
    .option('--log-format <format>', 'json or pretty')
    .action(async (flags: NodeFlags) => { await runNode(flags) })
}

async function runNode (flags: NodeFlags): Promise<void> {
  // loaded only here: other commands never pay for libp2p
  const { createMvmHost, firstFreeDataDir, loadNodeSettings } = await import('@mvm/node')
  // every path a flag names is made absolute here, against the cwd, once: ranks run in
  // sandboxes under the data dir and refuse relative work dirs (the README recipe uses `.mvm/p1`)
  const files = await loadNodeSettings(flags.config !== undefined ? resolve(flags.config) : undefined, (flags.policy ?? []).map((p) => resolve(p)))
  const level = (flags.logLevel ?? files.log?.level ?? 'info') as LogLevel
  const format = (flags.logFormat ?? files.log?.format ?? 'pretty') as LogFormat
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level)) throw new BadRequestError(`--log-level: unknown level "${level}"`)
  if (format !== 'json' && format !== 'pretty') throw new BadRequestError(`--log-format: expected json or pretty, got "${String(format)}"`)
  const logger = createLogger({ level, format })
  for (const w of files.warnings) logger.warn(`policy: ${w}`)

  const f = files.init
  const soapPort = int(flags.soapPort, '--soap-port') ?? f.soap?.port ?? 0
  if (soapPort > 65535) throw new BadRequestError(`--soap-port: expected 0..65535, got ${soapPort}`)
  await assertPortFree(soapPort, flags.soapHost ?? f.soap?.host ?? '127.0.0.1', 'pick another with --soap-port, or 0 for any free port')
  const heartbeatMs = int(flags.heartbeatMs, '--heartbeat-ms', 10) ?? f.monitoring?.heartbeatMs
  const missed = int(flags.missedHeartbeats, '--missed-heartbeats', 1) ?? f.monitoring?.missedHeartbeats
  const dataDir = resolve(flags.dataDir ?? f.dataDir ?? (soapPort !== 0 ? `.mvm/node-${soapPort}` : await firstFreeDataDir('.mvm/node')))
  // a name people can read in failures ("rank 2 on peer-2 (12D3…hYRg)"); carried as the `name` label
  const labels = { ...(f.labels ?? {}), ...flags.label }
  const name = flags.name ?? flags.label.name ?? files.name ?? f.labels?.name ?? basename(dataDir)
  if (name.trim() === '') throw new BadRequestError('--name: expected a non-empty name')
  labels.name = name
  const roles = flags.roles !== undefined ? flags.roles.split(',').map((r) => r.trim()).filter((r) => r !== '') : f.roles
  const host = createMvmHost({
    ...f,
    dataDir,
    roles: roles as never,
    listen: flags.listen ?? f.listen,
    bootstrap: flags.bootstrap ?? f.bootstrap,
    group: flags.group ?? f.group,
    parentGroup: flags.parentGroup ?? f.parentGroup,
    ...(flags.standby === true || f.standby === true ? { standby: true } : {}),
    // one more line on stdout when a standby has taken its group over
    onTakeoverError: (err) => { logger.error({ err }, 'standby takeover failed: exiting'); process.exit(1) },
    onTakeover: (n) => { process.stdout.write(JSON.stringify({ event: 'takeover', peerId: n.peerId, soapUrl: n.soapUrl, multiaddrs: n.multiaddrs, roles: n.roles, group: n.group, name, dataDir }) + '\n') },
    labels,
    capacity: { slots: int(flags.slots, '--slots', 1) ?? f.capacity?.slots, memoryMB: int(flags.memoryMb, '--memory-mb', 1) ?? f.capacity?.memoryMB },
    soap: {
      host: flags.soapHost ?? f.soap?.host,
      port: soapPort,
      ...(flags.tlsCert !== undefined || flags.tlsKey !== undefined ? { tls: tlsFlags(flags) } : {}),
      ...(flags.allowInsecure === true ? { allowInsecure: true } : {})
    },
    monitoring: { heartbeatMs, missedHeartbeats: missed },
    logger,
    ...(files.policy !== undefined ? { policy: files.policy } : {}),
    ...(files.policyFiles !== undefined ? { policyFiles: files.policyFiles } : {})
  })
  const node = host.node

  let stopping: Promise<void> | undefined
  const stop = (sig: string): void => {
    if (stopping !== undefined) { logger.warn(`${sig} again: exiting now`); process.exit(1) }
    logger.info(`${sig}: stopping`)
    // exit explicitly: idle keep-alive sockets of SOAP clients would otherwise hold the process for seconds
    stopping = host.stop().then(() => { process.exit(0) }, (err) => {
      logger.error({ err }, 'stop failed')
      process.exit(1)
    })
  }
  process.on('SIGINT', () => { stop('SIGINT') })
  process.on('SIGTERM', () => { stop('SIGTERM') })

  try {
    await host.start()
  } catch (err) {
    if (err instanceof Error && !(err instanceof ConfigError)) logger.error({ err }, 'node failed to start')
    throw err
  }
  process.stdout.write(JSON.stringify({
    event: 'ready',
    peerId: node.peerId,
    soapUrl: node.soapUrl,
    multiaddrs: node.multiaddrs,
    roles: node.status().roles,
    ...(node.status().roles.includes('standby-super-peer') ? { standby: true } : {}),
    group: node.group,
    name,
    dataDir
  }) + '\n')
  // the libp2p listener and SOAP server keep the process alive until stop()
}
