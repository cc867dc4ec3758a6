import { ConfigError, createRegistry, type ComponentSpec, type Registry } from '@mvm/core'
import { processDriver } from './process-driver.js'
import { namespaceDriver } from './namespace-driver.js'
import type { SandboxDriver } from './types.js'

function isDriver (v: unknown): v is SandboxDriver {
  return typeof v === 'object' && v !== null && typeof (v as SandboxDriver).spawn === 'function' && typeof (v as SandboxDriver).available === 'function'
}

/** Sandbox drivers by name; `process` and `namespace` are built in, others may be registered. */
export const sandboxDrivers: Registry<SandboxDriver> = createRegistry<SandboxDriver>('sandbox driver', isDriver)
sandboxDrivers.register('process', (options) => processDriver(options))
sandboxDrivers.register('namespace', (options) => namespaceDriver(options))

/**
 * The driver a node will use. Throws ConfigError (naming the driver and what is missing)
 * when this machine cannot provide it, so a node refuses to start rather than run jobs
 * with less isolation than its policy asked for.
 */
export async function resolveDriver (spec: string | ComponentSpec | SandboxDriver = 'process', options: { signal?: AbortSignal } = {}): Promise<SandboxDriver> {
  const driver = sandboxDrivers.resolve(spec)
  options.signal?.throwIfAborted()
  const a = await driver.available()
  if (!a.ok) {
    throw new ConfigError(`sandbox driver "${driver.name}" is not available on this machine: ${a.reason ?? 'unknown reason'}`, { data: { driver: driver.name, reason: a.reason } })
  }
  return driver
}
