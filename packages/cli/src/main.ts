import { Command, CommanderError } from 'commander'
import { printError } from './output.js'
import { commandsFor } from './commands/index.js'

const program = new Command()
program
  .name('mvm')
  .description('MVM toolkit: run parallel and grid jobs on a virtual laboratory of machines')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()

for (const register of await commandsFor(process.argv.slice(2))) register(program)

try {
  await program.parseAsync(process.argv)
} catch (err) {
  if (err instanceof CommanderError) {
    // commander already printed help or the usage error
    process.exitCode = err.exitCode
  } else {
    printError(err)
    process.exitCode = process.exitCode !== undefined && process.exitCode !== 0 ? process.exitCode : 1
  }
}
