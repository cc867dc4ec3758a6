import { UnknownComponentError, ConfigError } from './errors.js'

/**
 * The component-level layer: every pluggable kind (scheduling strategies, queue types,
 * encoders, sandbox drivers, policy handlers) is a registry of named factories. Policies
 * refer to components by name; swapping a name at run time swaps the component.
 */
export type Factory<T, O = Record<string, unknown>> = (options: O) => T

export interface ComponentSpec<O = Record<string, unknown>> { type: string, options?: O }

export interface Registry<T, O = Record<string, unknown>> {
  readonly kind: string
  register: (name: string, factory: Factory<T, O>, opts?: { replace?: boolean }) => void
  /** A name, a `{ type, options }` spec, or an already built instance. */
  resolve: (spec: string | ComponentSpec<O> | T) => T
  has: (name: string) => boolean
  names: () => string[]
}

export function createRegistry<T, O = Record<string, unknown>> (kind: string, isInstance?: (v: unknown) => v is T): Registry<T, O> {
  const factories = new Map<string, Factory<T, O>>()
  return {
    kind,
    register (name, factory, opts = {}) {
      if (factories.has(name) && opts.replace !== true) throw new ConfigError(`${kind} "${name}" is already registered`)
      factories.set(name, factory)
    },
    resolve (spec) {
      if (isInstance?.(spec) === true) return spec as T
      const { type, options } = typeof spec === 'string' ? { type: spec, options: undefined } : spec as ComponentSpec<O>
      const f = factories.get(type)
      if (f === undefined) {
        throw new UnknownComponentError(`unknown ${kind} "${type}"; known: ${[...factories.keys()].sort().join(', ')}`, { data: { kind, name: type } })
      }
      return f((options ?? {}) as O)
    },
    has: (name) => factories.has(name),
    names: () => [...factories.keys()].sort()
  }
}
