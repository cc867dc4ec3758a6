import type { Command } from 'commander'
import { dirname, relative } from 'node:path'
import { profileRequest } from '../profile-request.js'
import { collectParam, printJson } from '../output.js'
import { brokerOptions, currentUser, findBroker, type BrokerLocation } from '../remote.js'
import { waitForJob, printOutcome } from '../wait.js'

interface SubmitOptions extends BrokerLocation { param?: Record<string, string>, wait?: boolean, json?: boolean, timeout?: string, owner?: string }

export function register (program: Command): void {
  brokerOptions(program.command('submit')
    .description('submit a job profile to the group\'s broker (prints the job id; --wait follows it to its result)')
    .argument('<profile>', 'job profile YAML file')
    .option('-p, --param <k=v>', 'override a profile parameter (repeatable)', collectParam)
    .option('-w, --wait', 'wait for the job to finish, showing progress, then print its result')
    .option('--timeout <sec>', 'with --wait: give up waiting after this many seconds', '3600')
    .option('--owner <name>', 'same as --user (the job\'s owner is the subject submitting it)')
    .option('--json', 'machine-readable output'))
    .action(async (file: string, o: SubmitOptions) => {
      const params = o.param ?? {}
      const who = { ...o, user: o.user ?? o.owner }
      const { request, profile } = await profileRequest(file, { params, owner: currentUser(who) })
      const broker = await findBroker(who)
      const res = await broker.SubmitJob(request, { timeoutMs: 60_000 })
      if (o.wait !== true) {
        if (o.json === true) printJson(res)
        else process.stdout.write(res.jobId + (res.childJobIds.length > 0 ? ` (${res.childJobIds.length} array elements: ${res.childJobIds.join(' ')})` : '') + '\n')
        return
      }
      if (o.json !== true) process.stderr.write(`submitted ${res.jobId} (${profile.metadata.name}) from ${relative(process.cwd(), dirname(file)) || '.'}\n`)
      const ids = res.childJobIds.length > 0 ? res.childJobIds : [res.jobId]
      let failed = 0
      for (const id of ids) {
        const outcome = await waitForJob(broker, id, { timeoutMs: Number(o.timeout) * 1000, progress: o.json !== true })
        printOutcome(outcome, o.json === true)
        if (outcome.info.state !== 'succeeded') failed++
      }
      if (failed > 0) process.exitCode = 2
    })
}
