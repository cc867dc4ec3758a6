import type { Command } from 'commander'
import { ErrorCode, toMvmError } from '@mvm/core'
import type { DrainNodeResponse } from '@mvm/soap/client'
import { printJson, wholeNumber } from '../output.js'
import { brokerOptions, findBroker, type BrokerLocation } from '../remote.js'

interface Opts extends BrokerLocation { json?: boolean }

/** A migration waits for the job's next cut (up to 30 s on the broker) and the ranks' restart. */
const MIGRATE_TIMEOUT_MS = 90_000

/** `mvm migrate`, `mvm drain`, `mvm undrain`: moving ranks of running jobs between nodes. */
export function register (program: Command): void {
  brokerOptions(program.command('migrate')
    .description('move one rank of a running job (profile checkpoint.mode: coordinated) to another node of the group: a fresh cut is taken and the ranks go on from it, that rank on its new node; a job that cannot move exits 1')
    .argument('<job>', 'job id, or a unique prefix of one')
    .requiredOption('--rank <r>', 'the rank to move')
    .requiredOption('--to <node>', 'the node to move it to: peer ID, short ID, unique prefix or name label')
    .option('--json', 'print the job as it runs now'))
    .action(async (jobId: string, o: Opts & { rank: string, to: string }) => {
      const rank = wholeNumber(o.rank, '--rank', 0)
      const broker = await findBroker(o)
      await refusedExits1(async () => {
        const info = await broker.MigrateRank({ jobId, rank, node: o.to }, { timeoutMs: MIGRATE_TIMEOUT_MS })
        if (o.json === true) { printJson(info); return }
        const where = info.placement.find((p) => p.rank === rank)?.peerId ?? o.to
        process.stdout.write(`${info.jobId} ${info.state}: rank ${rank} on ${where}\n`)
      })
    })

  brokerOptions(program.command('drain')
    .description('a node takes no new ranks (mvm nodes: draining, then drained); the ranks running there move elsewhere when their job takes coordinated cuts and there is room, the others finish there (as scontrol update state=drain)')
    .argument('<node>', 'peer ID, short ID, unique prefix or name label')
    .option('--undo', 'give the node back to the scheduler (same as mvm undrain)')
    .option('--json', 'print the drain report as JSON'))
    .action(async (node: string, o: Opts & { undo?: boolean }) => {
      const broker = await findBroker(o)
      const r = o.undo === true ? await broker.ResumeNode({ node }) : await broker.DrainNode({ node })
      print(r, o.json === true)
    })

  brokerOptions(program.command('undrain')
    .description('undo mvm drain: the node takes ranks again')
    .argument('<node>', 'peer ID, short ID, unique prefix or name label')
    .option('--json', 'print the report as JSON'))
    .action(async (node: string, o: Opts) => {
      const broker = await findBroker(o)
      print(await broker.ResumeNode({ node }), o.json === true)
    })
}

function print (r: DrainNodeResponse, json: boolean): void {
  if (json) { printJson(r); return }
  const lines = [`node ${r.peerId} ${r.state}`]
  if (r.moving.length > 0) lines.push(`moving the ranks of: ${r.moving.join(', ')}`)
  if (r.staying.length > 0) lines.push(`${r.state === 'up' ? 'running there' : 'finishing there'}: ${r.staying.join(', ')}`)
  process.stdout.write(lines.join('\n') + '\n')
}

/** A refusal because of the job's or node's state (not running, no room, no cut) exits 1 with the reason, as mvm checkpoint does. */
async function refusedExits1 (call: () => Promise<void>): Promise<void> {
  try {
    await call()
  } catch (err) {
    const e = toMvmError(err)
    if (e.code !== ErrorCode.INVALID_STATE && e.code !== ErrorCode.CAPACITY && e.code !== ErrorCode.TIMEOUT) throw err
    process.stderr.write(`${e.code}: ${e.message}\n`)
    process.exitCode = 1
  }
}
