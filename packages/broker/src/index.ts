/** @packageDocumentation The virtual front-end: durable job store, queue, schedulers by name, job lifecycle. */
export {}
