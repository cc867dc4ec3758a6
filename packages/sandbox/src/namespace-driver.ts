import type { SandboxDriver } from './types.js'

export interface NamespaceDriverInit { cgroupRoot?: string }
export function namespaceDriver (_options: NamespaceDriverInit = {}): SandboxDriver {
  return {
    name: 'namespace',
    available: async () => ({ ok: false, reason: 'not implemented yet' }),
    spawn: async () => { throw new Error('not implemented yet') }
  }
}
