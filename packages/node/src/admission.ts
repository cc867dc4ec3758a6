import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { ConfigError } from '@mvm/core'

/** Domain admission policy: who may join a super-peer's group. */
export const AuthMode = { none: 'none', peerList: 'peer-list', domainKey: 'domain-key' } as const
export type AuthMode = (typeof AuthMode)[keyof typeof AuthMode]

export interface AdmissionPolicy {
  authentication: AuthMode
  /** Peer IDs admitted under `peer-list`. */
  admittedPeers?: string[]
  /** Shared secret file under `domain-key`; read once at start. */
  domainKeyFile?: string
}

export interface Admission {
  readonly mode: AuthMode
  /** A fresh challenge for one join attempt. */
  nonce: () => Uint8Array
  /** Why `peerId` may not join (undefined when admitted); `peerId` is the Noise-authenticated one. */
  check: (peerId: string, nonce: Uint8Array, proof: Uint8Array) => string | undefined
}

/** Loads the domain key; whitespace around a text key is not part of it. */
export async function readDomainKey (file: string): Promise<Uint8Array> {
  let raw: Buffer
  try {
    raw = await readFile(file)
  } catch (e) {
    throw new ConfigError(`security.domainKeyFile ${file}: ${(e as Error).message}`, { cause: e })
  }
  const key = Buffer.from(raw.toString('utf8').trim(), 'utf8')
  if (key.byteLength < 16) throw new ConfigError(`security.domainKeyFile ${file}: the key must be at least 16 bytes`)
  return key
}

/** HMAC-SHA256(key, nonce || peerId): proves knowledge of the key without sending it. */
export function domainProof (key: Uint8Array, nonce: Uint8Array, peerId: string): Uint8Array {
  return createHmac('sha256', key).update(nonce).update(peerId, 'utf8').digest()
}

export async function createAdmission (policy: AdmissionPolicy): Promise<Admission> {
  const mode = policy.authentication
  if (mode === AuthMode.none) return { mode, nonce: () => randomBytes(32), check: () => undefined }
  if (mode === AuthMode.peerList) {
    const admitted = new Set(policy.admittedPeers ?? [])
    return {
      mode,
      nonce: () => randomBytes(32),
      check: (peerId) => admitted.has(peerId) ? undefined : `peer ${peerId} is not in security.admittedPeers`
    }
  }
  if (mode === AuthMode.domainKey) {
    if (policy.domainKeyFile === undefined) throw new ConfigError('security.authentication is domain-key but security.domainKeyFile is not set')
    const key = await readDomainKey(policy.domainKeyFile)
    return {
      mode,
      nonce: () => randomBytes(32),
      check (peerId, nonce, proof) {
        const want = domainProof(key, nonce, peerId)
        if (proof.byteLength !== want.byteLength || !timingSafeEqual(proof, want)) return `peer ${peerId} gave a wrong domain-key proof`
        return undefined
      }
    }
  }
  throw new ConfigError(`security.authentication: unknown mode ${JSON.stringify(mode)}; expected none, peer-list or domain-key`)
}
