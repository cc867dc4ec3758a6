import t from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { RESTARTED_REASON } from '@mvm/broker/internal'
import { startBroker, waitFor } from './fixtures/helpers.js'

const child = fileURLToPath(new URL('./fixtures/crash-child.mjs', import.meta.url))

/** Runs the child until it printed `atLeast` ids, SIGKILLs it, and returns every id it printed. */
async function submitThenKill (dataDir: string, recovery: string, atLeast: number, teardown: (fn: () => void) => void): Promise<{ printed: string[], signal: string | null, first: string | undefined }> {
  const proc = spawn(process.execPath, [child, dataDir, recovery, 'run'], { stdio: ['ignore', 'pipe', 'pipe'] })
  teardown(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') })
  let out = ''
  let err = ''
  proc.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  proc.stderr.setEncoding('utf8').on('data', (d: string) => { err += d })
  const exited = new Promise<string | null>((resolve) => proc.on('exit', (_code, sig) => { resolve(sig) }))
  await waitFor(() => out.split('\n').length > atLeast + 1 || proc.exitCode !== null, `child printed ${atLeast} ids (stderr: ${err})`, 30_000)
  // a little further at a random point, so the kill does not always land at the same step
  await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 30)))
  proc.kill('SIGKILL')
  const signal = await exited
  const lines = out.split('\n')
  // the last line may be cut mid-write by the kill: only complete lines count
  lines.pop()
  const first = lines.shift()
  return { printed: lines.filter((l) => /^j-[0-9a-z]{9}-[0-9a-z]{8}$/.test(l)), signal, first }
}

for (const recovery of ['requeue', 'fail'] as const) {
  t.test(`SIGKILL mid-submit loses nothing (recovery ${recovery})`, async (t) => {
    const dir = t.testdir()
    const { printed, signal, first } = await submitThenKill(dir, recovery, 400, (fn) => { t.teardown(fn) })
    t.equal(signal, 'SIGKILL', 'the child died by SIGKILL, mid-loop')
    t.equal(first, 'ready run')
    t.ok(printed.length >= 400, `${printed.length} ids accepted before the kill`)

    const db = new Database(join(dir, 'broker.db'))
    t.equal(db.pragma('integrity_check', { simple: true }), 'ok', 'database not corrupt')
    const scheduledBefore = db.prepare("SELECT COUNT(*) FROM jobs WHERE state = 'scheduled'").pluck().get() as number
    db.close()
    t.equal(scheduledBefore, 3, 'the kill left dispatched jobs behind (3 slots)')

    const { broker } = await startBroker(dir, { faultTolerance: { recovery, maxRestarts: 3 } })
    t.teardown(() => broker.stop())
    const missing = printed.filter((id) => { try { broker.get(id); return false } catch { return true } })
    t.same(missing, [], 'every printed id is in the store')
    const byState: Record<string, number> = {}
    for (const id of printed) { const s = broker.get(id).state; byState[s] = (byState[s] ?? 0) + 1 }
    const recovered = broker.list({ limit: 10_000 }).filter((j) => j.reason === RESTARTED_REASON || (j.reason ?? '').startsWith(RESTARTED_REASON))
    t.equal(recovered.length, 3, 'the three dispatched jobs were recovered')
    if (recovery === 'requeue') {
      t.same(byState, { queued: printed.length }, 'all queued again')
      t.ok(recovered.every((j) => j.restarts === 1 && j.state === 'queued'))
    } else {
      t.same(byState, { queued: printed.length - 3, failed: 3 })
      t.ok(recovered.every((j) => j.state === 'failed' && j.reason === RESTARTED_REASON))
    }
    // ids printed by the child were committed; anything stored beyond them was committed but not yet printed
    t.ok(broker.list({ state: 'queued', limit: 10_000 }).length >= byState.queued!)
  })
}
