import { mkdir } from 'node:fs/promises'
import { dirname, relative, resolve, isAbsolute } from 'node:path'
import { cliProgress } from './progress-bar.js'
import { BadRequestError } from '@mvm/core'
import { downloadFile, uploadFile } from '@mvm/data/client'
import { workDirPath, type LoadedProfile } from '@mvm/model'
import type { DataInput, JobOutput } from '@mvm/soap/client'

/** The node's base URL (where /data is served) from a SOAP service URL. */
export function dataBase (serviceUrl: string): string { return new URL(serviceUrl).origin }

function mib (n: number): string { return `${(n / 1048576).toFixed(1)} MiB` }

/**
 * A transfer's progress on stderr: bytes, rate and time left, redrawn on a terminal (or with
 * MVM_PROGRESS=1), one line at the end otherwise. Small files (< 8 MiB) show only the end line.
 */
export function transferProgress (label: string, total: number, o: { quiet?: boolean } = {}): { onProgress: (done: number, total: number) => void, done: (sent: number) => void } {
  const forced = process.env.MVM_PROGRESS === '1'
  const tty = o.quiet !== true && process.env.MVM_PROGRESS !== '0' && (forced || process.stderr.isTTY) && total >= 8 * 1048576
  const t0 = Date.now()
  const bar = tty
    ? new (cliProgress().SingleBar)({
      format: `${label} |{bar}| {got} / {all} · {rate}/s · ETA {eta_formatted}`, stream: process.stderr, hideCursor: true, noTTYOutput: forced, notTTYSchedule: 500, etaBuffer: 20
    }, cliProgress().Presets.shades_classic)
    : undefined
  bar?.start(total, 0, { got: mib(0), all: mib(total), rate: mib(0) })
  return {
    onProgress: (d) => { bar?.update(d, { got: mib(d), all: mib(total), rate: mib(d / Math.max(0.001, (Date.now() - t0) / 1000)) }) },
    done: (sent) => {
      bar?.stop()
      if (o.quiet === true) return
      const sec = (Date.now() - t0) / 1000
      process.stderr.write(`${label}: ${mib(total)}, ${mib(sent)} sent${sent < total ? ' (the rest was already there or zeros)' : ''} in ${sec.toFixed(1)} s\n`)
    }
  }
}

/**
 * Uploads the profile's local inputs to the broker's store: only chunks it lacks cross the
 * network, zero chunks never. Returns the SubmitJob `inputs` naming each by content id.
 */
export async function uploadInputs (profile: LoadedProfile, brokerUrl: string, o: { quiet?: boolean, signal?: AbortSignal, authorization?: string | undefined } = {}): Promise<DataInput[]> {
  const base = dataBase(brokerUrl)
  const out: DataInput[] = []
  for (const input of profile.inputs) {
    if (input.source.kind !== 'local') continue
    const p = transferProgress(`input ${input.as}`, input.source.size, o)
    const r = await uploadFile(base, input.source.path, { name: input.as, onProgress: p.onProgress, authorization: o.authorization, ...(o.signal === undefined ? {} : { signal: o.signal }) })
    p.done(r.sentBytes)
    out.push({ name: input.as, id: r.id })
  }
  return out
}

/** Where an output goes under `dir`: its stored name, which must stay inside `dir`. */
export function outputPath (dir: string, name: string): string {
  const n = workDirPath(name)
  if ('error' in n) throw new BadRequestError(`output name ${n.error}`)
  const dest = resolve(dir, n.ok)
  const rel = relative(resolve(dir), dest)
  if (rel.startsWith('..') || isAbsolute(rel)) throw new BadRequestError(`output "${name}" would be written outside ${dir}`)
  return dest
}

/** Downloads a job's outputs into `dir` (verified against their content ids); returns the files written. */
export async function downloadOutputs (outputs: JobOutput[], brokerUrl: string, dir: string, o: { quiet?: boolean, signal?: AbortSignal, authorization?: string | undefined } = {}): Promise<string[]> {
  const base = dataBase(brokerUrl)
  const written: string[] = []
  for (const f of outputs) {
    const dest = outputPath(dir, f.name)
    await mkdir(dirname(dest), { recursive: true })
    const p = transferProgress(`output ${f.name}`, f.size, o)
    await downloadFile(base, f.id, dest, { onProgress: p.onProgress, authorization: o.authorization, ...(o.signal === undefined ? {} : { signal: o.signal }) })
    p.done(f.size)
    written.push(dest)
  }
  return written
}

