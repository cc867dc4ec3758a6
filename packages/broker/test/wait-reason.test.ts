import t from 'tap'
import { Cluster } from '../src/cluster.js'
import { explainWait } from '../src/wait-reason.js'
import type { Job } from '../src/types.js'
import { node } from './fixtures/helpers.js'

// only what explainWait reads of a job
const job = (size: number, reservation?: string): Job => ({ size, request: { size, ...(reservation !== undefined ? { reservation } : {}) } }) as unknown as Job

t.test('a reservation in words: slots it holds from others, a job waiting for its window', async (t) => {
  const c = new Cluster()
  c.update([node('a', { freeSlots: 2, totalSlots: 2 }), node('b', { freeSlots: 2, totalSlots: 2 })])
  t.equal(explainWait(job(3), c, 0), 'waiting for the next scheduling pass', 'no reservation: it fits')

  const now = Date.now()
  c.setHolds([{ name: 'course', slots: 2, fromMs: now - 1000, toMs: now + 60_000 }, { name: 'later', slots: 1, fromMs: now + 60_000 }])
  t.equal(explainWait(job(3), c, 0), 'needs 3 slots, group has 4 free of 4, 2 of them held by reservation course', 'the held slots are named, not the next pass')
  t.equal(explainWait(job(2), c, 0), 'waiting for the next scheduling pass', 'what the reservation leaves is enough for 2 ranks')
  t.equal(explainWait(job(3), c, 1), 'needs 3 slots, group has 4 free of 4, 2 of them held by reservation course; behind 1 higher-priority job')
  t.equal(explainWait(job(2, 'course'), c, 0), 'waiting for the next scheduling pass', 'a job in the reservation is not kept out by it')
  t.equal(explainWait(job(1, 'later'), c, 0), 'waiting for reservation later to be active (its window is not open)')

  c.setHolds([])
  t.equal(explainWait(job(3), c, 0), 'waiting for the next scheduling pass', 'once it ends the slots are free again')
})
