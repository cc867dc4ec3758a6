// The CLI loads only the module of the command a run names (packages/cli/src/commands/index.ts);
// its table of command words must match what each module registers, or a command would be
// unknown when named on its own.
import t from 'tap'
import { Command } from 'commander'
import { COMMAND_MODULES, commandsFor } from '../packages/cli/src/commands/index.js'
import { runMvm } from './lib/nodes.js'

t.test('each module registers exactly the command words the table lists for it', async (t) => {
  const seen = new Set<string>()
  for (const [words, load] of COMMAND_MODULES) {
    const program = new Command()
    ;(await load()).register(program)
    const names = program.commands.map((c) => c.name()).filter((n) => n !== 'help' || words.includes('help'))
    t.same([...names].sort(), [...words].sort(), `module of ${words[0]!}`)
    for (const w of words) { t.notOk(seen.has(w), `${w} is listed once`); seen.add(w) }
  }
})

t.test('a named command loads one module; help, completion and unknown words load all', async (t) => {
  t.equal((await commandsFor(['status', 'j1'])).length, 1)
  t.equal((await commandsFor(['nodes', '--json'])).length, 1)
  for (const args of [[], ['--help'], ['help', 'jobs'], ['completion', 'bash'], ['subimt']]) {
    t.equal((await commandsFor(args)).length, COMMAND_MODULES.length, `all for ${JSON.stringify(args)}`)
  }
})

t.test('the real CLI: a lone command works, a typo still gets a suggestion', async (t) => {
  const typo = await runMvm(['subimt'])
  t.not(typo.code, 0)
  t.match(typo.stderr, /Did you mean submit\?/)
  const help = await runMvm(['hold', '--help'])
  t.equal(help.code, 0, help.stderr)
  t.match(help.stdout, /Usage: mvm hold/)
})
