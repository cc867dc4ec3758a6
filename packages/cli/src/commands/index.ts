import type { Command } from 'commander'

/** Each command lives in its own module and registers itself on the program. */
export type RegisterCommand = (program: Command) => void

type Load = () => Promise<{ register: RegisterCommand }>

/**
 * Every command module, in help order, with the top-level command words it registers.
 * A run names one command, so only that module (and what it imports) is loaded: a CLI call
 * then skips libp2p, SQLite, zod schemas and the like unless it needs them. A word missing
 * here only costs speed (everything loads); test/cli-commands checks the table is complete.
 */
export const COMMAND_MODULES: ReadonlyArray<readonly [readonly string[], Load]> = [
  [['validate'], async () => await import('./validate.js')],
  [['topology'], async () => await import('./topology.js')],
  [['node'], async () => await import('./node.js')],
  [['nodes'], async () => await import('./nodes.js')],
  [['wsdl'], async () => await import('./wsdl.js')],
  [['submit'], async () => await import('./submit.js')],
  [['jobs', 'status', 'result', 'cancel', 'release', 'hold', 'checkpoint', 'requeue'], async () => await import('./jobs.js')],
  [['resize'], async () => await import('./resize.js')],
  [['migrate', 'drain', 'undrain'], async () => await import('./moving.js')],
  [['history'], async () => await import('./history.js')],
  [['lab'], async () => await import('./lab.js')],
  [['sim'], async () => await import('./sim.js')],
  [['policy'], async () => await import('./policy.js')],
  [['reserve'], async () => await import('./reserve.js')],
  [['logs'], async () => await import('./logs.js')],
  [['data'], async () => await import('./data.js')],
  [['user', 'token'], async () => await import('./user.js')],
  [['audit'], async () => await import('./audit.js')],
  [['cert'], async () => await import('./cert.js')],
  [['completion'], async () => await import('./completion.js')],
  [['help'], async () => await import('./help.js')]
]

/**
 * The registrations a run needs: the module of the command word in `args[0]`, or all of them
 * (help, completion, a typo that deserves a suggestion, no command at all).
 */
export async function commandsFor (args: readonly string[]): Promise<RegisterCommand[]> {
  const word = args[0]
  const needsAll = word === undefined || word === 'help' || word === 'completion' || word.startsWith('-')
  const one = needsAll ? undefined : COMMAND_MODULES.find(([words]) => words.includes(word))
  const chosen = one === undefined ? COMMAND_MODULES : [one]
  return (await Promise.all(chosen.map(async ([, load]) => await load()))).map((m) => m.register)
}
