import { join, resolve } from 'node:path'
import { componentLogger, silentLogger } from '@mvm/core'
import { composeHost, type MvmHost, type MvmHostInit } from './compose.js'
import { DEFAULTS, type MvmNodeInit } from './init.js'
import type { MvmNode } from './index.js'
import { locateSuperPeer } from './locator.js'
import { followReplica } from './replica.js'

/**
 * A standby super-peer: first a member of its group (role `standby-super-peer`, no broker)
 * that keeps a copy of the active broker's job store; when the active super-peer has been
 * silent for the monitoring bound (`missedHeartbeats` intervals) it stops that member and
 * starts again, same identity and data dir, as the group's super-peer. Its broker opens the
 * copied store and recovers it as after a restart (queued jobs are scheduled, jobs that were
 * running are requeued or restarted from their checkpoints per the fault-tolerance policy);
 * it registers with the bootstrap, whose newest registration for a group is the one members
 * and clients are sent to, and the peers rejoin it.
 */
export function composeStandby (init: MvmHostInit, create: (init: MvmNodeInit) => MvmNode): MvmHost {
  const log = componentLogger(init.logger ?? silentLogger(), 'standby')
  const heartbeatMs = init.monitoring?.heartbeatMs ?? DEFAULTS.heartbeatMs
  const missedHeartbeats = init.monitoring?.missedHeartbeats ?? DEFAULTS.missedHeartbeats
  let host = composeHost({ ...init, standby: true }, create)
  let life: AbortController | undefined
  let following: Promise<void> | undefined

  const takeOver = async (signal: AbortSignal): Promise<void> => {
    const member = host.node
    const followed = await followReplica({
      streams: member.streams,
      // a standby holding the bootstrap role itself asks its own service (the active one registers there)
      locate: async (s) => await locateSuperPeer(member.group, member.roles.includes('bootstrap') ? [member.soapUrl] : init.bootstrap ?? [], undefined, log, { signal: s }),
      file: join(resolve(init.dataDir), 'broker', 'broker.db'),
      heartbeatMs,
      missedHeartbeats,
      log,
      signal,
      onSnapshot: (version, bytes) => { log.debug({ version, bytes }, 'job store copied') }
    })
    log.warn({ silentMs: followed.silentMs, version: followed.version }, `the active super-peer of group ${member.group} stopped answering: taking the group over`)
    // same SOAP port: a client holding this node's URL keeps it
    const port = Number(new URL(member.soapUrl).port)
    // no Leave: the super-peer it would go to is gone
    await member.crash().catch(() => {})
    await host.stop().catch(() => {})
    signal.throwIfAborted()
    host = composeHost({ ...init, standby: false, soap: { ...init.soap, port } }, create)
    await host.start()
    log.info({ peerId: host.node.peerId, soapUrl: host.node.soapUrl }, `now the super-peer of group ${host.node.group}`)
    init.onTakeover?.(host.node)
  }

  return {
    get node () { return host.node },
    get superPeer () { return host.superPeer },
    get peer () { return host.peer },
    isStarted: () => host.isStarted(),
    async start () {
      if (life !== undefined) return
      await host.start()
      // a standby runs no ranks and no broker yet: policy pushes to the group are acknowledged
      // and dropped (the policies applied at run time come with the store it copies)
      host.node.control.handle('policyUpdate', () => undefined)
      const l = new AbortController()
      life = l
      following = takeOver(l.signal).catch((err: unknown) => {
        if (l.signal.aborted) return
        log.error({ err }, 'standby takeover failed')
        init.onTakeoverError?.(err)
      })
    },
    async stop () {
      life?.abort()
      await following
      life = undefined
      following = undefined
      await host.stop()
    }
  }
}
