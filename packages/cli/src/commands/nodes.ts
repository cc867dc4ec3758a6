import type { Command } from 'commander'
import type { NodeInfo } from '@mvm/soap/client'
import { DEFAULT_BOOTSTRAP, USER_HELP, findBroker } from '../remote.js'
import { formatTable, printJson } from '../output.js'

interface NodesFlags { bootstrap?: string, broker?: string, group?: string, user?: string, json?: boolean }

/**
 * `mvm nodes`: asks a bootstrap for the group's broker (super-peer), then Broker.ListNodes,
 * and prints one row per node (or JSON).
 */
export function register (program: Command): void {
  program
    .command('nodes')
    .description("list a group's nodes as its super-peer sees them (LOAD: CPUs busy with the node's work; SLOTS: free/total rank slots, - on nodes that run no ranks)")
    .option('--bootstrap <url>', `bootstrap node SOAP URL (default $MVM_BOOTSTRAP or ${DEFAULT_BOOTSTRAP})`)
    .option('--broker <url>', "the super-peer's SOAP URL (skips the bootstrap lookup)")
    .option('--group <name>', 'group to list (default: the first registered group)')
    .option('--user <name>', USER_HELP)
    .option('--json', 'print the nodes as JSON')
    .action(async (flags: NodesFlags) => {
      const broker = await findBroker(flags)
      const res = await broker.ListNodes(flags.group === undefined ? {} : { group: flags.group }, { timeoutMs: 10_000 })
      if (flags.json === true) { printJson(res.nodes); return }
      process.stdout.write(table(res.nodes))
      // the reservations in force (best effort: a caller without policy.read just sees the nodes)
      const held = await broker.GetPolicy({ timeoutMs: 10_000 }).then((r) => (JSON.parse(r.policyJson) as { reservations?: ReservationView[] }).reservations ?? [], () => [])
      if (held.length > 0) process.stdout.write(reservationLines(held, res.nodes))
    })
}

function shortId (id: string): string {
  return id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-6)}` : id
}

function ago (iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000))
  return Number.isNaN(s) ? '?' : `${s}s ago`
}

/**
 * LOAD is how many CPUs the node keeps busy (its process and its ranks), not the host's load
 * average. SLOTS are free/total slots for ranks: a node without the peer role runs none, so `-`.
 */
export function table (nodes: NodeInfo[]): string {
  const head = ['NAME', 'PEER', 'GROUP', 'ROLES', 'STATE', 'LOAD', 'SLOTS', 'MEM MB', 'LAST SEEN']
  const rows = nodes.map((n) => [
    n.labels.name ?? '-', shortId(n.peerId), n.group, n.roles.join(','), n.drain !== undefined ? `${n.state} (${n.drain})` : n.state, `${n.load.toFixed(2)} cpu`,
    n.roles.includes('peer') ? `${n.freeSlots}/${n.totalSlots}` : '-', String(n.freeMemoryMB), ago(n.lastSeen)
  ])
  return formatTable(head, rows) + (nodes.length === 0 ? '(no nodes)\n' : '')
}

interface ReservationView { name: string, slots?: number, nodes?: string[], subjects?: string[], from?: string, to?: string, active: boolean, held: Record<string, number>, used: Record<string, number> }

/** One line per reservation: its window, for whom, and the slots it holds per node (used/held) while active. */
export function reservationLines (rs: ReservationView[], nodes: NodeInfo[]): string {
  const nameOf = (p: string): string => nodes.find((n) => n.peerId === p)?.labels.name ?? shortId(p)
  const lines = ['RESERVATIONS']
  for (const r of rs) {
    const where = Object.entries(r.held).map(([p, n]) => `${nameOf(p)} ${r.used[p] ?? 0}/${n}`).join(', ')
    lines.push(`  ${r.name}  ${r.active ? 'active' : 'waiting'}  ${r.from ?? 'now'} .. ${r.to ?? 'open'}  for ${(r.subjects ?? ['anyone']).join(',')}  ${r.active ? `held (used/held): ${where === '' ? 'none free' : where}` : `${r.slots ?? 'all'} slot(s)${r.nodes !== undefined ? ` on ${r.nodes.join(',')}` : ''}`}`)
  }
  return lines.join('\n') + '\n'
}
