import { writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { BadRequestError } from '@mvm/core'
import { TOPOLOGY_FORMATS, loadTopologyFile, renderTopology } from '@mvm/model'
import type { TopologyFormat } from '@mvm/model'
import { collectParam, printError } from '../output.js'

interface ShowOptions {
  param?: Record<string, string>
  format: string
  output?: string
}

/** `mvm topology show <file>`: load a Topology file, expand it and print it as text, JSON, DOT or SVG. */
export function register (program: Command): void {
  const topology = program.command('topology').description('inspect virtual topologies (YAML files in topologies/)')
  topology
    .command('show')
    .description('expand a topology file into its ranks and ports and print it')
    .argument('<file>', 'Topology YAML file')
    .option('--param <k=v>', 'set a parameter (repeatable)', collectParam)
    .option('--format <format>', `output format: ${TOPOLOGY_FORMATS.join(', ')}`, 'text')
    .option('-o, --output <file>', 'write to this file instead of standard output')
    .action(async (file: string, opts: ShowOptions) => {
      try {
        const format = opts.format as TopologyFormat
        if (!TOPOLOGY_FORMATS.includes(format)) {
          throw new BadRequestError(`--format must be one of ${TOPOLOGY_FORMATS.join(', ')}, got "${opts.format}"`)
        }
        const { graph } = await loadTopologyFile(file, { params: opts.param ?? {} })
        const out = renderTopology(graph, format)
        if (opts.output !== undefined) await writeFile(opts.output, out)
        else process.stdout.write(out)
      } catch (err) {
        printError(err)
        process.exitCode = 1
      }
    })
}
