/**
 * @packageDocumentation
 * `@mvm/wire/internal`: what this package's own tests use beyond its public API (the loaded
 * .proto root and the field specs the contract test checks the TypeScript shapes against).
 * Not part of the public API: it may change without notice.
 */
export { protoRoot } from './schema.js'
export { ControlSpecs, CONTROL_TYPES } from './control-spec.js'
export { QueueFrameSpec, QueueHelloSpec } from './queue-spec.js'
export type { FieldSpec, MessageSpec } from './fields.js'
