import { ErrorCode, MvmError } from '@mvm/core'

export type SpecPath = Array<string | number>

/**
 * A semantic problem in a topology `spec` (a size that does not fit the shape, an edge to a
 * missing node). `path` is relative to `spec`, e.g. `['edges', 3, 'to']`, so the file loader
 * can turn it into a file:line:column issue pointing at the offending field.
 */
export class TopologyError extends MvmError {
  readonly path: SpecPath
  constructor (path: SpecPath, message: string) {
    super(ErrorCode.VALIDATION, message, { data: { path } })
    this.name = 'TopologyError'
    this.path = path
  }
}
