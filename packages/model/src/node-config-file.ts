import path from 'node:path'
import type { Issue } from '@mvm/core'
import type { ParsedDocument } from './document.js'
import { validate } from './document.js'
import type { FileRef } from './files.js'
import type { Loaded } from './internal.js'
import { nodeConfigSchema } from './schemas/node-config.js'
import type { LoadedNodeConfig } from './types.js'

/** Paths in a node config are relative to the config file, so a node starts the same from any cwd. */
export function finishNodeConfig (doc: ParsedDocument, ref: FileRef): Loaded<LoadedNodeConfig> {
  const v = validate(nodeConfigSchema, doc.data, doc)
  const issues: Issue[] = [...doc.issues, ...v.issues]
  if (v.value === undefined || issues.length > 0) return { issues }
  const { apiVersion, metadata, spec } = v.value
  const dir = path.dirname(ref.abs)
  const resolved = { ...spec, dataDir: path.resolve(dir, spec.dataDir) }
  if (spec.policy !== undefined) resolved.policy = path.resolve(dir, spec.policy)
  return { result: { kind: 'NodeConfig', file: ref.file, apiVersion, metadata, params: doc.params, spec: resolved }, issues: [] }
}
