import { enabled, logger } from '@libp2p/logger'
import type { ComponentLogger, Logger } from '@libp2p/interface'

const noop = (): void => {}

/**
 * libp2p's loggers for a process with many nodes. libp2p's default makes three `debug`
 * instances for every component of every node, connection and stream (each asks whether
 * stderr is a TTY), although nothing is logged unless `DEBUG` names them. This one makes the
 * real logger only for a name `DEBUG` enables (its own, `:error` or `:trace`), and a no-op for
 * the rest, which is what the real one does then. `DEBUG` is read when the process starts, as
 * by libp2p's default.
 */
export const quietLibp2pLogger: ComponentLogger = { forComponent }

function forComponent (name: string): Logger {
  if (enabled(name) || enabled(`${name}:error`) || enabled(`${name}:trace`)) return logger(name)
  return Object.assign(noop.bind(undefined), { enabled: false, error: noop, trace: noop, newScope: (scope: string) => forComponent(`${name}:${scope}`) })
}
