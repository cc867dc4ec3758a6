/**
 * @packageDocumentation The `mvm` command-line interface. The binary is `bin/mvm.js`; this
 * module exposes what tools driving the CLI reuse (the lab, the tests, the benchmarks):
 * starting `mvm node` processes and turning a profile into a `SubmitJob` request.
 */
export { startNodeProcess, MVM_BIN, type NodeProcess, type ReadyLine } from './lab/processes.js'
export { profileRequest } from './profile-request.js'
export { formatResult, formatValue, type ResultTextOptions } from './result-text.js'
export { progressLine } from './wait.js'
export { inFlags, formatTable } from './output.js'
export { findBroker } from './remote.js'
