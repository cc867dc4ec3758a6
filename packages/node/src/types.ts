import type { MonitoringReport } from '@mvm/wire'

/** Shared shapes of the node package (the public ones are re-exported by index.ts). */

export const Role = { bootstrap: 'bootstrap', superPeer: 'super-peer', peer: 'peer' } as const
export type Role = (typeof Role)[keyof typeof Role]
export const ROLES: readonly Role[] = [Role.bootstrap, Role.superPeer, Role.peer]
/** How a standby super-peer shows in its group (not a role a node is started with: see MvmNodeInit.standby). */
export const STANDBY_ROLE = 'standby-super-peer'

export const PeerState = { up: 'up', down: 'down', left: 'left' } as const
export type PeerState = (typeof PeerState)[keyof typeof PeerState]

/** What a node measures about itself: the wire's monitoring report, sent in every heartbeat. */
export type LoadReport = MonitoringReport

/** One member of a group as its super-peer sees it. */
export interface MemberInfo {
  peerId: string
  group: string
  roles: string[]
  state: PeerState
  labels: Record<string, string>
  soapUrl: string
  multiaddrs: string[]
  report: LoadReport
  /** Epoch ms of the last message from the member (or of the child report that carried it). */
  lastSeen: number
  /** Set for nodes known through a child group's report, not directly. */
  viaChild?: string
}

export interface PeerStateEvent {
  peerId: string
  group: string
  state: PeerState
  previous: PeerState | undefined
  reason: string
}

export type PeerStateListener = (e: PeerStateEvent) => void
