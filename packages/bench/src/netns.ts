// Emulated LAN hosts for rows that must not be CPU-bound on loopback: each "host" is a Linux
// network namespace with one veth into a bridge, and the bridge lives in a namespace of its own,
// so nothing here touches the root namespace's network. Each host's link is shaped with tbf
// (netem is not in every kernel) in both directions: on the host's side of the veth (what it
// sends) and on the bridge's side (what it receives), as a full-duplex NIC on a switch would be.
import { execFile, spawnSync } from 'node:child_process'
import { SandboxError, UnavailableError } from '@mvm/core'

/** One emulated host: its namespace, its address on the bridge, its side of the veth pair. */
export interface NetHost {
  ns: string
  ip: string
  dev: string
}

export interface NetHostsInit {
  count: number
  /** tbf rate per direction of each host's link, in tc's syntax; default `1gbit`. */
  rate?: string
  /** tbf bucket; default `512kb` (veth hands tbf GSO packets of up to 64 KiB). */
  burst?: string
  signal?: AbortSignal
}

export interface NetHosts {
  hosts: NetHost[]
  /** The bridge's namespace (links can be cut there with `ip -n <switchNs> link set <port> down`). */
  switchNs: string
  /** Deletes every namespace this set made; safe to call twice. */
  teardown: () => Promise<void>
}

/** Why hosts cannot be built here (not Linux, not root, iproute2 missing), or undefined. */
export function whyNot (): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (process.getuid?.() !== 0) return 'building network namespaces needs root'
  for (const [cmd, args] of [['ip', ['netns', 'list']], ['tc', ['-V']]] as const) {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000 })
    if (r.error !== undefined || r.status !== 0) return `\`${cmd} ${args.join(' ')}\` is not usable here (iproute2): ${r.error?.message ?? r.stderr.trim()}`
  }
  return undefined
}

let made = 0
const OURS = /^mvb(\d+)x\d+(sw|h\d+)$/

/** Whether process `pid` still runs (EPERM: it does, as another user). */
function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

/**
 * Deletes namespaces a bench process left behind when it was killed before its teardown ran
 * (SIGKILL, a second Ctrl-C): ours by name, and only those whose process is gone.
 */
async function sweep (): Promise<void> {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 5000 })
  const stale = r.stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => {
    const m = OURS.exec(n)
    return m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]))
  })
  await Promise.all(stale.map(async (ns) => { await run('ip', ['netns', 'del', ns]).catch(() => {}) }))
}

async function run (cmd: string, args: string[], signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    execFile(cmd, args, { timeout: 10_000, ...(signal !== undefined ? { signal } : {}) }, (err, _out, stderr) => {
      if (err === null) resolve()
      else reject(new SandboxError(`${cmd} ${args.join(' ')}: ${stderr.trim() !== '' ? stderr.trim() : err.message}`))
    })
  })
}

/**
 * Builds `count` hosts on one bridge. Names carry the pid and a counter, so parallel runs
 * and test files never share one; a failed setup deletes what it made before throwing.
 */
export async function createNetHosts (init: NetHostsInit): Promise<NetHosts> {
  const why = whyNot()
  if (why !== undefined) throw new UnavailableError(why)
  const { count, rate = '1gbit', burst = '512kb', signal } = init
  if (!Number.isInteger(count) || count < 1 || count > 250) throw new SandboxError(`net hosts: count must be 1..250, got ${count}`)
  await sweep()
  const n = made++
  const tag = `mvb${process.pid}x${n}`
  // a /24 per set; the namespaces are private, so the subnet only has to differ between sets
  // that a reader might confuse in `ip netns` output
  const net = `10.${80 + (n % 40)}.${process.pid % 250}`
  const switchNs = `${tag}sw`
  const hosts = Array.from({ length: count }, (_, i) => ({ ns: `${tag}h${i}`, ip: `${net}.${i + 1}`, dev: 'eth0' }))
  const created: string[] = []
  const teardown = async (): Promise<void> => {
    // deleting a namespace deletes its veth end, whose peer goes with it
    const all = created.splice(0)
    await Promise.all(all.map(async (ns) => { await run('ip', ['netns', 'del', ns]).catch(() => {}) }))
  }
  const shape = async (ns: string, dev: string): Promise<void> => {
    await run('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', rate, 'burst', burst, 'latency', '20ms'], signal)
  }
  try {
    await run('ip', ['netns', 'add', switchNs], signal)
    created.push(switchNs)
    await run('ip', ['-n', switchNs, 'link', 'add', 'br0', 'type', 'bridge'], signal)
    await run('ip', ['-n', switchNs, 'link', 'set', 'br0', 'up'], signal)
    for (const [i, h] of hosts.entries()) {
      const port = `p${i}`
      await run('ip', ['netns', 'add', h.ns], signal)
      created.push(h.ns)
      // both ends are created straight inside their namespaces: no name ever exists in the root one
      await run('ip', ['link', 'add', h.dev, 'netns', h.ns, 'type', 'veth', 'peer', 'name', port, 'netns', switchNs], signal)
      await run('ip', ['-n', switchNs, 'link', 'set', port, 'master', 'br0', 'up'], signal)
      await run('ip', ['-n', h.ns, 'addr', 'add', `${h.ip}/24`, 'dev', h.dev], signal)
      await run('ip', ['-n', h.ns, 'link', 'set', h.dev, 'up'], signal)
      await run('ip', ['-n', h.ns, 'link', 'set', 'lo', 'up'], signal)
      await shape(h.ns, h.dev)
      await shape(switchNs, port)
    }
  } catch (err) {
    await teardown()
    throw err
  }
  return { hosts, switchNs, teardown }
}
