// `npm run bench [-- --quick] [--only rows] [--out dir]`: runs, prints the table, writes the reports.
import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import { Command } from 'commander'
import { MvmError } from '@mvm/core'
import { groups, renderTable, runBench, stopAll } from './index.js'

const program = new Command('bench')
  .description('MVM toolkit benchmarks, each against a baseline measured interleaved in the same run')
  .option('--quick', 'small sizes and 3 rounds (a few minutes)')
  .option('--only <rows>', `comma-separated groups or row ids: ${groups.map((g) => g.name).join(', ')}`)
  .option('--out <dir>', 'output folder for results.json/.md/.svg', 'bench-results')
  .option('--list', 'list the rows and exit')
program.parse()
const opts = program.opts<{ quick?: boolean, only?: string, out: string, list?: boolean }>()

if (opts.list === true) {
  for (const g of groups) {
    process.stdout.write(`${g.name}: ${g.title}\n`)
    for (const r of g.rows as Array<{ id: string, figure: string, baseline: string }>) process.stdout.write(`  ${r.id}: ${r.figure} vs ${r.baseline}\n`)
  }
  process.exit(0)
}

const ac = new AbortController()
let interrupted = 0
const onSignal = (sig: NodeJS.Signals): void => {
  interrupted++
  process.stderr.write(`\n${sig}: stopping every process the bench started…\n`)
  if (interrupted > 1) { void stopAll().finally(() => process.exit(130)) ; return }
  ac.abort(new Error(`interrupted by ${sig}`))
}
process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)

const only = opts.only?.split(',').map((s) => s.trim()).filter((s) => s !== '')
const outDir = resolve(opts.out)
await mkdir(outDir, { recursive: true })
const log = (line: string): void => { process.stderr.write(`[bench] ${line}\n`) }
const command = ['npm run bench --', ...process.argv.slice(2)].join(' ').replace(/ --$/, '')

try {
  const run = await runBench({
    quick: opts.quick === true,
    ...(only !== undefined ? { only } : {}),
    outDir,
    command,
    log,
    onRow: (r) => { log(`${r.id}: ratio ${r.ratio === null ? 'unavailable' : r.ratio.toFixed(3)}`) },
    signal: ac.signal
  })
  process.stdout.write(renderTable(run.rows) + '\n\n')
  process.stdout.write(`wrote ${run.files.json}\n      ${run.files.markdown}\n      ${run.files.svg}\n`)
} catch (err) {
  const e = err as Error
  process.stderr.write(`bench: ${err instanceof MvmError ? `${err.code}: ` : ''}${e.message}\n`)
  process.exitCode = ac.signal.aborted ? 130 : 1
} finally {
  await stopAll()
}
// idle keep-alive sockets of SOAP clients would hold the process for seconds
process.exit(process.exitCode ?? 0)
