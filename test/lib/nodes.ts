// Helpers for the overlay scenarios: in-process nodes, spawned `mvm node` processes and the CLI.
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { Test } from 'tap'
import { MVM_BIN } from '@mvm/cli'
import { join } from 'node:path'
import { silentLogger } from '@mvm/core'
import { createMvmHost, createMvmNode, type MvmHost, type MvmHostInit, type MvmNode, type MvmNodeInit } from '@mvm/node'

/** Polls `pred` every `intervalMs` until it is truthy; fails after `timeoutMs` (bounded). */
export async function waitFor<T> (what: string, pred: () => T | Promise<T>, opts: { timeoutMs?: number, intervalMs?: number } = {}): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 15_000
  const interval = opts.intervalMs ?? 50
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (let i = 0; i < Math.ceil(timeoutMs / interval) + 1; i++) {
    try {
      const v = await pred()
      if (v !== undefined && v !== null && v !== false) return v as NonNullable<T>
    } catch (e) { last = e }
    if (Date.now() > deadline) break
    await new Promise((resolve) => setTimeout(resolve, interval))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`)
}

/**
 * A starter of in-process hosts (full node + roles) under `dir/<name>`, quiet, SOAP on a free
 * port, with the given heartbeat settings; every host it started is stopped, newest first, in
 * `t`'s teardown (a multi-group lab: top super-peer, child super-peers, peers).
 */
export function hostStarter (t: Test, dir: string, monitoring: MvmHostInit['monitoring']): (name: string, init: Omit<MvmHostInit, 'dataDir'>) => Promise<MvmHost> {
  const hosts: MvmHost[] = []
  t.teardown(async () => { for (const h of hosts.reverse()) await h.stop().catch(() => {}) })
  return async (name, init) => {
    const h = createMvmHost({ dataDir: join(dir, name), soap: { port: 0 }, monitoring, logger: silentLogger(), ...init })
    await h.start()
    hosts.push(h)
    return h
  }
}

/** Starts an in-process node on a t.testdir() data dir; stopped in teardown. */
export async function startNode (t: Test, name: string, init: Omit<MvmNodeInit, 'dataDir'> & { dataDir?: string }): Promise<MvmNode> {
  const dir = init.dataDir ?? `${t.testdirName}/${name}`
  const node = createMvmNode({ ...init, dataDir: dir })
  await node.start()
  t.teardown(async () => { await node.stop() })
  return node
}

export interface Ready { event: 'ready', peerId: string, soapUrl: string, multiaddrs: string[], roles: string[], group: string, dataDir: string }

export interface Spawned { child: ChildProcess, ready: Ready, stderr: () => string }

/** Spawns `mvm node …`, waits for its ready line (bounded), and kills it in teardown. */
export async function spawnNode (t: Test, args: string[], cwd?: string): Promise<Spawned> {
  const child = spawn(process.execPath, [MVM_BIN, 'node', '--log-format', 'json', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err = (err + d).slice(-20_000) })
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await new Promise((resolve) => child.once('exit', resolve))
    }
  })
  const lines = createInterface({ input: child.stdout })
  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`no ready line within 20 s; stderr:\n${err}`)) }, 20_000)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`mvm node exited (${String(code)}) before ready; stderr:\n${err}`)) })
    lines.on('line', (line) => {
      try {
        const m = JSON.parse(line) as Ready
        if (m.event === 'ready') { clearTimeout(timer); resolve(m) }
      } catch {}
    })
  })
  return { child, ready, stderr: () => err }
}

/** Runs `mvm …` to completion (bounded) and returns its output. */
export async function runMvm (args: string[], cwd?: string, env?: Record<string, string>): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [MVM_BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 30_000)
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  clearTimeout(timer)
  return { code, stdout, stderr }
}
