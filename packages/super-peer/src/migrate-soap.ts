import { BadRequestError, type Logger } from '@mvm/core'
import type { Broker, Job } from '@mvm/broker'
import type { BrokerHandlers, JobInfo } from '@mvm/soap'
import { Migrations, type MigrationMember } from './migrate.js'
import { Drains } from './drain.js'

/** Broker setting: the drained nodes (JSON array of peer IDs). */
const DRAINED_KEY = 'drained-nodes'

export interface MovingInit {
  broker: Broker
  requestCut: (jobId: string, peerId: string) => Promise<void>
  members: (all?: boolean) => MigrationMember[]
  group: () => string
  info: (job: Job) => JobInfo
  log: Logger
}

export interface Moving {
  migrations: Migrations
  drains: Drains
  /** MigrateRank, DrainNode, ResumeNode, unauthorized (the caller wraps them per the policy). */
  handlers: Required<Pick<BrokerHandlers, 'MigrateRank' | 'DrainNode' | 'ResumeNode'>>
}

/** Migration and drain for a started broker, with their SOAP operations. */
export function startMoving (init: MovingInit): Moving {
  const migrations = new Migrations({ broker: init.broker, requestCut: init.requestCut, members: init.members, group: init.group, log: init.log })
  const drains = new Drains({
    broker: init.broker,
    migrations,
    load: () => init.broker.setting(DRAINED_KEY),
    save: (json) => { init.broker.putSetting(DRAINED_KEY, json) },
    log: init.log
  })
  drains.start()
  return {
    migrations,
    drains,
    handlers: {
      async MigrateRank ({ jobId, rank, node }) {
        if (typeof rank !== 'number') throw new BadRequestError('MigrateRank: rank must be an integer')
        const job = await migrations.migrate(jobId, rank, node)
        await init.broker.flush()
        return init.info(init.broker.get(job.id))
      },
      async DrainNode ({ node }) { return drains.drain(node) },
      async ResumeNode ({ node }) { return drains.undrain(node) }
    }
  }
}
