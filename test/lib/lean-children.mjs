/**
 * Preloaded into every test process (.taprc `node-arg`). tap's @tapjs/processinfo hooks
 * child_process so every process a test spawns (`mvm node`, the CLI, and what those spawn) loads
 * it too, through NODE_OPTIONS: its ESM loader hooks run on a worker thread and it records line
 * lengths and source maps of every module loaded. That doubled the CPU a node takes to start and
 * stop (super-peer 1.1 -> 2.0 s, peer 0.9 -> 1.7 s, +70 MiB RSS each; a lab starts three). It
 * serves coverage and `tap --changed`; `npm test` runs without coverage, so there the children
 * are spawned without it. `npm run coverage` (coverage on) keeps it, so child code is still covered.
 *
 * processinfo's hook is a listener of `process-on-spawn`, which keeps its listeners in a
 * process-wide registry under a global symbol; this listener is added after processinfo's (it
 * loads first), so it sees the NODE_OPTIONS processinfo has just set and takes its preload out.
 *
 * Plain JavaScript: worker threads a test starts (the runtime's compiler) inherit the preloads, and
 * a .ts file there failed to load ("Unknown file extension").
 */
const SPAWN_HOOKS = Symbol.for('process-on-spawn@*:singletonId')
const PROCESSINFO = /(^|\s)"?--(?:import|loader|experimental-loader)=[^\s"]*@tapjs[\\/]processinfo[^\s"]*"?(?=\s|$)/g

if (process.env._TAPJS_PROCESSINFO_COVERAGE_ === '0') {
  const hooks = globalThis[SPAWN_HOOKS]
  hooks?.listeners.push((/** @type {{ env: Record<string, string | undefined> }} */ opts) => {
    const before = opts.env.NODE_OPTIONS
    if (before === undefined) return
    const after = before.replace(PROCESSINFO, '').trim()
    if (after === '') delete opts.env.NODE_OPTIONS
    else opts.env.NODE_OPTIONS = after
  })
}

export {}
