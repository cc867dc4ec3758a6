import type { Command } from 'commander'
import { stat } from 'node:fs/promises'
import { basename, resolve } from 'node:path'
import { BadRequestError, NotFoundError } from '@mvm/core'
import { downloadFile, uploadFile } from '@mvm/data/client'
import { formatTable, printJson } from '../output.js'
import { brokerOptions, findBroker, type BrokerLocation } from '../remote.js'
import { dataBase, transferProgress } from '../data-transfer.js'

type Opts = BrokerLocation & { json?: boolean }

function size (n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1073741824) return `${(n / 1048576).toFixed(1)} MiB`
  return `${(n / 1073741824).toFixed(2)} GiB`
}

/** `mvm data`: the broker's content-addressed store (job inputs, outputs, files put by users). */
export function register (program: Command): void {
  const data = program.command('data').description('the lab\'s data store on the broker: files by content id (ls, put, get, rm)')

  brokerOptions(data.command('ls')
    .description('list the stored files: id, name, size, bytes stored, hits, who pins them')
    .option('--json', 'machine-readable output'))
    .action(async (o: Opts) => {
      const broker = await findBroker(o)
      const r = await broker.ListData()
      if (o.json === true) { printJson(r); return }
      const rows = r.files.map((f) => [f.id.slice(0, 16), f.name, size(f.size), size(f.storedBytes), String(f.hits), f.pins.join(' ') || '-', f.lastUsedAt])
      process.stdout.write(formatTable(['ID', 'NAME', 'SIZE', 'STORED', 'HITS', 'PINS', 'LAST USED'], rows))
      process.stdout.write(`${r.files.length} file${r.files.length === 1 ? '' : 's'}, ${size(r.storedBytes)} stored of ${size(r.maxBytes)}\n`)
    })

  brokerOptions(data.command('put')
    .description('upload a file (only chunks the store lacks are sent); prints its content id, which a profile names as inputs: [{ id, as }]')
    .argument('<file>', 'local file')
    .option('--name <name>', 'name to list it under (default the file name)')
    .option('--json', 'machine-readable output'))
    .action(async (file: string, o: Opts & { name?: string }) => {
      const s = await stat(file).catch(() => { throw new NotFoundError(`file not found: ${file}`) })
      if (!s.isFile()) throw new BadRequestError(`${file} is not a regular file`)
      const broker = await findBroker(o)
      const p = transferProgress(`put ${basename(file)}`, s.size, { quiet: o.json === true })
      const r = await uploadFile(dataBase(broker.url), resolve(file), { name: o.name ?? basename(file), pin: 'user', onProgress: p.onProgress, authorization: broker.httpAuthorization })
      p.done(r.sentBytes)
      if (o.json === true) printJson(r); else process.stdout.write(r.id + '\n')
    })

  brokerOptions(data.command('get')
    .description('download a stored file by content id (a unique prefix is enough), verified chunk by chunk')
    .argument('<id>', 'content id or unique prefix (see mvm data ls)')
    .argument('[dest]', 'where to write it (default its stored name in the current folder)'))
    .action(async (idArg: string, dest: string | undefined, o: Opts) => {
      const broker = await findBroker(o)
      const { files } = await broker.ListData()
      const hits = files.filter((f) => f.id.startsWith(idArg.toLowerCase()))
      if (hits.length === 0) throw new NotFoundError(`no stored file has an id starting ${idArg}`)
      if (hits.length > 1) throw new BadRequestError(`${idArg} matches ${hits.length} files (${hits.slice(0, 5).map((f) => f.id.slice(0, 16)).join(', ')}…); give more of the id`)
      const f = hits[0]!
      const to = dest ?? basename(f.name === '' ? f.id : f.name)
      const p = transferProgress(`get ${f.name || f.id.slice(0, 16)}`, f.size)
      await downloadFile(dataBase(broker.url), f.id, to, { onProgress: p.onProgress, authorization: broker.httpAuthorization })
      p.done(f.size)
      process.stderr.write(`wrote ${to}\n`)
    })

  brokerOptions(data.command('rm')
    .description('remove a stored file by content id (its chunks go once no other file uses them)')
    .argument('<id>', 'full content id'))
    .action(async (id: string, o: Opts) => {
      const broker = await findBroker(o)
      const r = await broker.RemoveData({ id })
      if (!r.removed) { process.stderr.write(`no stored file ${id}\n`); process.exitCode = 1; return }
      process.stdout.write(`removed ${id}\n`)
    })
}
