import type { HostInit } from './protocol.js'

/**
 * The init a runtime sends when the sandbox may serve another rank of the same owner after
 * this one: the host reports its result and waits for the next init instead of exiting.
 */
export type ReusableInit = HostInit & { reuse?: boolean }
