import type { Command } from 'commander'
import { register as validate } from './validate.js'

/** Each command lives in its own module and registers itself on the program. */
export type RegisterCommand = (program: Command) => void

export const commands: RegisterCommand[] = [validate]
import { register as topology } from './topology.js'; commands.push(topology)
import { register as wsdl } from './wsdl.js'; commands.push(wsdl)
import { register as node } from './node.js'; commands.push(node)
import { register as nodes } from './nodes.js'; commands.push(nodes)
