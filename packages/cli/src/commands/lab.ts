import type { Command } from 'commander'
import { mkdtemp, readdir, rm, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createBrokerClient } from '@mvm/soap'
import { BadRequestError } from '@mvm/core'
import { assertPortFree } from '../port.js'
import { runLab, type LabOptions } from '../lab/lab.js'

/** The samples shipped in profiles/, found from the installed CLI so `npm run lab` works from any folder. */
const SAMPLES_DIR = fileURLToPath(new URL('../../../../profiles/', import.meta.url))

export function register (program: Command): void {
  program.command('lab')
    .description('start an embedded virtual laboratory on this machine (bootstrap + super-peer and N peers, as processes on 127.0.0.1); with profiles, run them and print verified results')
    .option('--peers <n>', 'number of peer nodes', '2')
    .option('--slots <n>', 'process slots per peer', '2')
    .option('--port <port>', 'SOAP port of the bootstrap/super-peer (mvm submit finds it there by default)', '7700')
    .option('--profile <file...>', 'job profiles to run, then stop')
    .option('--samples', 'run every sample profile in profiles/, then stop')
    .option('--data <dir>', 'keep the lab here: node keys, the job store and logs survive a restart (default: a fresh temporary folder, removed on exit)')
    .option('--data-dir <dir>', 'same as --data')
    .option('--verbose', 'show the nodes\' logs')
    .option('--secure', 'require authentication: user "lab" with a fresh password (in <data>/credentials.json, for MVM_CREDENTIALS); every call is signed')
    .action(async (o: { peers: string, slots: string, port: string, profile?: string[], samples?: boolean, data?: string, dataDir?: string, verbose?: boolean, secure?: boolean }) => {
      let profiles = o.profile?.map((p) => resolve(p)) ?? []
      if (o.samples === true) {
        const names = (await readdir(SAMPLES_DIR)).filter((f) => f.endsWith('.yaml')).sort()
        profiles = [...profiles, ...names.map((n) => join(SAMPLES_DIR, n))]
      }
      const port = Number(o.port)
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new BadRequestError(`--port: expected 0..65535, got "${o.port}"`)
      await assertPortFree(port, '127.0.0.1', 'pick another with --port')
      const kept = o.data ?? o.dataDir
      const temp = kept === undefined
      const dataDir = kept !== undefined ? resolve(kept) : await mkdtemp(join(tmpdir(), 'mvm-lab-'))
      await mkdir(dataDir, { recursive: true })
      const ac = new AbortController()
      const onSignal = (): void => { process.stderr.write('\nstopping the lab…\n'); ac.abort() }
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      const opts: LabOptions = {
        peers: Number(o.peers), slots: Number(o.slots), port, dataDir, temporary: temp, profiles,
        verbose: o.verbose === true, signal: ac.signal, brokerClient: createBrokerClient, secure: o.secure === true
      }
      try {
        const ok = await runLab(opts)
        if (!ok) process.exitCode = 2
      } finally {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
        if (temp) await rm(dataDir, { recursive: true, force: true })
      }
    })
}
