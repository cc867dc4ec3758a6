/** @packageDocumentation Queue-level VM layer: bounded virtual queues (fifo, priority), encoders (json, protobuf, raw), port routing. */
export {}
