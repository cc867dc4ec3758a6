import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigError } from '@mvm/core'

/**
 * One live node per data dir: two nodes sharing a key would share a peer ID and confuse
 * every super-peer. The lock is a pid file; a lock left by a dead process is taken over.
 */
export async function lockDataDir (dir: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const file = join(dir, 'lock')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(file, String(process.pid), { flag: 'wx', mode: 0o600 })
      return async () => { await rm(file, { force: true }) }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new ConfigError(`data dir ${dir}: ${(e as Error).message}`, { cause: e })
    }
    const holder = await lockHolder(file)
    if (holder !== undefined) throw new ConfigError(`data dir ${dir} is in use by process ${holder}; give each node its own --data-dir`)
    await rm(file, { force: true })
  }
  throw new ConfigError(`data dir ${dir}: cannot take the lock`)
}

/** The pid holding the lock, if that process is alive. */
async function lockHolder (file: string): Promise<number | undefined> {
  let pid: number
  try { pid = Number.parseInt(await readFile(file, 'utf8'), 10) } catch { return undefined }
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  if (pid === process.pid) return pid
  try { process.kill(pid, 0); return pid } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined }
}

/** The first of `<base>-1`, `<base>-2` … not locked by a live process: stable across sequential restarts. */
export async function firstFreeDataDir (base: string, max = 64): Promise<string> {
  for (let i = 1; i <= max; i++) {
    const dir = `${base}-${i}`
    if (await lockHolder(join(dir, 'lock')) === undefined) return dir
  }
  throw new ConfigError(`no free data dir among ${base}-1 … ${base}-${max}; pass --data-dir`)
}
