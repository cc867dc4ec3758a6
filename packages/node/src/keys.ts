import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { ConfigError } from '@mvm/core'

/**
 * The node's identity lives in `<dataDir>/key` so its peer ID survives restarts: peers and
 * the failure detector recognise a restarted node as the same member, not a new one.
 */
export async function loadOrCreateKey (dataDir: string): Promise<{ key: PrivateKey, created: boolean }> {
  const file = join(dataDir, 'key')
  let bytes: Uint8Array | undefined
  try {
    bytes = await readFile(file)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`cannot read the node key ${file}: ${(e as Error).message}`, { cause: e })
  }
  if (bytes !== undefined) {
    try {
      return { key: privateKeyFromProtobuf(bytes), created: false }
    } catch (e) {
      throw new ConfigError(`${file}: not a libp2p private key (protobuf): ${(e as Error).message}; move it away to create a new identity`, { cause: e })
    }
  }
  const key = await generateKeyPair('Ed25519')
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  // 'wx' so two nodes started on the same data dir at once cannot both write a key
  await writeFile(file, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
  await chmod(file, 0o600)
  return { key, created: true }
}
