import { setFlagsFromString } from 'node:v8'

/**
 * Stops V8's young generation from growing further. It starts at 2 × 1 MiB semi-spaces and
 * doubles up to 2 × 16 MiB while modules are parsed and run, and a node process never gives
 * those pages back: on an idle peer node (libp2p, SOAP server, heartbeats) the grown new space
 * is 32 MiB of its RSS. The growth factor is one of the few heap flags V8 reads at each
 * resize, so setting it at run time works, where `--max-semi-space-size` (read once, at heap
 * setup) would need the node's command line. It must run before the big module graphs load
 * (parsing them is what grows the heap): called at the start of the process it saves ~20 MiB.
 *
 * Process-wide. Cost: more frequent scavenges of a small young generation, which matters only
 * for allocation-heavy work; a peer's job work runs in its sandboxes.
 */
export function keepYoungGenerationSmall (): void {
  setFlagsFromString('--semi-space-growth-factor=1')
}
