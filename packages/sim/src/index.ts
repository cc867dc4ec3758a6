/**
 * @packageDocumentation
 * `mvm sim`: a virtual community of thousands of real MVM nodes in one process.
 */
export { Community, runLimited, type CommunityInit, type SimNode } from './community.js'
export { simRuntime, SimRanks, DEFAULT_RANK_MS, SIM_MEMORY_MB, SIM_RANK_MEMORY_MB } from './sim-runtime.js'
export { groupTree, fanoutForDepth, type GroupTree } from './tree.js'
export { percentile, spread, type Spread } from './stats.js'
export { runSim, type SimOptions, type SimReport, type TrafficRates } from './run.js'
export { formatReport } from './report.js'
export { parseMix, runJobs, sleepRequest, latencySummary, type JobKind, type JobTally } from './jobs.js'
export { churn, type ChurnReport } from './churn.js'
export { waitFor } from './community.js'
export { trafficSvg, type ScalePoint } from './plot.js'
export { runSched, formatSched, type SchedOptions, type SchedReport, type PassStats } from './sched.js'
export { roomyYoungGeneration, cheapErrorStacks } from './heap.js'
export { runSimSplit, splitGroups, mergeTallies } from './workers.js'
