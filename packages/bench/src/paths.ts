import { fileURLToPath } from 'node:url'
import { dirname, join, resolve } from 'node:path'

const here = dirname(fileURLToPath(import.meta.url))

/** A helper script compiled next to this file (dist/children/<name>.js). */
export function childScript (name: string): string { return join(here, 'children', `${name}.js`) }

/** packages/bench/programs: the job profiles and programs the toolkit rows submit. */
export const programsDir = resolve(here, '..', 'programs')

/** The repository root (packages/bench/dist → ../../..). */
export const repoRoot = resolve(here, '..', '..', '..')
