/** @packageDocumentation Per-node job runtime: compiles program source, runs ranks in sandboxes, wires their queues. */
export {}
