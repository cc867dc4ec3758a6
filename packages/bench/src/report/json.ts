import { cpus } from 'node:os'
import type { RowResult } from '../types.js'

export interface RunMeta {
  command: string
  date: string
  quick: boolean
  node: string
  cpus: number
  cpuModel: string
  durationMs: number
}

export function runMeta (command: string, quick: boolean, durationMs: number): RunMeta {
  const c = cpus()
  return { command, date: new Date().toISOString(), quick, node: process.versions.node, cpus: c.length, cpuModel: c[0]?.model.trim() ?? 'unknown CPU', durationMs }
}

/** Everything, samples included, so another tool can redo the statistics. */
export function renderJson (rows: RowResult[], meta: RunMeta): string {
  return JSON.stringify({ meta, rows }, null, 2) + '\n'
}
