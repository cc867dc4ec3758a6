import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino'
import { createRequire } from 'node:module'
import type PinoPretty from 'pino-pretty'

export type LogLevel = LevelWithSilent
export type LogFormat = 'json' | 'pretty'
export type Logger = PinoLogger

export interface LoggerInit {
  level?: LogLevel
  format?: LogFormat
  /** Top-level name, e.g. `mvm`; components get `mvm:<component>` through `componentLogger`. */
  name?: string
  /** Where log lines go; stderr by default so stdout stays clean for command output. */
  destination?: NodeJS.WritableStream
}

export function createLogger (init: LoggerInit = {}): Logger {
  const level = init.level ?? (process.env.MVM_LOG_LEVEL as LogLevel | undefined) ?? 'info'
  const format = init.format ?? 'pretty'
  const dest = init.destination ?? process.stderr
  const opts = { level, name: init.name ?? 'mvm', base: { pid: process.pid } }
  if (format === 'json') return pino(opts, dest as pino.DestinationStream)
  // loaded on first use: a CLI call that never logs does not pay for it
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty
  return pino(opts, pretty({ destination: dest as unknown as number, sync: true, colorize: false, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' }))
}

/** A namespaced child logger: every line carries `component`, like `DEBUG=libp2p:*` namespaces. */
export function componentLogger (parent: Logger, component: string): Logger {
  return parent.child({ component })
}

/** A logger that drops everything; the default for library code constructed without one. */
export function silentLogger (): Logger {
  return pino({ level: 'silent' })
}
