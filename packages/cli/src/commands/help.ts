import type { Command } from 'commander'
import { schemaFields } from '../help/schema-text.js'
import { TOPICS, type Topic } from '../help/topics.js'

/**
 * `mvm help [TOPIC | COMMAND...]`: the file formats (profile, topology, policy, node-config,
 * listed by `topics`) as man-style text generated from the schemas, or a command's help as
 * commander prints it. A topic wins over a command of the same name (policy): the text says so.
 */
export function register (program: Command): void {
  program.helpCommand(false)
  program.command('help')
    .description('help on a command, or on a file format: mvm help topics lists them')
    .argument('[topic...]', 'a file format (profile, topology, policy, node-config), topics, or a command')
    .action((words: string[]) => {
      if (words.length === 0) { program.outputHelp(); return }
      const topic = words.length === 1 ? TOPICS.find((t) => t.name === words[0]) : undefined
      if (topic !== undefined) { process.stdout.write(topicText(topic, program)); return }
      if (words.length === 1 && words[0] === 'topics') { process.stdout.write(topicList()); return }
      let cmd: Command | undefined = program
      for (const w of words) cmd = cmd?.commands.find((c) => c.name() === w || c.aliases().includes(w))
      if (cmd !== undefined) { cmd.outputHelp(); return }
      process.stderr.write(`mvm: no help topic or command "${words.join(' ')}"; topics: ${[...TOPICS.map((t) => t.name), 'topics'].join(', ')}; commands: ${program.commands.map((c) => c.name()).join(', ')}\n`)
      process.exitCode = 2
    })
}

function topicList (): string {
  const w = Math.max(...TOPICS.map((t) => t.name.length))
  return 'File formats (mvm help TOPIC):\n' + TOPICS.map((t) => `  ${t.name.padEnd(w)}  ${t.summary}`).join('\n') + '\n'
}

/** NAME / SYNOPSIS / FIELDS / EXAMPLE, as a man page reads. */
export function topicText (t: Topic, program?: Command): string {
  const fields = schemaFields(t.schema)
  const pw = Math.min(48, Math.max(...fields.map((f) => f.path.length)))
  const lines = fields.map((f) => {
    const notes = [f.required ? 'required' : 'optional', ...(f.default !== undefined ? [`default ${f.default}`] : [])].join(', ')
    return `  ${f.path.padEnd(pw)}  ${f.type}  [${notes}]`
  })
  const clash = program?.commands.some((c) => c.name() === t.name) === true ? `\nThe command of the same name: mvm ${t.name} --help\n` : ''
  return [
    'NAME',
    `  ${t.name} - ${t.kind} file: ${t.summary}`,
    '',
    'SYNOPSIS',
    `  YAML with apiVersion: mvm/v1, kind: ${t.kind}, metadata, optional params, spec.`,
    '  ${name} in any value is replaced by a param (declared under params, set with --param name=value).',
    '  Check a file with: mvm validate FILE',
    '',
    'FIELDS (path  type  [required/optional, default])',
    '  a.b: field b inside a; a[]: each item of list a; a.<name>: each entry of map a; a(shape=ring): when shape is ring',
    ...lines,
    '',
    'EXAMPLE',
    ...t.example.trimEnd().split('\n').map((l) => '  ' + l),
    ''
  ].join('\n') + clash
}
