import { access, writeFile } from 'node:fs/promises'
import { constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { UnavailableError } from '@mvm/core'
import { runToEnd } from '../procs.js'
import type { Contender } from '../types.js'

const PROGRAM = `#include <mpi.h>
int main(int argc, char **argv) {
  int rank, v = 0;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) { v = 1; MPI_Send(&v, 1, MPI_INT, 1, 0, MPI_COMM_WORLD); MPI_Recv(&v, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE); }
  else { MPI_Recv(&v, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE); v++; MPI_Send(&v, 1, MPI_INT, 0, 0, MPI_COMM_WORLD); }
  MPI_Finalize();
  return rank == 0 && v != 2;
}
`

export async function onPath (cmd: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, cmd)
    try { await access(p, constants.X_OK); return p } catch { /* next */ }
  }
  return undefined
}

/** Why the MPI peer cannot run here, or undefined when `mpicc` and `mpiexec` are on PATH. */
export async function mpiMissing (): Promise<string | undefined> {
  if (await onPath('mpicc') === undefined) return 'mpicc not on PATH (install MPICH: apt-get install -y mpich libmpich-dev)'
  if (await onPath('mpiexec') === undefined) return 'mpiexec not on PATH'
  return undefined
}

/** `mpiexec -n 2` of a trivial C program (one message each way), built into `outDir` at run time. ms. */
export function mpiLaunch (outDir: string): Contender {
  const exe = join(outDir, 'mpi-pingpong')
  return {
    async setup (signal) {
      const why = await mpiMissing()
      if (why !== undefined) throw new UnavailableError(why)
      const src = `${exe}.c`
      await writeFile(src, PROGRAM)
      await runToEnd('mpicc', ['-O2', '-o', exe, src], signal)
    },
    async sample (signal) {
      const t0 = performance.now()
      // loopback only: hydra's launcher stays on this host
      await runToEnd('mpiexec', ['-n', '2', '-hosts', 'localhost', exe], signal, { stdio: ['ignore', 'ignore', 'pipe'] })
      return performance.now() - t0
    }
  }
}
