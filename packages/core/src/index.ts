/**
 * @packageDocumentation
 * What every MVM package shares: typed errors with stable codes, a namespaced logger,
 * the start/stop lifecycle, abort helpers, the component registry and the job states
 * the broker and the SOAP contract share.
 *
 * @example
 * ```ts
 * import { createRegistry, NotFoundError } from '@mvm/core'
 * const strategies = createRegistry<Strategy>('scheduling strategy')
 * strategies.register('round-robin', () => new RoundRobin())
 * const s = strategies.resolve('round-robin')
 * ```
 */
export {
  ErrorCode, MvmError, formatIssue, ValidationError, ConfigError, NotFoundError, UnknownComponentError, ProtocolError,
  FrameTooLargeError, UnsupportedVersionError, NotAdmittedError, UnauthorizedError, UnauthenticatedError, ForbiddenError, CapacityError, QuotaError, NotMalleableError, TimeoutError,
  AbortError, SandboxError, JobFailedError, ProgramError, InvalidStateError, UnavailableError, BadRequestError, DataError, errorFromJSON, toMvmError,
  type MvmErrorOptions, type Issue, type SerializedError
} from './errors.js'
export { shortPeerId, nodeLabel } from './names.js'
export { createLogger, componentLogger, silentLogger, type LogLevel, type LogFormat, type Logger, type LoggerInit } from './logger.js'
export { createRegistry, type Factory, type ComponentSpec, type Registry } from './registry.js'
export { throwIfAborted, sleep, combineSignals, startableRole, type Startable } from './lifecycle.js'
export { JobState } from './job-state.js'
export { hidePaths, type PathAlias } from './server-paths.js'
