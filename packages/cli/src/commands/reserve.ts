import type { Command } from 'commander'
import { BadRequestError } from '@mvm/core'
import { brokerOptions, findBroker, type BrokerLocation } from '../remote.js'
import { printJson } from '../output.js'

interface Opts extends BrokerLocation { nodes?: string, slots?: string, start?: string, duration: string, owner?: string[], json?: boolean }

/** `90`, `90s`, `30m`, `2h`, `1d` → seconds. */
export function parseDuration (text: string): number {
  const m = /^(\d+)(s|m|h|d)?$/.exec(text.trim())
  if (m === null) throw new BadRequestError(`mvm reserve: --duration: expected seconds or a number with s, m, h or d (e.g. 90m), got ${JSON.stringify(text)}`)
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd']
}

/** `mvm reserve NAME`: holds slots or nodes for the jobs that name the reservation (profile `spec.reservation`). */
export function register (program: Command): void {
  brokerOptions(program.command('reserve')
    .description('hold slots (--slots) or whole nodes (--nodes) for the jobs that name this reservation (profile spec.reservation: NAME) during a window; others\' jobs do not get them meanwhile')
    .argument('<name>', 'the reservation\'s name, as profiles name it')
    .option('--nodes <list>', 'whole nodes to hold: peer IDs or name labels, comma-separated')
    .option('--slots <n>', 'how many slots to hold (on the nodes given, or on any)')
    .option('--start <time>', 'when the window opens (ISO date-time; default now)')
    .requiredOption('--duration <d>', 'how long it lasts: seconds, or with s, m, h, d (e.g. 90m)')
    .option('--owner <subject...>', 'who may submit into it (default: you)')
    .option('--json', 'print the reservation as JSON'))
    .action(async (name: string, o: Opts) => {
      const slots = o.slots === undefined ? undefined : Number(o.slots)
      if (slots !== undefined && !(Number.isInteger(slots) && slots > 0)) throw new BadRequestError(`mvm reserve: --slots must be a positive integer, got ${o.slots}`)
      const nodes = o.nodes === undefined ? [] : o.nodes.split(',').map((n) => n.trim()).filter((n) => n !== '')
      if (slots === undefined && nodes.length === 0) throw new BadRequestError('mvm reserve: give --slots N or --nodes A,B (or both)')
      const broker = await findBroker(o)
      const res = await broker.Reserve({
        name, nodes, durationSec: parseDuration(o.duration), owners: o.owner ?? [],
        ...(slots !== undefined ? { slots } : {}),
        ...(o.start !== undefined ? { start: o.start } : {})
      }, { timeoutMs: 10_000 })
      if (o.json === true) { printJson(res); return }
      process.stdout.write(`reserved ${res.name} on ${broker.url}: ${slots !== undefined ? `${slots} slot(s)` : ''}${slots !== undefined && nodes.length > 0 ? ' on ' : ''}${nodes.length > 0 ? `nodes ${nodes.join(', ')}` : ''} from ${res.from} to ${res.to}\n` +
        `jobs run in it with  spec.reservation: ${res.name}  in their profile\n`)
    })
}
