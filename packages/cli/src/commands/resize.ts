import type { Command } from 'commander'
import { brokerOptions, findBroker, type BrokerLocation } from '../remote.js'
import { wholeNumber } from '../output.js'

/** `mvm resize JOB N`: restart a running malleable job at N ranks from a consistent cut (SOAP ResizeJob). */
export function register (program: Command): void {
  brokerOptions(program.command('resize')
    .description('restart a running malleable job (profile processes: { min, max }) at <size> ranks from a consistent cut taken now; its ranks get the old layout (ctx.resized) to redistribute. Exits 1 with E_NOT_MALLEABLE for another job, E_BAD_REQUEST for a size outside [min, max]')
    .argument('<job>', 'job id, or a unique prefix of one')
    .argument('<size>', 'the new number of ranks'))
    .action(async (jobId: string, size: string, o: BrokerLocation) => {
      const n = wholeNumber(size, '<size>', 1, 100_000)
      const broker = await findBroker(o)
      const info = await broker.ResizeJob({ jobId, size: n }, { timeoutMs: 60_000 })
      process.stdout.write(`${info.jobId} ${info.state} ${info.size} ranks\n`)
    })
}
