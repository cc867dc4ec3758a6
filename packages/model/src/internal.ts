import type { InputCheck } from './data-files.js'
import type { Issue } from '@mvm/core'
import type { ParseOptions } from './document.js'
import type { FileRef } from './files.js'
import type { MvmDocument } from './types.js'

export interface Loaded<T> { result?: T, issues: Issue[] }

/** Options threaded through nested loads: the chain of files, for circular references. */
export interface InternalOptions extends ParseOptions {
  stack: FileRef[]
  signal?: AbortSignal
  inputs?: InputCheck
  /** Loads a referenced file (profile → topology, policy → extends) with the same machinery. */
  loadRef: (ref: FileRef, opts: InternalOptions) => Promise<Loaded<MvmDocument> & { missing?: string }>
}
