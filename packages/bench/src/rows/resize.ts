import type { BenchContext, RowGroup } from '../types.js'
import { resizePause } from '../toolkit/resize.js'

/** A resize (cut, stop, restart at the new size from the cut) against starting the job at that size from nothing. */
export const resize: RowGroup = {
  name: 'resize',
  title: 'Malleable jobs: the pause of a resize, 2 → 4 ranks over 2 nodes',
  rows: [{
    id: 'resize.pause',
    figure: 'ResizeJob 2 → 4 of a running job until its 4 ranks run (cut, stop, restart from the cut)',
    baseline: 'submitting the same job at 4 ranks until its 4 ranks run',
    unit: 'ms',
    better: 'lower',
    rounds: (p) => Math.min(p.rounds, 5),
    make: (c: BenchContext) => ({ a: resizePause(c, 'grow'), b: resizePause(c, 'fresh') })
  }]
}
