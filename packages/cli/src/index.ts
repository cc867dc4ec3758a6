/**
 * @packageDocumentation The `mvm` command-line interface. The binary is `bin/mvm.js`; this
 * module exposes the helpers commands share, for reuse by tools that embed the CLI.
 */
export { printError, printJson, collectParam } from './output.js'
export { startNodeProcess, MVM_BIN, type NodeProcess, type ReadyLine } from './lab/processes.js'
export { verify, close } from './lab/verify.js'
export { profileRequest } from './profile-request.js'
