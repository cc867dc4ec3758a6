/**
 * Typed errors with a stable `code`. The same codes travel in protobuf error frames,
 * SOAP fault details and CLI exit messages, so a caller on another node (or in Java
 * through WSDL) can branch on `code` rather than on message text.
 */
export const ErrorCode = {
  VALIDATION: 'E_VALIDATION',
  CONFIG: 'E_CONFIG',
  NOT_FOUND: 'E_NOT_FOUND',
  UNKNOWN_COMPONENT: 'E_UNKNOWN_COMPONENT',
  PROTOCOL: 'E_PROTOCOL',
  FRAME_TOO_LARGE: 'E_FRAME_TOO_LARGE',
  UNSUPPORTED_VERSION: 'E_UNSUPPORTED_VERSION',
  NOT_ADMITTED: 'E_NOT_ADMITTED',
  UNAUTHORIZED: 'E_UNAUTHORIZED',
  /** A SOAP call without valid credentials where they are required, or with wrong ones (bad password, replayed nonce, expired token). */
  UNAUTHENTICATED: 'E_UNAUTHENTICATED',
  /** The caller is known but its roles do not grant the operation (or the identity it claims). */
  FORBIDDEN: 'E_FORBIDDEN',
  CAPACITY: 'E_CAPACITY',
  /** The submitter is at a per-user limit of the policy (`scheduling.quotas`): the message names it. */
  QUOTA: 'E_QUOTA',
  /** A resize (`mvm resize`, SOAP ResizeJob) of a job that was not submitted malleable (`processes: { min, max }`). */
  NOT_MALLEABLE: 'E_NOT_MALLEABLE',
  TIMEOUT: 'E_TIMEOUT',
  ABORTED: 'E_ABORTED',
  SANDBOX: 'E_SANDBOX',
  JOB_FAILED: 'E_JOB_FAILED',
  /** The user's program threw (or rejected): its own failure, not the toolkit's. */
  PROGRAM: 'E_PROGRAM',
  INVALID_STATE: 'E_INVALID_STATE',
  UNAVAILABLE: 'E_UNAVAILABLE',
  BAD_REQUEST: 'E_BAD_REQUEST',
  /** A chunk's bytes do not hash to its name: discarded, fetched again from another holder. */
  DATA_CORRUPT: 'E_DATA_CORRUPT',
  /** A chunk or file this node was asked to use is not in its store. */
  DATA_MISSING: 'E_DATA_MISSING',
  /** No holder could supply a chunk (all down, or none has it). */
  DATA_UNAVAILABLE: 'E_DATA_UNAVAILABLE',
  /** The node's data store is at its bound and everything in it is pinned. */
  DATA_FULL: 'E_DATA_FULL',
  INTERNAL: 'E_INTERNAL'
} as const

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

export interface MvmErrorOptions {
  data?: unknown
  retryable?: boolean
  cause?: unknown
}

export class MvmError extends Error {
  readonly code: ErrorCode
  readonly data: unknown
  readonly retryable: boolean

  constructor (code: ErrorCode, message: string, options: MvmErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'MvmError'
    this.code = code
    this.data = options.data
    this.retryable = options.retryable ?? false
  }

  toJSON (): SerializedError {
    return { code: this.code, message: this.message, name: this.name, data: this.data, retryable: this.retryable }
  }
}

/** One problem found in a file: where it is and what was expected. */
export interface Issue {
  file: string
  line: number
  column: number
  /** Dotted field path inside the document, e.g. `spec.resources.memoryMB`. */
  path: string
  message: string
}

export function formatIssue (i: Issue): string {
  return `${i.file}:${i.line}:${i.column}: ${i.path === '' ? '' : i.path + ': '}${i.message}`
}

export class ValidationError extends MvmError {
  readonly issues: Issue[]
  constructor (issues: Issue[], message?: string) {
    super(ErrorCode.VALIDATION, message ?? issues.map(formatIssue).join('\n'), { data: issues })
    this.name = 'ValidationError'
    this.issues = issues
  }
}

export class ConfigError extends MvmError {
  constructor (message: string, options?: MvmErrorOptions) { super(ErrorCode.CONFIG, message, options); this.name = 'ConfigError' }
}
export class NotFoundError extends MvmError {
  constructor (message: string, options?: MvmErrorOptions) { super(ErrorCode.NOT_FOUND, message, options); this.name = 'NotFoundError' }
}
export class UnknownComponentError extends MvmError {
  constructor (message: string, options?: MvmErrorOptions) { super(ErrorCode.UNKNOWN_COMPONENT, message, options); this.name = 'UnknownComponentError' }
}
export class ProtocolError extends MvmError {
  constructor (message: string, options?: MvmErrorOptions) { super(ErrorCode.PROTOCOL, message, options); this.name = 'ProtocolError' }
}
export class FrameTooLargeError extends MvmError {
  constructor (message: string, options?: MvmErrorOptions) { super(ErrorCode.FRAME_TOO_LARGE, message, options); this.name = 'FrameTooLargeError' }
}
export class UnsupportedVersionError extends MvmError {
  constructor (message: string, options?: MvmErrorOptions) { super(ErrorCode.UNSUPPORTED_VERSION, message, options); this.name = 'UnsupportedVersionError' }
}
export class NotAdmittedError extends MvmError {
  constructor (message: string, options?: MvmErrorOptions) { super(ErrorCode.NOT_ADMITTED, message, options); this.name = 'NotAdmittedError' }
}
export class UnauthorizedError extends MvmError {
  constructor (message: string, options?: MvmErrorOptions) { super(ErrorCode.UNAUTHORIZED, message, options); this.name = 'UnauthorizedError' }
}
export class UnauthenticatedError extends MvmError {
  constructor (message: string, options?: MvmErrorOptions) { super(ErrorCode.UNAUTHENTICATED, message, options); this.name = 'UnauthenticatedError' }
}
export class ForbiddenError extends MvmError {
  constructor (message: string, options?: MvmErrorOptions) { super(ErrorCode.FORBIDDEN, message, options); this.name = 'ForbiddenError' }
}
export class CapacityError extends MvmError {
  constructor (message: string, options?: MvmErrorOptions) { super(ErrorCode.CAPACITY, message, { retryable: true, ...options }); this.name = 'CapacityError' }
}
export class QuotaError extends MvmError {
  constructor (message: string, options?: MvmErrorOptions) { super(ErrorCode.QUOTA, message, { retryable: true, ...options }); this.name = 'QuotaError' }
}
export class NotMalleableError extends MvmError {
  constructor (message: string, options?: MvmErrorOptions) { super(ErrorCode.NOT_MALLEABLE, message, options); this.name = 'NotMalleableError' }
}
export class TimeoutError extends MvmError {
  constructor (message = 'the operation timed out', options?: MvmErrorOptions) { super(ErrorCode.TIMEOUT, message, { retryable: true, ...options }); this.name = 'TimeoutError' }
}
export class AbortError extends MvmError {
  constructor (message = 'the operation was aborted', options?: MvmErrorOptions) { super(ErrorCode.ABORTED, message, options); this.name = 'AbortError' }
}
export class SandboxError extends MvmError {
  constructor (message: string, options?: MvmErrorOptions) { super(ErrorCode.SANDBOX, message, options); this.name = 'SandboxError' }
}
export class JobFailedError extends MvmError {
  constructor (message: string, options?: MvmErrorOptions) { super(ErrorCode.JOB_FAILED, message, options); this.name = 'JobFailedError' }
}
/** A user program's own exception; `data` holds `{ location?: 'file.ts:line:col', name? }`. */
export class ProgramError extends MvmError {
  constructor (message: string, options?: MvmErrorOptions) { super(ErrorCode.PROGRAM, message, options); this.name = 'ProgramError' }
}
export class InvalidStateError extends MvmError {
  constructor (message: string, options?: MvmErrorOptions) { super(ErrorCode.INVALID_STATE, message, options); this.name = 'InvalidStateError' }
}
export class UnavailableError extends MvmError {
  constructor (message: string, options?: MvmErrorOptions) { super(ErrorCode.UNAVAILABLE, message, { retryable: true, ...options }); this.name = 'UnavailableError' }
}
export class BadRequestError extends MvmError {
  constructor (message: string, options?: MvmErrorOptions) { super(ErrorCode.BAD_REQUEST, message, options); this.name = 'BadRequestError' }
}

/** Data-layer failures; `code` is one of the E_DATA_* codes. */
export class DataError extends MvmError {
  constructor (code: typeof ErrorCode.DATA_CORRUPT | typeof ErrorCode.DATA_MISSING | typeof ErrorCode.DATA_UNAVAILABLE | typeof ErrorCode.DATA_FULL, message: string, options?: MvmErrorOptions) {
    super(code, message, { retryable: code === ErrorCode.DATA_UNAVAILABLE, ...options }); this.name = 'DataError'
  }
}

export interface SerializedError {
  code: string
  message: string
  name?: string
  data?: unknown
  retryable?: boolean
}

const byCode: Record<string, new (message: string, options?: MvmErrorOptions) => MvmError> = {
  [ErrorCode.CONFIG]: ConfigError,
  [ErrorCode.NOT_FOUND]: NotFoundError,
  [ErrorCode.UNKNOWN_COMPONENT]: UnknownComponentError,
  [ErrorCode.PROTOCOL]: ProtocolError,
  [ErrorCode.FRAME_TOO_LARGE]: FrameTooLargeError,
  [ErrorCode.UNSUPPORTED_VERSION]: UnsupportedVersionError,
  [ErrorCode.NOT_ADMITTED]: NotAdmittedError,
  [ErrorCode.UNAUTHORIZED]: UnauthorizedError,
  [ErrorCode.UNAUTHENTICATED]: UnauthenticatedError,
  [ErrorCode.FORBIDDEN]: ForbiddenError,
  [ErrorCode.CAPACITY]: CapacityError,
  [ErrorCode.TIMEOUT]: TimeoutError,
  [ErrorCode.NOT_MALLEABLE]: NotMalleableError,
  [ErrorCode.ABORTED]: AbortError,
  [ErrorCode.SANDBOX]: SandboxError,
  [ErrorCode.JOB_FAILED]: JobFailedError,
  [ErrorCode.PROGRAM]: ProgramError,
  [ErrorCode.INVALID_STATE]: InvalidStateError,
  [ErrorCode.UNAVAILABLE]: UnavailableError,
  [ErrorCode.BAD_REQUEST]: BadRequestError
}

/** Rebuilds an error that arrived from another node as the same class it was thrown as. */
export function errorFromJSON (e: SerializedError): MvmError {
  if (e.code === ErrorCode.VALIDATION && Array.isArray(e.data)) return new ValidationError(e.data as Issue[], e.message)
  if (e.code.startsWith('E_DATA_') && (Object.values(ErrorCode) as string[]).includes(e.code)) {
    return new DataError(e.code as ConstructorParameters<typeof DataError>[0], e.message, { data: e.data, ...(e.retryable === undefined ? {} : { retryable: e.retryable }) })
  }
  const Ctor = byCode[e.code]
  const opts: MvmErrorOptions = { data: e.data }
  if (e.retryable !== undefined) opts.retryable = e.retryable
  if (Ctor !== undefined) return new Ctor(e.message, opts)
  const known = (Object.values(ErrorCode) as string[]).includes(e.code) ? e.code as ErrorCode : ErrorCode.INTERNAL
  return new MvmError(known, e.message, opts)
}

/** Normalises anything thrown into an MvmError, keeping the original as `cause`. */
export function toMvmError (err: unknown): MvmError {
  if (err instanceof MvmError) return err
  if (err instanceof Error && err.name === 'AbortError') return new AbortError(err.message, { cause: err })
  if (err instanceof Error && err.name === 'TimeoutError') return new TimeoutError(err.message, { cause: err })
  const message = err instanceof Error ? err.message : String(err)
  return new MvmError(ErrorCode.INTERNAL, message, { cause: err })
}
