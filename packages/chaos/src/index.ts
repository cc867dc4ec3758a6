/**
 * @packageDocumentation `npm run chaos`: a bounded-time chaos run against a real lab
 * (super-peer + peers as `mvm node` processes on 127.0.0.1). Sample jobs run continuously
 * while hostile ranks, hostile SOAP/YAML requests and kill -9 of broker, peer and rank hit
 * at seeded random points; the report counts jobs correct / wrong / failed as expected / lost.
 */
export { runChaos, planFaults, FAULT_KINDS, type ChaosOptions, type ChaosReport } from './run.js'
export { formatRows, parseRows, Ledger, type Row, type Item, type Fault, type Outcome } from './ledger.js'
export { createRng, type Rng } from './rng.js'
export { rankPids } from './ranks.js'
export { HOSTILE_MODES, loadSamples, loadHostile, meetsExpectation } from './samples.js'
export { REQUEST_KINDS, sendHostileRequest } from './hostile-requests.js'
