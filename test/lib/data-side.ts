import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDataStore } from '@mvm/data'
import { startSoapServer, type JobOutput } from '@mvm/soap'
import { brokerDataHandlers } from '@mvm/super-peer'
import { jobResult } from '@mvm/super-peer/internal'
import type { TestLab } from './lab.js'

/** What GetJobResult answers on the side server, for any job id: outputs of two ranks, one past 2 GiB. */
export const SIDE_OUTPUTS: JobOutput[] = [
  { name: 'out/part-0.csv', id: 'a'.repeat(64), size: 3, rank: 0 },
  { name: 'out/part-1.csv', id: 'b'.repeat(64), size: 5_000_000_000, rank: 1 }
]

export interface DataSide {
  /** Base URL whose Broker serves the data operations: the lab's super-peer once it does, else the side server. */
  dataBase: string
  /** True when the lab's super-peer serves them itself. */
  servedByLab: boolean
  /** Base URL of the side server, whose GetJobResult carries {@link SIDE_OUTPUTS}. */
  outputsBase: string
  close: () => Promise<void>
}

/**
 * A foreign client's view of the data layer. A job whose ranks left outputs needs the whole
 * pipeline; the side server answers GetJobResult with outputs as the broker records them
 * (jobResult over rank records), so the WSDL's JobOutput is checked on its own. The data
 * operations run against the lab when its super-peer serves them, else against
 * brokerDataHandlers over a real store on the side server (what the node composes).
 */
export async function startDataSide (lab: TestLab): Promise<DataSide> {
  const dir = await mkdtemp(join(tmpdir(), 'mvm-data-side-'))
  const store = await createDataStore({ dir, maxBytes: 64 * 1024 * 1024 })
  const server = await startSoapServer({
    services: {
      Broker: {
        ...brokerDataHandlers(store),
        GetJobResult: async ({ jobId }) => jobResult({
          jobId,
          state: 'succeeded',
          reason: null,
          value: null,
          ranks: [0, 1].map((rank) => ({ rank, exitCode: 0, outputs: SIDE_OUTPUTS.filter((o) => o.rank === rank).map(({ rank: _, ...o }) => o) }))
        })
      }
    }
  })
  const servedByLab = await lab.broker.ListData().then(() => true, (err: { code?: string }) => {
    if (err.code === 'E_UNAVAILABLE') return false
    throw err
  })
  return {
    dataBase: servedByLab ? new URL(lab.bootstrap).origin : server.baseUrl,
    servedByLab,
    outputsBase: server.baseUrl,
    async close () {
      await server.close()
      await store.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}
