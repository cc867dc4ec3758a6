import type { Command } from 'commander'
import { dirname, relative } from 'node:path'
import { profileRequest } from '../profile-request.js'
import { uploadInputs } from '../data-transfer.js'
import { collectParam, printJson, wholeNumber } from '../output.js'
import { brokerOptions, currentUser, findBroker, type BrokerLocation } from '../remote.js'
import { waitForJob, printOutcome, type Outcome } from '../wait.js'
import { sweepTable } from '../sweep.js'
import { arrayElements } from '../array-elements.js'
import { isWorkflowFile, submitWorkflow } from '../workflow-command.js'

interface SubmitOptions extends BrokerLocation { inputDir?: string[], param?: Record<string, string>, dependsOn?: string[], wait?: boolean, json?: boolean, full?: boolean, timeout?: string, owner?: string, rescue?: string | boolean }

export function register (program: Command): void {
  brokerOptions(program.command('submit')
    .description('submit a job profile to the group\'s broker (prints the job id; --wait follows it to its result)')
    .argument('<profile>', 'job profile YAML file, or a Workflow file (its DAG runs from this command until every step ended)')
    .option('-p, --param <k=v>', 'override a profile parameter (repeatable)', collectParam)
    .option('-d, --depends-on <deps>', 'run only after these jobs end: TYPE:JOB[:JOB…] (afterok, afterany, afternotok; JOB a job id or name), comma-separated, repeatable; JOB alone is afterok', (v: string, prev: string[] = []) => [...prev, v])
    .option('-w, --wait', 'wait for the job to finish, showing progress, then print its result')
    .option('--timeout <sec>', 'with --wait: give up waiting after this many seconds', '3600')
    .option('--owner <name>', 'same as --user (the job\'s owner is the subject submitting it)')
    .option('--full', 'with --wait: print long results whole (they are cut by default)')
    .option('--rescue [file]', 'a Workflow: resume from its rescue file (default <workflow>.rescue.json): succeeded steps are not run again')
    .option('--input-dir <dir>', 'a folder local inputs may come from besides the profile\'s and the current one (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--json', 'machine-readable output'))
    .action(async (file: string, o: SubmitOptions) => {
      const params = o.param ?? {}
      // checked before anything is submitted: a bad --timeout must not leave a job behind
      const timeoutMs = wholeNumber(o.timeout ?? '3600', '--timeout', 1, 30 * 86_400) * 1000
      const who = { ...o, user: o.user ?? o.owner }
      if (await isWorkflowFile(file)) {
        await submitWorkflow(file, { params, owner: currentUser(who), broker: async () => await findBroker(who), timeoutMs, json: o.json === true, ...(o.rescue !== undefined ? { rescue: o.rescue } : {}) })
        return
      }
      const { request, profile } = await profileRequest(file, { params, owner: currentUser(who), ...(o.inputDir !== undefined ? { allowDirs: o.inputDir } : {}) })
      if (o.dependsOn !== undefined) request.dependsOn = o.dependsOn
      const broker = await findBroker(who)
      const inputs = await uploadInputs(profile, broker.url, { quiet: o.json === true, authorization: broker.httpAuthorization })
      if (inputs.length > 0) request.inputs = inputs
      const res = await broker.SubmitJob(request, { timeoutMs: 60_000 })
      if (o.wait !== true) {
        if (o.json === true) printJson(res)
        else process.stdout.write(res.jobId + (res.childJobIds.length > 0 ? ` (${res.childJobIds.length} array elements: ${res.childJobIds.join(' ')})` : '') + '\n')
        return
      }
      if (o.json !== true) process.stderr.write(`submitted ${res.jobId} (${profile.metadata.name}) from ${relative(process.cwd(), dirname(file)) || '.'}\n`)
      const ids = res.childJobIds.length > 0 ? res.childJobIds : [res.jobId]
      const elements = res.childJobIds.length > 0 ? arrayElements(profile) : undefined
      let failed = 0
      const outcomes: Outcome[] = []
      for (const id of ids) {
        const outcome = await waitForJob(broker, id, { timeoutMs, progress: o.json !== true })
        if (elements === undefined || o.json === true) printOutcome(outcome, { json: o.json === true, full: o.full === true })
        outcomes.push(outcome)
        if (outcome.info.state !== 'succeeded') failed++
      }
      if (elements !== undefined && o.json !== true) process.stdout.write(sweepTable(elements, outcomes, o.full === true))
      if (failed > 0) process.exitCode = 2
    })
}
