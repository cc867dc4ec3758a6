import type { Command } from 'commander'
import { register as validate } from './validate.js'
import { register as topology } from './topology.js'
import { register as node } from './node.js'
import { register as nodes } from './nodes.js'
import { register as wsdl } from './wsdl.js'
import { register as submit } from './submit.js'
import { register as jobs } from './jobs.js'
import { register as lab } from './lab.js'
import { register as logs } from './logs.js'
import { register as policy } from './policy.js'
import { register as history } from './history.js'
import { register as help } from './help.js'
import { register as completion } from './completion.js'
import { register as data } from './data.js'
import { register as sim } from './sim.js'
import { register as reserve } from './reserve.js'
import { register as user } from './user.js'
import { register as audit } from './audit.js'
import { register as cert } from './cert.js'
import { register as resize } from './resize.js'

/** Each command lives in its own module and registers itself on the program. */
export type RegisterCommand = (program: Command) => void

export const commands: RegisterCommand[] = [validate, topology, node, nodes, wsdl, submit, jobs, resize, history, lab, sim, policy, reserve, logs, data, user, audit, cert, completion, help]
