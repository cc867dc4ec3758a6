import { open } from 'node:fs/promises'
import { BadRequestError } from '@mvm/core'
import { loadWorkflow } from '@mvm/model'
import type { BrokerClient } from '@mvm/soap/client'
import { formatTable, printJson } from './output.js'
import { readRescue, runWorkflow, type StepRecord } from './workflow.js'

/** Whether a file declares `kind: Workflow` (read from its first 64 KiB; the loader checks the rest). */
export async function isWorkflowFile (file: string): Promise<boolean> {
  let fh
  try { fh = await open(file, 'r') } catch { return false }
  try {
    const buf = Buffer.alloc(65_536)
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0)
    return /^kind:\s*["']?Workflow["']?\s*(#.*)?$/m.test(buf.subarray(0, bytesRead).toString('utf8'))
  } finally { await fh.close() }
}

export interface WorkflowCommand {
  params: Record<string, string>
  owner: string
  broker: () => Promise<BrokerClient>
  timeoutMs: number
  json: boolean
  /** `true`: the default rescue file; a string: that file. */
  rescue?: string | boolean
}

/** `mvm submit workflow.yaml`: runs the DAG, prints one line per step, exits 2 unless every step succeeded. */
export async function submitWorkflow (file: string, o: WorkflowCommand): Promise<void> {
  const wf = await loadWorkflow(file, { params: o.params })
  const rescueFile = typeof o.rescue === 'string' ? o.rescue : `${file}.rescue.json`
  const rescue = o.rescue === undefined || o.rescue === false ? undefined : await readRescue(rescueFile, wf)
  if (rescue !== undefined && Object.values(rescue.steps).every((s) => s.state === 'succeeded')) throw new BadRequestError(`--rescue: every step in ${rescueFile} already succeeded; nothing to resume`)
  const broker = await o.broker()
  const ac = new AbortController()
  const onSignal = (): void => { ac.abort(new Error(`interrupted; resume with: mvm submit ${file} --rescue`)) }
  process.once('SIGINT', onSignal)
  let steps: Record<string, StepRecord>
  try {
    steps = await runWorkflow(wf, {
      broker, owner: o.owner, rescueFile, timeoutMs: o.timeoutMs, signal: ac.signal,
      ...(rescue !== undefined ? { rescue } : {}),
      onStep: (name, r) => {
        if (o.json) return
        const what = r.state === 'running' ? `running ${r.jobId ?? ''} (attempt ${r.attempts})` : r.state + (r.reason !== undefined && r.state !== 'succeeded' ? ` (${r.reason})` : '')
        process.stderr.write(`${wf.metadata.name}/${name}: ${what}\n`)
      }
    })
  } finally { process.off('SIGINT', onSignal) }
  const ok = Object.values(steps).every((r) => r.state === 'succeeded')
  if (o.json) printJson({ workflow: wf.metadata.name, ok, steps, ...(ok ? {} : { rescueFile }) })
  else {
    process.stdout.write(formatTable(['STEP', 'STATE', 'JOB', 'ATTEMPTS', 'RESULT'], wf.steps.map((s) => {
      const r = steps[s.name]!
      return [s.name, r.state, r.jobId ?? '-', String(r.attempts), r.state === 'succeeded' ? (r.resultJson ?? '') : (r.reason ?? '')]
    })))
    if (!ok) process.stderr.write(`not every step succeeded; fix the cause, then resume with: mvm submit ${file} --rescue\n`)
  }
  if (!ok) process.exitCode = 2
}
