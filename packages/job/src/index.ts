/** @packageDocumentation The job SDK a program imports: ports, send/recv, collectives, checkpoints. */
export {}
