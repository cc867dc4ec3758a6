/** @packageDocumentation OS-level VM layer: sandbox drivers (process, namespace) and the warm sandbox pool. */
export {}
